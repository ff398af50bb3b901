"""Notification preferences (DESIGN §7, §8): the document, its overrides, and the decisions.

Pure functions, no store and no I/O. A tenant and a user each keep an *overrides* document
(only what they changed, :func:`parse_overrides`); what applies is the *effective* document,
built-in defaults ⊕ tenant ⊕ user (:func:`effective`). The inbox itself is never muted:
preferences decide browser notifications, push and e-mail (:func:`wants`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    with_config,
)
from typing_extensions import TypedDict

from tocsin.errors import ValidationFailed
from tocsin.models import (
    DEADLINE_ALERT,
    DOSSIER_UPDATED,
    EMAIL_RECEIVED,
    NOTIFICATION_EVENTS,
    SYSTEM_NOTIFICATION,
    EventName,
    utc_moment,
)

Channel = Literal["browser", "push", "email"]
CHANNELS: tuple[Channel, ...] = ("browser", "push", "email")
ALL_DAYS = (1, 2, 3, 4, 5, 6, 7)
MAX_TEXT = 64
MAX_ERRORS = 10  # details listed in one 422; a body of many typos needs no more

_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")
_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _known_zone(value: str) -> str:
    # The character check keeps odd strings (paths, NUL) away from the file system.
    if not _ZONE_NAME.fullmatch(value):
        raise ValueError("not a time zone name (e.g. Europe/Paris)")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris)") from None
    return value


def _time_of_day(value: str) -> str:
    if not _TIME_OF_DAY.fullmatch(value):
        raise ValueError("a 24-hour time HH:MM, 00:00 to 23:59 (e.g. 08:00)")
    return value


def _distinct_days(value: list[int]) -> list[int]:
    if len(set(value)) != len(value):
        raise ValueError("each day at most once")
    return sorted(value)


Zone = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_known_zone)
]
TimeOfDay = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(_time_of_day)]
Weekday = Annotated[int, Field(ge=1, le=7)]  # ISO: Monday is 1
Days = Annotated[list[Weekday], Field(min_length=1, max_length=7), AfterValidator(_distinct_days)]
DigestEmail = Literal["off", "daily"]

# Strict: a JSON body is already typed, so "yes" or 1 for a boolean is a typo, not a value.
_STRICT = ConfigDict(extra="forbid", strict=True, str_max_length=MAX_TEXT)


class _Wire(BaseModel):
    model_config = ConfigDict(**_STRICT, frozen=True)


class ChannelChoice(_Wire):
    """Whether one event reaches the browser (notification), push and e-mail channels."""

    browser: bool
    push: bool
    email: bool

    def allows(self, channel: Channel) -> bool:
        """This channel's choice; raises ``ValueError`` for a channel that is not one."""
        if channel == "browser":
            return self.browser
        if channel == "push":
            return self.push
        if channel == "email":
            return self.email
        raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")


class _QuietFields(_Wire):
    @field_validator("end", check_fields=False)
    @classmethod
    def _not_empty(cls, value: str, info: ValidationInfo) -> str:
        """Refuse ``end == start``: neither "never" nor "always" is a clear reading."""
        if info.data.get("start") == value:
            raise ValueError("must differ from start")
        return value


class QuietHours(_QuietFields):
    """Quiet hours, wall-clock in ``timezone``; ``start > end`` spans midnight.

    ``days`` are ISO weekdays (Monday = 1) on which a quiet period *starts*.
    """

    timezone: Zone
    start: TimeOfDay
    end: TimeOfDay
    days: Days


class QuietHoursOverride(_QuietFields):
    """Quiet hours as stored: ``timezone`` defaults to the server's (or the user's) zone,
    ``days`` to every day."""

    timezone: Zone | None = None
    start: TimeOfDay
    end: TimeOfDay
    days: Days | None = None


class Digest(_Wire):
    """The daily e-mail digest: ``off`` or ``daily`` at ``at`` in ``timezone``."""

    email: DigestEmail
    at: TimeOfDay
    timezone: Zone


class Preferences(_Wire):
    """The effective preferences document, as ``GET /api/v1/preferences`` answers it."""

    events: dict[EventName, ChannelChoice]
    quietHours: QuietHours | None
    digest: Digest

    @field_validator("events")
    @classmethod
    def _every_event(cls, value: dict[EventName, ChannelChoice]) -> dict[EventName, ChannelChoice]:
        """Require all four events, in the contract's order."""
        missing = [event for event in NOTIFICATION_EVENTS if event not in value]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        return {event: value[event] for event in cast("tuple[EventName, ...]", NOTIFICATION_EVENTS)}


