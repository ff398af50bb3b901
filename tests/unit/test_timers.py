"""CoarseTimers: many timers on one loop timer, each fired once, never early."""

from __future__ import annotations

import asyncio

import pytest

from tocsin.realtime.timers import CoarseTimers


async def test_timers_fire_once_in_order_no_earlier_than_asked() -> None:
    loop = asyncio.get_running_loop()
    fired: list[tuple[str, float]] = []
    all_fired = asyncio.Event()
    started = loop.time()

    def fire(key: str) -> None:
        fired.append((key, loop.time() - started))
        if len(fired) == 3:
            all_fired.set()

    timers: CoarseTimers[str] = CoarseTimers(0.01, fire)
    timers.start("late", 0.15)
    timers.start("early", 0.03)
    timers.start("middle", 0.08)
    assert len(timers) == 3 and "early" in timers
    await asyncio.wait_for(all_fired.wait(), 2)
    assert [key for key, _ in fired] == ["early", "middle", "late"]
    for (_, at), asked in zip(fired, (0.03, 0.08, 0.15), strict=True):
        assert at >= asked - 0.002  # the loop's clock granularity, not the resolution
    assert len(timers) == 0


async def test_a_cancelled_or_restarted_timer_fires_only_as_restarted() -> None:
    fired: list[str] = []
    done = asyncio.Event()

    def fire(key: str) -> None:
        fired.append(key)
        if key == "restarted":
            done.set()

    timers: CoarseTimers[str] = CoarseTimers(0.01, fire)
    timers.start("cancelled", 0.02)
    timers.start("restarted", 0.02)
    timers.cancel("cancelled")
    timers.cancel("never started")  # no-op
    timers.start("restarted", 0.06)
    await asyncio.wait_for(done.wait(), 2)
    assert fired == ["restarted"]


async def test_a_timer_started_from_a_firing_one_fires_too_and_errors_do_not_stop_others() -> None:
    fired: list[str] = []
    done = asyncio.Event()
    timers: CoarseTimers[str] = CoarseTimers(0.01, lambda key: handlers[key]())

    def first() -> None:
        fired.append("first")
        timers.start("second", 0.02)

    def broken() -> None:
        raise RuntimeError("boom")

    def second() -> None:
        fired.append("second")
        done.set()

    handlers = {"first": first, "broken": broken, "second": second}
    timers.start("broken", 0.01)
    timers.start("first", 0.01)
    await asyncio.wait_for(done.wait(), 2)
    assert fired == ["first", "second"]


def test_resolution_must_be_positive() -> None:
    with pytest.raises(ValueError, match="resolution"):
        CoarseTimers(0, lambda key: None)


async def test_cancelled_far_timers_do_not_accumulate() -> None:
    fired: list[str] = []
    timers: CoarseTimers[str] = CoarseTimers(1.0, fired.append)
    timers.start("kept", 3600)
    # Sockets coming and going, each with a session expiry in its own second, days away.
    for i in range(10_000):
        timers.start(f"gone-{i}", 86_400 + i)
        timers.cancel(f"gone-{i}")
    assert len(timers) == 1 and "kept" in timers
    assert len(timers._ticks) <= 2 * len(timers._buckets) + 64
    timers.close()
