"""Checks on a token's claims that do not depend on its format."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tocsin.auth.errors import AuthError

# NextAuth tolerates 15 s of clock skew; so do we.
CLOCK_TOLERANCE = 15
# Times before 1970 or past year 9999 cannot be shown (datetime), nor meant.
_LATEST = 253_402_300_799


def _duration(seconds: float) -> str:
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = (
        [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    )
    return " ".join([*parts, f"{secs}s"] if not parts or secs else parts)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def check_times(claims: Mapping[str, Any], now: float | None = None) -> float | None:
    """Check ``exp``, ``nbf`` and ``iat`` with the clock tolerance; return ``exp`` if any.

    Raises:
        AuthError: ``expired`` (saying by how long), or ``invalid_token`` for a token that
        is not valid yet or has malformed time claims.
    """
    now = time.time() if now is None else now
    values: dict[str, float] = {}
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AuthError("invalid_token", f"claim {name!r} is not a number")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        # NaN compares false with everything: an exp of NaN would never expire.
        if not math.isfinite(number) or not 0 <= number <= _LATEST:
            raise AuthError("invalid_token", f"claim {name!r} is not a usable time")
        values[name] = number
    exp = values.get("exp")
    if exp is not None and exp < now - CLOCK_TOLERANCE:
        raise AuthError("expired", f"expired {_duration(now - exp)} ago (exp {_when(exp)})")
    nbf = values.get("nbf")
    if nbf is not None and nbf > now + CLOCK_TOLERANCE:
        raise AuthError("invalid_token", f"not valid for another {_duration(nbf - now)} (nbf)")
    iat = values.get("iat")
    if iat is not None and iat > now + CLOCK_TOLERANCE:
        raise AuthError("invalid_token", f"issued {_duration(iat - now)} in the future (iat)")
    return exp


def describe_expiry(exp: float | None, now: float | None = None) -> str:
    """``expires in 29d 23h 59m`` (for `tocsin checktoken`)."""
    if exp is None:
        return "never expires (no exp claim)"
    now = time.time() if now is None else now
    return f"expires in {_duration(exp - now)} ({_when(exp)})"
