"""What a push service's answer means for the subscription (DESIGN §8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

OutcomeKind = Literal["sent", "gone", "retry", "rejected"]


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """The result of one push.

    - ``sent``: the push service took it (2xx).
    - ``gone``: 404/410, the subscription is dead (or its keys unusable): delete it.
    - ``retry``: 429, 5xx, 408, or no answer (network, timeout): try again later, after
      ``retry_after`` seconds when the service said so, else with the caller's backoff.
    - ``rejected``: 400/401/403/413 and other answers: a configuration error (VAPID key,
      subject, payload); log it and keep the subscription.

    ``status`` is the HTTP status, None without an answer. ``reason`` is for logs and
    the delivery log; it never holds the endpoint (a capability URL).
    """

    kind: OutcomeKind
    status: int | None
    reason: str
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    None when absent or unreadable; a date in the past gives 0.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delay = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delay)


def outcome_for(
    status: int, detail: str, retry_after: str | None, now: datetime | None = None
) -> PushOutcome:
    """The outcome of an HTTP answer ``status`` (``detail``: its reason or body, for logs)."""
    reason = f"{status} {detail}".strip()
    if 200 <= status < 300:
        return PushOutcome("sent", status, reason)
    if status in (404, 410):
        return PushOutcome("gone", status, reason)
    if status in (408, 429) or status >= 500:
        return PushOutcome("retry", status, reason, parse_retry_after(retry_after, now))
    if 300 <= status < 400:
        # Redirects are not followed: the allow-list vouches for the endpoint, not for
        # wherever it points to.
        reason += " (redirects are not followed)"
    return PushOutcome("rejected", status, reason)
