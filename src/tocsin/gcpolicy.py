"""Garbage-collector policy of a node: freeze start-up objects, schedule full collections,
time every collection.

A node holding thousands of sockets has hundreds of thousands of long-lived objects (about
70 per connection) and a full collection walks them all: ~0.9 s at 10,000 sockets. Python
starts one whenever the long-lived objects grew by 25 %, so while sockets connect it runs
again and again (11 full collections, 3.1 s, while 10,000 sockets connected) and one lands
in the middle of any burst: a broadcast, a mass disconnect.

So: objects created while starting (modules, routes, settings, compiled queries) never die
and move to the permanent generation once the node is ready; full collections run on a
schedule (:class:`ScheduledFullCollections`) rather than by Python's growth rule, with a
bound on how much may be allocated in between. Young collections are left alone: they are
short and they free most garbage. Pauses are exported as ``tocsin_gc_pause_seconds``.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from tocsin import metrics
from tocsin.tasks import cancel_and_wait

_started: list[float] = []

# Python runs a full collection after this many middle-generation ones (and 25 % growth);
# this many cannot be reached between two scheduled collections.
_NEVER = 1 << 30


def _time_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        pause = time.perf_counter() - _started.pop()
        metrics.GC_PAUSE.labels(str(info.get("generation", "?"))).observe(pause)


def watch_collections() -> None:
    """Record every collection's pause in ``tocsin_gc_pause_seconds`` (idempotent)."""
    if _time_collection not in gc.callbacks:
        gc.callbacks.append(_time_collection)


def freeze_startup_objects() -> None:
    """Collect once, then exclude every surviving object from future collections."""
    gc.collect()
    gc.freeze()


class ScheduledFullCollections:
    """Full collections every ``interval`` seconds instead of at Python's 25 % growth.

    A full collection also runs early once ``max_middle`` middle-generation collections
    happened since the last one (each follows ~7,000 surviving allocations by default), so
    cyclic garbage stays bounded when a node churns through sockets quickly.
    """

    def __init__(self, interval: float, *, check_every: float = 1.0, max_middle: int = 500) -> None:
        self.interval = interval
        self.check_every = min(check_every, interval)
        self.max_middle = max_middle
        self._task: asyncio.Task[None] | None = None
        self._thresholds: tuple[int, int, int] | None = None

    def start(self) -> None:
        """Take full collections over from Python (acts on the whole process)."""
        if self._task is not None:
            return
        self._thresholds = gc.get_threshold()
        young, middle, _full = self._thresholds
        gc.set_threshold(young, middle, _NEVER)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="tocsin-gc")

    async def stop(self) -> None:
        """Give full collections back to Python."""
        await cancel_and_wait(self._task)
        self._task = None
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.check_every)
            now = time.monotonic()
            # gc.get_count()[2]: middle-generation collections since the last full one.
            if now - last >= self.interval or gc.get_count()[2] >= self.max_middle:
                gc.collect()
                last = time.monotonic()