@with_config(_STRICT)
class ChannelOverrides(TypedDict, total=False):
    """An event's channels, each optional."""

    browser: bool
    push: bool
    email: bool


@with_config(_STRICT)
class DigestOverrides(TypedDict, total=False):
    """The digest's fields, each optional."""

    email: DigestEmail
    at: TimeOfDay
    timezone: Zone


@with_config(_STRICT)
class Overrides(TypedDict, total=False):
    """What a tenant or a user changed. ``quietHours`` is replaced whole; ``None`` (given)
    means "no quiet hours", unlike an absent key, which inherits."""

    events: dict[EventName, ChannelOverrides]
    quietHours: QuietHoursOverride | None
    digest: DigestOverrides


_overrides = TypeAdapter(Overrides)


def _failed(exc: ValidationError) -> ValidationFailed:
    # Not errors.from_pydantic: it drops event names ("deadline-alert") from paths, taking
    # them for union tags, and here they are the path.
    details = []
    for err in exc.errors(include_url=False, include_input=False)[:MAX_ERRORS]:
        parts = [_path_part(part) for part in err["loc"] if part != "[key]"]
        message = str(err["msg"]).removeprefix("Value error, ")
        details.append({"field": ".".join(parts) or "body", "message": message})
    first = details[0]
    return ValidationFailed(
        f"{first['field']}: {first['message']}", field=first["field"], details=details
    )


def _path_part(part: str | int) -> str:
    # An unknown key is echoed in the error: keep a huge one from filling the answer.
    text = str(part)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def parse_overrides(raw: object) -> dict[str, Any]:
    """Validate a partial preferences document (a PUT body) and return it normalised.

    The result holds only what was given, as JSON-able values (days sorted); an explicit
    ``"quietHours": null`` is kept. Raises :class:`ValidationFailed` naming the first bad
    field by its path, e.g. ``events.deadline-alert.push`` (``body`` when ``raw`` is not
    an object).
    """
    try:
        parsed = _overrides.validate_python(raw)
    except ValidationError as exc:
        raise _failed(exc) from None
    result: dict[str, Any] = {}
    events = {name: dict(choice) for name, choice in parsed.get("events", {}).items() if choice}
    if events:
        result["events"] = events
    if "quietHours" in parsed:
        quiet = parsed["quietHours"]
        result["quietHours"] = None if quiet is None else quiet.model_dump(exclude_none=True)
    digest = dict(parsed.get("digest", {}))
    if digest:
        result["digest"] = digest
    return result


