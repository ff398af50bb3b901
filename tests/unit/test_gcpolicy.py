"""Scheduled full collections: Python's own full collections are off while they run."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tocsin.gcpolicy import ScheduledFullCollections


@contextmanager
def full_collections_seen(wanted: int) -> Iterator[asyncio.Event]:
    """An event set once ``wanted`` full collections have finished."""
    done = asyncio.Event()
    seen = 0

    def callback(phase: str, info: dict[str, Any]) -> None:
        nonlocal seen
        if phase == "stop" and info.get("generation") == 2:
            seen += 1
            if seen >= wanted:
                done.set()

    gc.callbacks.append(callback)
    try:
        yield done
    finally:
        gc.callbacks.remove(callback)


async def test_full_collections_run_on_the_schedule_and_python_gets_them_back() -> None:
    before = gc.get_threshold()
    policy = ScheduledFullCollections(0.05, check_every=0.01)
    with full_collections_seen(2) as two_collections:
        policy.start()
        try:
            assert gc.get_threshold()[:2] == before[:2]
            assert gc.get_threshold()[2] > 1_000_000  # Python no longer starts full ones
            await asyncio.wait_for(two_collections.wait(), 5)
        finally:
            await policy.stop()
    assert gc.get_threshold() == before


async def test_much_allocation_brings_the_full_collection_forward() -> None:
    policy = ScheduledFullCollections(3600, check_every=0.01, max_middle=1)
    with full_collections_seen(1) as collected:
        policy.start()
        try:
            gc.collect(1)  # counts as a middle-generation collection
            await asyncio.wait_for(collected.wait(), 5)
        finally:
            await policy.stop()
