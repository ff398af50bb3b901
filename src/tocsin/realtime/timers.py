"""Many timers of one kind on a single event-loop timer.

A node keeps two timers per connection for hours (its next Engine.IO ping, its session's
expiry); each ``loop.call_later`` is a timer handle, a bound method and an arguments tuple,
about 0.5 KB. Here a timer is a dictionary entry in a bucket of due times rounded up to a
resolution, and only the earliest bucket has a loop timer.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

log = logging.getLogger("tocsin.realtime")


class CoarseTimers(Generic[K]):
    """Timers keyed by ``K``: each fires ``fire(key)`` once, at most ``resolution`` late."""

    def __init__(self, resolution: float, fire: Callable[[K], None]) -> None:
        if resolution <= 0:
            raise ValueError("resolution must be positive")
        self.resolution = resolution
        self._fire = fire
        self._buckets: dict[int, dict[K, None]] = {}
        # The ticks of the buckets, earliest first (a tick whose bucket emptied may linger).
        self._ticks: list[int] = []
        self._tick_of: dict[K, int] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._handle_tick: int | None = None

    def __len__(self) -> int:
        return len(self._tick_of)

    def __contains__(self, key: object) -> bool:
        return key in self._tick_of

    def start(self, key: K, delay: float) -> None:
        """Fire ``key`` after ``delay`` seconds (replacing its pending timer, if any)."""
        self.cancel(key)
        loop = asyncio.get_running_loop()
        tick = math.ceil((loop.time() + max(0.0, delay)) / self.resolution)
        bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = {}
            heapq.heappush(self._ticks, tick)
        bucket[key] = None
        self._tick_of[key] = tick
        if self._handle_tick is None or tick < self._handle_tick:
            self._arm(loop, tick)

    def cancel(self, key: K) -> None:
        """Forget ``key``'s pending timer (no-op if none)."""
        tick = self._tick_of.pop(key, None)
        if tick is None:
            return
        bucket = self._buckets[tick]
        del bucket[key]
        if not bucket:
            del self._buckets[tick]
            self._compact()

    def _compact(self) -> None:
        # An emptied bucket's tick stays in the heap until it is due, days away for a
        # session expiry: with sockets coming and going, rebuild the heap (in place: _run
        # may be iterating it) once such ticks outnumber the live ones.
        if len(self._ticks) > 2 * len(self._buckets) + 64:
            self._ticks[:] = self._buckets
            heapq.heapify(self._ticks)

    def close(self) -> None:
        """Forget every timer."""
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._handle_tick = None
        self._buckets.clear()
        self._ticks.clear()
        self._tick_of.clear()

    def _arm(self, loop: asyncio.AbstractEventLoop, tick: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle_tick = tick
        self._handle = loop.call_at(tick * self.resolution, self._run)

    def _run(self) -> None:
        self._handle = self._handle_tick = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        ticks = self._ticks
        while ticks:
            tick = ticks[0]
            if tick not in self._buckets:
                heapq.heappop(ticks)  # emptied by cancel()
                continue
            if tick * self.resolution > now:
                if self._handle_tick is None or tick < self._handle_tick:
                    self._arm(loop, tick)
                return
            heapq.heappop(ticks)
            for key in self._buckets.pop(tick):
                del self._tick_of[key]
                try:
                    self._fire(key)
                except Exception:
                    log.exception("timer for %r failed", key)
