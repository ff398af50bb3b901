"""Rate limits: token buckets per API key (publishing) and per socket (client events)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def take(self, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens: 0.0 if allowed, else the seconds until it would be."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if cost <= self.tokens:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


class KeyedLimiter:
    """One bucket per key; idle full buckets are forgotten so memory stays bounded."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, cost: float = 1.0) -> float:
        """As :meth:`TokenBucket.take`, for ``key``'s bucket."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_idle()
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
        return bucket.take(cost)

    def forget(self, key: str) -> None:
        """Drop a key's bucket (a socket that left)."""
        self._buckets.pop(key, None)

    def _forget_idle(self) -> None:
        now = time.monotonic()
        full_after = self.burst / self.rate
        for key, bucket in list(self._buckets.items()):
            if now - bucket.stamp > full_after:
                del self._buckets[key]


def retry_after_seconds(wait: float) -> int:
    """``Retry-After`` is whole seconds, at least 1."""
    return max(1, math.ceil(wait))
