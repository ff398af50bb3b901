import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tocsin.errors import ValidationFailed
from tocsin.preferences import (
    QuietHours,
    builtin_defaults,
    effective,
    in_quiet_hours,
    is_critical,
    merge_overrides,
    parse_overrides,
    quiet_hours_end,
    to_json,
    wants,
)

PARIS = "Europe/Paris"
NIGHT = {"start": "20:00", "end": "08:00"}

# The effective document of the issue 17 contract with nothing overridden.
CONTRACT_DEFAULTS: dict[str, Any] = {
    "events": {
        "email-received": {"browser": True, "push": True, "email": False},
        "dossier-updated": {"browser": False, "push": False, "email": False},
        "deadline-alert": {"browser": False, "push": True, "email": True},
        "system-notification": {"browser": False, "push": False, "email": False},
    },
    "quietHours": None,
    "digest": {"email": "off", "at": "08:00", "timezone": PARIS},
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def quiet(start: str, end: str, days: list[int] | None = None, zone: str = PARIS) -> QuietHours:
    return QuietHours(
        timezone=zone,
        start=start,
        end=end,
        days=days if days is not None else [1, 2, 3, 4, 5, 6, 7],
    )


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"events": {"deadline-alert": {"push": "yes"}}}, "events.deadline-alert.push"),
        ({"events": {"deadline-alert": {"push": 1}}}, "events.deadline-alert.push"),
        ({"events": {"email-received": {"push": None}}}, "events.email-received.push"),
        ({"events": {"deadline-alert": {"sms": True}}}, "events.deadline-alert.sms"),
        ({"events": {"deadline-alrt": {"push": True}}}, "events.deadline-alrt"),
        ({"events": {"system-notification": None}}, "events.system-notification"),
        ({"events": []}, "events"),
        ({"quietHour": None}, "quietHour"),
        ({"quietHours": {"start": "20:00"}}, "quietHours.end"),
        ({"quietHours": {"start": "20:00", "end": "20:00"}}, "quietHours.end"),
        ({"quietHours": {"start": "8:00", "end": "20:00"}}, "quietHours.start"),
        ({"quietHours": {"start": "24:00", "end": "20:00"}}, "quietHours.start"),
        ({"quietHours": {"start": "20:00\n", "end": "08:00"}}, "quietHours.start"),
        ({"quietHours": {**NIGHT, "days": []}}, "quietHours.days"),
        ({"quietHours": {**NIGHT, "days": [1, 1]}}, "quietHours.days"),
        ({"quietHours": {**NIGHT, "days": [1, 8]}}, "quietHours.days.1"),
        ({"quietHours": {**NIGHT, "days": ["1"]}}, "quietHours.days.0"),
        (
            {"quietHours": {**NIGHT, "days": list(range(1, 9))}},
            "quietHours.days",
        ),
        (
            {"quietHours": {**NIGHT, "timezone": "Mars/Olympus"}},
            "quietHours.timezone",
        ),
        ({"quietHours": {**NIGHT, "extra": 1}}, "quietHours.extra"),
        ({"digest": {"email": "weekly"}}, "digest.email"),
        ({"digest": {"at": "08:00:00"}}, "digest.at"),
        ({"digest": {"timezone": "../../etc/passwd"}}, "digest.timezone"),
        ({"digest": {"timezone": "Europe/Paris\n"}}, "digest.timezone"),
        ({"digest": {"timezone": "A" * 65}}, "digest.timezone"),
        ({"digest": None}, "digest"),
        ([], "body"),
        ("events", "body"),
        (None, "body"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(raw: object, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_overrides(raw)
    error = caught.value
    assert error.status == 422
    assert error.field == field
    assert error.message.startswith(f"{error.field}: ")
    assert error.details[0]["field"] == error.field


def test_every_bad_field_is_listed_up_to_a_bound() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_overrides({"digest": {"email": "weekly", "at": "noon"}})
    assert [d["field"] for d in caught.value.details] == ["digest.email", "digest.at"]

    with pytest.raises(ValidationFailed) as caught:
        parse_overrides({f"typo{i}": True for i in range(500)})
    assert len(caught.value.details) == 10


def test_a_huge_unknown_key_is_not_echoed_whole() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_overrides({"x" * 10_000: True})
    assert caught.value.field is not None and len(caught.value.field) <= 64


def test_unknown_time_zone_is_named_in_the_message() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_overrides({"digest": {"timezone": "Europe/Pariss"}})
    assert caught.value.field == "digest.timezone"
    assert "Europe/Pariss" in caught.value.message


# --- normalised overrides -----------------------------------------------------------------


def test_parse_keeps_only_what_was_given() -> None:
    raw = {
        "events": {"deadline-alert": {"push": False}, "email-received": {}},
        "digest": {},
    }
    assert parse_overrides(raw) == {"events": {"deadline-alert": {"push": False}}}
    assert parse_overrides({}) == {}


def test_null_quiet_hours_is_kept_distinct_from_absent() -> None:
    assert parse_overrides({"quietHours": None}) == {"quietHours": None}
    assert "quietHours" not in parse_overrides({"digest": {"email": "daily"}})


def test_quiet_hours_are_normalised_and_json_able() -> None:
    parsed = parse_overrides({"quietHours": {**NIGHT, "days": [7, 1, 3], "timezone": None}})
    assert parsed == {"quietHours": {**NIGHT, "days": [1, 3, 7]}}
    assert json.loads(json.dumps(parsed)) == parsed


def test_a_full_document_round_trips() -> None:
    document = to_json(effective(None, None, PARIS))
    assert parse_overrides(document) == document


# --- defaults and merge ------------------------------------------------------------------


def test_defaults_are_the_contracts() -> None:
    assert to_json(effective(None, None, PARIS)) == CONTRACT_DEFAULTS
    assert list(to_json(effective(None, None, PARIS))["events"]) == list(
        CONTRACT_DEFAULTS["events"]
    )
    assert builtin_defaults("America/New_York")["digest"]["timezone"] == "America/New_York"


def test_user_beats_tenant_beats_builtin() -> None:
    tenant = parse_overrides(
        {
            "events": {"deadline-alert": {"push": False, "email": False}},
            "digest": {"email": "daily"},
        }
    )
    user = parse_overrides(
        {"events": {"deadline-alert": {"push": True}}, "digest": {"at": "07:30"}}
    )
    prefs = to_json(effective(tenant, user, PARIS))
    assert prefs["events"]["deadline-alert"] == {"browser": False, "push": True, "email": False}
    assert prefs["events"]["email-received"] == CONTRACT_DEFAULTS["events"]["email-received"]
    assert prefs["digest"] == {"email": "daily", "at": "07:30", "timezone": PARIS}


def test_quiet_hours_null_from_the_user_removes_the_tenants() -> None:
    tenant = parse_overrides(
        {"quietHours": {"timezone": "Europe/London", "start": "19:00", "end": "07:00"}}
    )
    inherited = effective(tenant, {}, PARIS).quietHours
    assert inherited == QuietHours(
        timezone="Europe/London", start="19:00", end="07:00", days=[1, 2, 3, 4, 5, 6, 7]
    )
    assert effective(tenant, parse_overrides({"quietHours": None}), PARIS).quietHours is None


def test_quiet_hours_are_replaced_whole_and_take_the_given_zone() -> None:
    tenant = parse_overrides(
        {"quietHours": {"timezone": "Europe/London", "start": "19:00", "end": "07:00"}}
    )
    user = parse_overrides({"quietHours": {"start": "21:00", "end": "06:00", "days": [1, 2]}})
    assert effective(tenant, user, "America/Montreal").quietHours == QuietHours(
        timezone="America/Montreal", start="21:00", end="06:00", days=[1, 2]
    )


def test_merge_overrides_applies_a_partial_put_without_changing_its_inputs() -> None:
    stored = parse_overrides(
        {
            "events": {"deadline-alert": {"push": False}},
            "quietHours": {"start": "20:00", "end": "08:00"},
        }
    )
    patch = parse_overrides({"events": {"deadline-alert": {"email": False}}, "quietHours": None})
    before = json.dumps([stored, patch])
    assert merge_overrides(stored, patch) == {
        "events": {"deadline-alert": {"push": False, "email": False}},
        "quietHours": None,
    }
    assert json.dumps([stored, patch]) == before
    assert merge_overrides(None, None) == {}


def test_an_invalid_stored_override_is_refused_by_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        effective({"events": {"deadline-alert": {"push": "no"}}}, None, PARIS)
    assert caught.value.field == "events.deadline-alert.push"
    with pytest.raises(ValidationFailed) as caught:
        effective(None, None, "Nowhere/Town")
    assert caught.value.field == "digest.timezone"


# --- critical ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "fields", "critical"),
    [
        ("deadline-alert", {"urgency": "critical"}, True),
        ("deadline-alert", {"urgency": "urgent"}, False),
        ("system-notification", {"type": "error"}, True),
        ("system-notification", {"type": "warning"}, False),
        ("email-received", {"critical": True}, True),
        ("email-received", {"critical": "true"}, False),
        ("email-received", {"urgency": "critical", "type": "error"}, False),
        ("dossier-updated", {}, False),
        ("deadline-alert", {"urgency": "info", "critical": True}, True),
    ],
)
def test_is_critical(event: str, fields: dict[str, Any], critical: bool) -> None:
    assert is_critical(event, fields) is critical


# --- quiet hours -------------------------------------------------------------------------


def test_no_quiet_hours_is_never_quiet() -> None:
    assert not in_quiet_hours(None, at("2026-03-04T23:00+01:00"))
    assert quiet_hours_end(None, at("2026-03-04T23:00+01:00")) is None


def test_a_period_within_a_day_includes_its_start_not_its_end() -> None:
    lunch = quiet("12:00", "14:00", days=[3])  # Wednesdays
    assert not in_quiet_hours(lunch, at("2026-03-04T11:59+01:00"))
    assert in_quiet_hours(lunch, at("2026-03-04T12:00+01:00"))
    assert quiet_hours_end(lunch, at("2026-03-04T13:59+01:00")) == at("2026-03-04T13:00Z")
    assert not in_quiet_hours(lunch, at("2026-03-04T14:00+01:00"))
    assert not in_quiet_hours(lunch, at("2026-03-05T12:30+01:00"))  # Thursday


def test_across_midnight_the_day_the_period_started_counts() -> None:
    friday_nights = quiet("20:00", "08:00", days=[5])
    # 2026-03-06 is a Friday.
    assert in_quiet_hours(friday_nights, at("2026-03-06T21:00+01:00"))
    assert in_quiet_hours(friday_nights, at("2026-03-07T07:59+01:00"))  # Saturday morning
    assert not in_quiet_hours(friday_nights, at("2026-03-07T08:00+01:00"))
    assert not in_quiet_hours(friday_nights, at("2026-03-07T21:00+01:00"))  # Saturday night
    assert not in_quiet_hours(friday_nights, at("2026-03-06T07:00+01:00"))  # Thursday's night
    assert not in_quiet_hours(friday_nights, at("2026-03-06T19:59+01:00"))
    end = quiet_hours_end(friday_nights, at("2026-03-06T23:30+01:00"))
    assert end == at("2026-03-07T08:00+01:00")
    assert end is not None and end.tzinfo is UTC


def test_quiet_hours_are_read_in_their_own_zone() -> None:
    nights = quiet("22:00", "07:00", zone="America/New_York")
    assert in_quiet_hours(nights, at("2026-03-04T04:00Z"))  # 23:00 in New York
    assert not in_quiet_hours(nights, at("2026-03-04T21:00Z"))  # 16:00 there, 22:00 in Paris
    naive_utc = datetime(2026, 3, 4, 4, 0)
    assert in_quiet_hours(nights, naive_utc)


def test_spring_forward_night_in_paris_is_an_hour_shorter() -> None:
    # 2026-03-29 (a Sunday) at 02:00 CET the clocks jump to 03:00 CEST.
    nights = quiet("22:00", "07:00", days=[6])  # Saturday nights
    assert quiet_hours_end(nights, at("2026-03-28T22:00+01:00")) == at("2026-03-29T05:00Z")
    assert in_quiet_hours(nights, at("2026-03-29T06:59+02:00"))
    assert not in_quiet_hours(nights, at("2026-03-29T07:00+02:00"))


def test_fall_back_night_in_paris_is_an_hour_longer() -> None:
    # 2026-10-25 (a Sunday) at 03:00 CEST the clocks go back to 02:00 CET.
    nights = quiet("22:00", "07:00", days=[6])
    assert quiet_hours_end(nights, at("2026-10-24T22:00+02:00")) == at("2026-10-25T06:00Z")
    assert in_quiet_hours(nights, at("2026-10-25T06:59+01:00"))
    assert not in_quiet_hours(nights, at("2026-10-25T07:00+01:00"))


def test_an_end_the_clock_skips_is_the_jump() -> None:
    early = quiet("01:00", "02:30", days=[7])  # 02:30 does not exist on 2026-03-29 in Paris
    assert quiet_hours_end(early, at("2026-03-29T01:30+01:00")) == at("2026-03-29T01:00Z")
    assert in_quiet_hours(early, at("2026-03-29T00:59:59Z"))
    assert not in_quiet_hours(early, at("2026-03-29T03:00+02:00"))  # the jump itself


def test_a_start_the_clock_skips_is_the_jump() -> None:
    late = quiet("02:30", "06:00", days=[7])
    assert not in_quiet_hours(late, at("2026-03-29T01:59:59+01:00"))
    assert in_quiet_hours(late, at("2026-03-29T03:00+02:00"))
    assert quiet_hours_end(late, at("2026-03-29T03:00+02:00")) == at("2026-03-29T06:00+02:00")


def test_a_repeated_hour_ends_quiet_at_its_first_pass() -> None:
    # On 2026-10-25 the wall clock shows 02:00-03:00 twice; quiet ends at the first 02:30.
    night = quiet("00:00", "02:30", days=[7])
    assert quiet_hours_end(night, at("2026-10-25T02:15+02:00")) == at("2026-10-25T00:30Z")
    assert not in_quiet_hours(night, at("2026-10-25T02:15+01:00"))  # second pass


def test_quiet_hours_end_is_the_first_moment_not_quiet_all_through_dst_weekends() -> None:
    nights = quiet("22:00", "07:00")
    early = quiet("01:00", "02:30")
    for first in (at("2026-03-27T12:00Z"), at("2026-10-23T12:00Z")):
        for rule in (nights, early):
            moment = first
            while moment < first + timedelta(days=3):
                end = quiet_hours_end(rule, moment)
                if end is not None:
                    assert end > moment
                    assert in_quiet_hours(rule, end - timedelta(seconds=1))
                    assert not in_quiet_hours(rule, end)
                moment += timedelta(minutes=5)


# --- wants -------------------------------------------------------------------------------


def test_wants_follows_the_channel_and_quiet_hours() -> None:
    prefs = effective(None, {"quietHours": {"start": "20:00", "end": "08:00"}}, PARIS)
    day, night = at("2026-03-04T10:00+01:00"), at("2026-03-04T23:00+01:00")
    assert wants(prefs, "email-received", "browser", critical=False, now=day)
    assert not wants(prefs, "email-received", "email", critical=False, now=day)
    assert not wants(prefs, "email-received", "browser", critical=False, now=night)
    assert wants(prefs, "deadline-alert", "push", critical=False, now=day)
    assert not wants(prefs, "deadline-alert", "push", critical=False, now=night)


def test_critical_ignores_mutes_and_quiet_hours() -> None:
    muted = {"events": {"system-notification": {"browser": False, "push": False, "email": False}}}
    prefs = effective(None, {**muted, "quietHours": {"start": "20:00", "end": "08:00"}}, PARIS)
    night = at("2026-03-04T23:00+01:00")
    for channel in ("browser", "push", "email"):
        assert wants(prefs, "system-notification", channel, critical=True, now=night)
        assert not wants(prefs, "system-notification", channel, critical=False, now=night)


def test_wants_refuses_unknown_events_and_channels() -> None:
    prefs = effective(None, None, PARIS)
    now = at("2026-03-04T10:00+01:00")
    with pytest.raises(ValueError, match="unknown event"):
        wants(prefs, "clients-count", "push", critical=False, now=now)
    with pytest.raises(ValueError, match="unknown channel"):
        wants(prefs, "email-received", "inbox", critical=True, now=now)  # type: ignore[arg-type]
