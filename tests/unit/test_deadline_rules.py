from datetime import UTC, date, datetime, timedelta

import pytest

from tocsin.deadlines.rules import Tiers, due_date_of, evaluate
from tocsin.deadlines.scheduler import next_daily_run
from tocsin.store.base import DeadlineRecord

PARIS = "Europe/Paris"
TIERS = Tiers()


def deadline(due: date, *, status: str = "open", zone: str | None = None) -> DeadlineRecord:
    return DeadlineRecord(
        "firm-a",
        "d1",
        "alice",
        "D-1",
        "OQTF",
        due,
        due.isoformat(),
        zone,
        status,
        None,
        datetime.now(UTC),
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("now", "remaining", "urgency", "message"),
    [
        ("2026-03-06T09:00+01:00", 4, None, None),
        ("2026-03-07T09:00+01:00", 3, "warning", "Délai OQTF expire dans 3 jours"),
        ("2026-03-08T09:00+01:00", 2, "urgent", "Délai OQTF expire dans 2 jours"),
        ("2026-03-09T09:00+01:00", 1, "critical", "Délai OQTF expire dans 1 jour"),
        ("2026-03-10T09:00+01:00", 0, "critical", "Délai OQTF expire aujourd'hui"),
        ("2026-03-12T09:00+01:00", -2, "critical", "Délai OQTF expiré depuis 2 jours"),
    ],
)
def test_tiers(now: str, remaining: int, urgency: str | None, message: str | None) -> None:
    alert = evaluate(deadline(date(2026, 3, 10)), at(now), PARIS, TIERS)
    if urgency is None:
        assert alert is None
        return
    assert alert is not None
    assert (alert.remaining_days, alert.urgency, alert.message) == (remaining, urgency, message)


def test_once_per_day_keys_and_once_ever_when_past() -> None:
    due = deadline(date(2026, 3, 10))
    morning = evaluate(due, at("2026-03-08T08:00+01:00"), PARIS, TIERS)
    evening = evaluate(due, at("2026-03-08T22:00+01:00"), PARIS, TIERS)
    tomorrow = evaluate(due, at("2026-03-09T08:00+01:00"), PARIS, TIERS)
    assert morning and evening and tomorrow
    assert morning.key == evening.key == "deadline:d1:2026-03-10:2026-03-08"
    assert tomorrow.key != morning.key
    late = [evaluate(due, at(f"2026-03-{d}T09:00+01:00"), PARIS, TIERS) for d in (11, 15, 28)]
    assert {a.key for a in late if a} == {"deadline:d1:2026-03-10:expired"}


def test_closed_never_alerts() -> None:
    assert (
        evaluate(
            deadline(date(2026, 3, 10), status="closed"), at("2026-03-10T09:00+01:00"), PARIS, TIERS
        )
        is None
    )


def test_a_dst_week_counts_calendar_days() -> None:
    # Europe/Paris leaves summer time on 2026-10-25 at 03:00 (→ 02:00): that day has 25 h.
    due = deadline(date(2026, 10, 27))
    expected = {
        "2026-10-24T00:30+02:00": 3,
        "2026-10-24T23:59+02:00": 3,
        "2026-10-25T00:30+02:00": 2,  # the example of the design note
        "2026-10-25T23:30+01:00": 2,
        "2026-10-26T00:10+01:00": 1,
        "2026-10-27T23:59+01:00": 0,
        "2026-10-28T00:00+01:00": -1,
    }
    for now, remaining in expected.items():
        alert = evaluate(due, at(now), PARIS, TIERS)
        assert alert is not None and alert.remaining_days == remaining, now
        # A naive count in 24 h steps from UTC gets some of these wrong.
    utc_naive = (datetime(2026, 10, 27, tzinfo=UTC) - at("2026-10-25T23:30+01:00")).days
    assert utc_naive != 2


def test_time_zone_of_the_deadline_wins() -> None:
    due = deadline(date(2026, 3, 10), zone="America/New_York")
    # 03:00 in Paris is still the 8th in New York: 2 days left there, not 1.
    alert = evaluate(due, at("2026-03-09T03:00+01:00"), PARIS, TIERS)
    assert alert is not None and alert.remaining_days == 2


def test_due_datetimes_are_placed_in_the_zone() -> None:
    late_evening = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)  # 00:30 on the 26th in Paris
    assert due_date_of(late_evening, PARIS) == date(2026, 10, 26)
    assert due_date_of(datetime(2026, 10, 25, 23, 30), PARIS) == date(2026, 10, 25)
    assert due_date_of(date(2026, 1, 2), PARIS) == date(2026, 1, 2)


def test_english_and_configurable_tiers() -> None:
    tiers = Tiers(window=7, critical=2, urgent=5)
    alert = evaluate(deadline(date(2026, 3, 10)), at("2026-03-05T09:00+01:00"), PARIS, tiers, "en")
    assert alert is not None
    assert (alert.urgency, alert.message) == ("urgent", "OQTF deadline expires in 5 days")


def test_next_daily_run_across_dst() -> None:
    before = at("2026-10-24T10:00+02:00")
    run = next_daily_run(before, "09:00", PARIS)
    assert run.isoformat() == "2026-10-25T09:00:00+01:00"
    assert run - before == timedelta(hours=24)  # a 25-hour day: still 09:00 on the clock
    assert next_daily_run(at("2026-10-24T08:59+02:00"), "09:00", PARIS).day == 24
    assert next_daily_run(datetime(2026, 1, 1, 8, 30, tzinfo=UTC), "09:00", PARIS).hour == 9
