"""When a deadline alerts and how urgently (its words: wording.py). Pure functions of the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from tocsin.deadlines.wording import alert_message
from tocsin.store.base import DeadlineRecord

Urgency = Literal["critical", "urgent", "warning"]


@dataclass(frozen=True, slots=True)
class Tiers:
    """Alert within ``window`` days; ≤ ``critical`` days is critical, ≤ ``urgent`` urgent."""

    window: int = 3
    critical: int = 1
    urgent: int = 2

    def urgency(self, remaining: int) -> Urgency:
        """The tier of a deadline ``remaining`` calendar days away (0 or less is critical)."""
        if remaining <= self.critical:
            return "critical"
        if remaining <= self.urgent:
            return "urgent"
        return "warning"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert to publish; ``key`` makes it happen once (per day, or once ever if past)."""

    key: str
    remaining_days: int
    urgency: Urgency
    message: str


def local_date(moment: datetime, zone: str) -> date:
    """The calendar day ``moment`` falls on in ``zone``."""
    return moment.astimezone(ZoneInfo(zone)).date()


def due_date_of(due_at: date | datetime, zone: str) -> date:
    """A deadline's calendar day: a date as given, a datetime's day in the deadline's zone.

    A datetime without an offset is taken as wall-clock time in ``zone``.
    """
    if isinstance(due_at, datetime):
        if due_at.tzinfo is None:
            return due_at.date()
        return local_date(due_at, zone)
    return due_at


def alert_key(deadline: DeadlineRecord, today: date | None) -> str:
    """The once-key (and notification id) of ``deadline``'s alert on ``today``; None: expired."""
    day = "expired" if today is None else today.isoformat()
    return f"deadline:{deadline.id}:{deadline.due_at}:{day}"


def alert_on(deadline: DeadlineRecord, today: date, tiers: Tiers, locale: str = "fr") -> Alert:
    """The alert ``deadline`` gives on ``today``, whatever its status and however far it is."""
    remaining = (deadline.due_date - today).days
    key = alert_key(deadline, None if remaining < 0 else today)
    generated = alert_message(deadline.deadline_type, remaining, locale)
    return Alert(key, remaining, tiers.urgency(remaining), deadline.message or generated)


def evaluate(
    deadline: DeadlineRecord, now: datetime, default_zone: str, tiers: Tiers, locale: str = "fr"
) -> Alert | None:
    """The alert ``deadline`` owes at ``now``, or None.

    Calendar days are counted in the deadline's time zone (else ``default_zone``), so the
    count is right across DST changes. Closed deadlines never alert; a past deadline alerts
    once ever ("expired"); within the window, once per day.
    """
    if deadline.status != "open":
        return None
    today = local_date(now, deadline.timezone or default_zone)
    if (deadline.due_date - today).days > tiers.window:
        return None
    return alert_on(deadline, today, tiers, locale)
