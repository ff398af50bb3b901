"""Garbage-collector policy of a node: freeze start-up objects, time every collection.

A node holding thousands of sockets has hundreds of thousands of long-lived objects; a full
collection walks them all. Objects created while starting (modules, routes, settings,
compiled queries) never die, so they are moved to the permanent generation once the node is
ready. Collection pauses are exported as ``tocsin_gc_pause_seconds`` by generation.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from tocsin import metrics

_started: list[float] = []


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
