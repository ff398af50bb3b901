"""Presence over a real Redis bus: nodes (in this process) learn each other's sockets per
tenant, at once when one starts or stops, and within the bound when one dies silently."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.cluster import RedisProcess
from tocsin.bus.base import DOORBELL, PRESENCE, BusMessage
from tocsin.bus.local import LocalBus
from tocsin.bus.redis import RedisBus
from tocsin.realtime.presence import CHUNK, Presence

INTERVAL = 0.5


class Node:
    """A Presence on its own Redis bus, over a plain counter of sockets per tenant."""

    def __init__(self, redis_url: str, channel: str, interval: float = INTERVAL) -> None:
        self.sockets: Counter[str] = Counter()
        self.changes: list[set[str]] = []
        self.changed = asyncio.Event()
        self.heard: list[BusMessage] = []
        self.bus = RedisBus(redis_url, channel=channel, heartbeat_interval=0.2)
        self.presence = Presence(
            self.bus,
            lambda tenant: self.sockets[tenant],
            lambda: [t for t, n in self.sockets.items() if n],
            self._changed,
            interval=interval,
            debounce=0.02,
        )

    def _changed(self, tenants: set[str]) -> None:
        self.changes.append(tenants)
        self.changed.set()

    async def _handle(self, message: BusMessage) -> None:
        if message.get("type") == DOORBELL and message.get("reason") == "subscribed":
            self.presence.subscribed()
        elif message.get("type") == PRESENCE:
            self.heard.append(message)
            self.presence.on_message(message)

    async def start(self) -> None:
        await self.bus.start(self._handle)
        self.presence.start()

    async def stop(self, *, politely: bool = True) -> None:
        if politely:
            await self.presence.stop()
        else:
            # As SIGKILL: nothing more is said, the loop just ends.
            self.presence._stopped = True
            for task in (self.presence._loop, self.presence._flush, self.presence._answer):
                if task is not None:
                    task.cancel()
        await self.bus.stop()

    def connect(self, tenant: str, count: int = 1) -> None:
        self.sockets[tenant] += count
        self.presence.local_changed(tenant)

    def disconnect(self, tenant: str, count: int = 1) -> None:
        self.sockets[tenant] -= count
        self.presence.local_changed(tenant)

    async def wait_total(self, tenant: str, expected: int, timeout: float = 5.0) -> float:
        """Wait until this node counts ``expected`` sockets of ``tenant``; returns seconds."""
        began = time.monotonic()

        async def loop() -> None:
            while self.presence.total(tenant) != expected:
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{tenant}: {self.presence.total(tenant)} sockets, expected {expected}"
            ) from None
        return time.monotonic() - began


@pytest.fixture
async def make_node(redis: RedisProcess) -> AsyncIterator[Callable[..., Any]]:
    nodes: list[Node] = []

    async def make(**kwargs: Any) -> Node:
        node = Node(redis.url, "tocsin:test-presence", **kwargs)
        await node.start()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        await node.stop()


async def test_every_node_sums_the_tenants_sockets_and_tenants_stay_apart(
    make_node: Callable[..., Any],
) -> None:
    one, two, three = await make_node(), await make_node(), await make_node()
    one.connect("firm-a", 2)
    two.connect("firm-a", 3)
    three.connect("firm-a")
    three.connect("firm-b")
    for node in (one, two, three):
        await node.wait_total("firm-a", 6)
        await node.wait_total("firm-b", 1)
    assert one.presence.by_tenant() == {"firm-a": 6, "firm-b": 1}
    assert one.presence.by_node() == {
        one.presence.node_id: {"firm-a": 2},
        two.presence.node_id: {"firm-a": 3},
        three.presence.node_id: {"firm-a": 1, "firm-b": 1},
    }
    two.disconnect("firm-a", 3)
    await one.wait_total("firm-a", 3)
    await three.wait_total("firm-a", 3)
    assert one.presence.total("firm-b") == 1


async def test_a_node_that_starts_learns_the_counts_from_its_hello(
    make_node: Callable[..., Any],
) -> None:
    # Refreshes every minute: only the hello can tell a new node within the test.
    one = await make_node(interval=60)
    one.sockets["firm-a"] = 4  # connected without a word: only the hello can reveal them
    late = await make_node(interval=60)
    took = await late.wait_total("firm-a", 4, timeout=3)
    assert took < 3
    # The hello was answered with one refresh.
    answers = [m for m in late.heard if m["node"] == one.presence.node_id]
    assert len(answers) == 1 and answers[0]["counts"] == {"firm-a": 4}


async def test_a_node_that_stops_leaves_the_totals_at_once(
    make_node: Callable[..., Any],
) -> None:
    one, two = await make_node(interval=60), await make_node(interval=60)
    two.connect("firm-a", 2)
    await one.wait_total("firm-a", 2)
    await two.stop()
    # Well before any expiry (three minutes): the node said it was gone.
    took = await one.wait_total("firm-a", 0, timeout=3)
    assert took < 3


async def test_a_silent_node_expires_within_the_bound(make_node: Callable[..., Any]) -> None:
    one, killed = await make_node(), await make_node()
    killed.connect("firm-a", 5)
    one.connect("firm-a", 1)
    await one.wait_total("firm-a", 6)
    await killed.stop(politely=False)
    took = await one.wait_total("firm-a", 1, timeout=10)
    # Expired three intervals after its last refresh, noticed at the next one of ours: not
    # at once, and within four intervals (with room for a busy machine).
    assert INTERVAL < took <= INTERVAL * 4 + 1.0, took


async def test_many_tenants_are_refreshed_in_chunks(make_node: Callable[..., Any]) -> None:
    one = await make_node(interval=60)
    tenants = [f"firm-{i}" for i in range(CHUNK * 2 + 10)]
    for tenant in tenants:
        one.sockets[tenant] = 1
    late = await make_node(interval=60)
    for tenant in (tenants[0], tenants[CHUNK], tenants[-1]):
        await late.wait_total(tenant, 1)
    assert len(late.presence.by_tenant()) == len(tenants)
    chunks = [m for m in late.heard if m["node"] == one.presence.node_id and "hello" in m]
    assert [len(m["counts"]) for m in chunks] == [CHUNK, CHUNK, 10]


async def test_the_in_process_bus_sends_nothing() -> None:
    bus = LocalBus()
    sent: list[BusMessage] = []

    async def handler(message: BusMessage) -> None:
        sent.append(message)

    await bus.start(handler)
    sockets = Counter({"firm-a": 2})
    presence = Presence(
        bus, sockets.__getitem__, lambda: list(sockets), lambda _t: None, interval=0.01, debounce=0
    )
    presence.start()
    presence.local_changed("firm-a")
    presence.subscribed()
    # Nothing was even scheduled: no refresh loop, no change to flush, no hello.
    assert (presence._loop, presence._flush, presence._answer) == (None, None, None)
    await presence.stop()
    assert sent == []
    assert presence.total("firm-a") == 2