def merge_overrides(
    base: Mapping[str, Any] | None, patch: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Deep-merge ``patch`` over ``base`` (neither is changed): what ``patch`` gives wins.

    ``quietHours`` is replaced whole (``None`` included). Use it to apply a partial PUT
    to stored overrides, as :func:`effective` does to layer them.
    """
    result = copy.deepcopy(dict(base or {}))
    for key, value in (patch or {}).items():
        current = result.get(key)
        if key != "quietHours" and isinstance(value, Mapping) and isinstance(current, Mapping):
            result[key] = merge_overrides(current, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def builtin_defaults(timezone: str) -> dict[str, Any]:
    """The contract's defaults (the seed's browser policy), with ``timezone`` for the digest.

    E-mails notify in the browser and by push; deadline alerts by push and e-mail; no quiet
    hours; no digest.
    """
    return {
        "events": {
            EMAIL_RECEIVED: {"browser": True, "push": True, "email": False},
            DOSSIER_UPDATED: {"browser": False, "push": False, "email": False},
            DEADLINE_ALERT: {"browser": False, "push": True, "email": True},
            SYSTEM_NOTIFICATION: {"browser": False, "push": False, "email": False},
        },
        "quietHours": None,
        "digest": {"email": "off", "at": "08:00", "timezone": timezone},
    }


def effective(
    tenant_overrides: Mapping[str, Any] | None,
    user_overrides: Mapping[str, Any] | None,
    timezone: str,
) -> Preferences:
    """The preferences that apply: built-in defaults ⊕ tenant ⊕ user, the later winning.

    ``timezone`` (TOCSIN_TIMEZONE, or the user's own zone) is the digest's default zone and
    that of quiet hours stored without one. Raises :class:`ValidationFailed` if the result
    is not a valid document (an override that :func:`parse_overrides` would refuse).
    """
    merged = merge_overrides(
        merge_overrides(builtin_defaults(timezone), tenant_overrides), user_overrides
    )
    quiet = merged.get("quietHours")
    if isinstance(quiet, dict):
        # Stored without them (or with null): the zone and days given now apply.
        if quiet.get("timezone") is None:
            quiet["timezone"] = timezone
        if quiet.get("days") is None:
            quiet["days"] = list(ALL_DAYS)
    try:
        return Preferences.model_validate(merged)
    except ValidationError as exc:
        raise _failed(exc) from None


def to_json(prefs: Preferences) -> dict[str, Any]:
    """The document as sent on the wire (the contract's camelCase shape)."""
    return prefs.model_dump(mode="json")


def is_critical(event: str, fields: Mapping[str, Any]) -> bool:
    """Whether a notification is critical (DESIGN §7): it then ignores mutes and quiet hours.

    A ``deadline-alert`` of urgency ``critical``, a ``system-notification`` of type
    ``error``, or any notification published with ``"critical": true``.
    """
    if fields.get("critical") is True:
        return True
    if event == DEADLINE_ALERT:
        return fields.get("urgency") == "critical"
    if event == SYSTEM_NOTIFICATION:
        return fields.get("type") == "error"
    return False


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _first_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock in ``zone`` shows ``clock`` on ``day``.

    A repeated hour (autumn) counts from its first occurrence; a skipped one (spring) from
    the jump, the first instant whose wall clock is past it.
    """
    wall = datetime.combine(day, clock)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _local(first, zone) == wall:
        return first
    # Skipped: fold=1 reads the wall time with the offset before the jump (an instant
    # before it), fold=0 with the one after. Transitions fall on whole seconds.
    low = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _local(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def wall_clock_instant(day: date, clock: str, zone: ZoneInfo) -> datetime:
    """When (UTC) the wall clock in ``zone`` first shows ``clock`` (``HH:MM``) on ``day``;
    on a spring-forward day, an hour that does not exist is the jump's instant."""
    return _first_instant(day, _clock(clock), zone)


def quiet_hours_end(quiet: QuietHours | None, now: datetime) -> datetime | None:
    """When the quiet period ``now`` falls in ends (aware, UTC), or ``None`` if not quiet.

    A period starts at ``start`` on one of ``days`` in ``quiet.timezone`` and ends at the
    next ``end`` (the next day when ``start > end``): the day that counts is the day it
    started. Times are wall-clock times, so a period is an hour shorter or longer across a
    DST change. ``now`` without an offset is taken as UTC. Non-critical push and e-mail
    are deferred to this moment (DESIGN §8).
    """
    if quiet is None:
        return None
    zone = ZoneInfo(quiet.timezone)
    moment = utc_moment(now)
    start, end = _clock(quiet.start), _clock(quiet.end)
    today = moment.astimezone(zone).date()
    for day in (today - timedelta(days=1), today):
        if day.isoweekday() not in quiet.days:
            continue
        begins = _first_instant(day, start, zone)
        ends = _first_instant(day if start < end else day + timedelta(days=1), end, zone)
        if begins <= moment < ends:
            return ends
    return None


def in_quiet_hours(quiet: QuietHours | None, now: datetime) -> bool:
    """Whether ``now`` falls in a quiet period (see :func:`quiet_hours_end`)."""
    return quiet_hours_end(quiet, now) is not None


def wants(
    prefs: Preferences, event: str, channel: Channel, *, critical: bool, now: datetime
) -> bool:
    """Whether ``event`` should reach the user on ``channel`` (browser, push or e-mail) now.

    Critical notifications always do (mutes and quiet hours do not apply); others when the
    channel is on for the event and ``now`` is outside quiet hours. Raises ``ValueError``
    for an unknown event or channel.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
    if event not in prefs.events:
        raise ValueError(f"unknown event {event!r}")
    if critical:
        return True
    if not prefs.events[event].allows(channel):
        return False
    return not in_quiet_hours(prefs.quietHours, now)
