"""One contract for every bus: in-process and Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from tests.helpers import require_service
from tocsin.bus.base import Bus, BusMessage
from tocsin.bus.local import LocalBus
from tocsin.bus.redis import RedisBus

REDIS_URL = "redis://127.0.0.1:6379/15"


async def _redis_available() -> None:
    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        require_service("Redis", f"{REDIS_URL}: {exc}")
    finally:
        await client.aclose()


@pytest.fixture(params=["local", "redis"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Bus]]:
    # A channel of the test's own: never touch anybody else's keys or messages.
    channel = f"tocsin-test:{uuid.uuid4().hex}"
    if request.param == "redis":
        await _redis_available()
    made: list[Bus] = []

    def factory() -> Bus:
        bus: Bus = (
            LocalBus()
            if request.param == "local"
            else RedisBus(REDIS_URL, channel=channel, heartbeat_interval=0.2)
        )
        made.append(bus)
        return bus

    yield factory
    for bus in made:
        await bus.stop()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[BusMessage] = []
        self.changed = asyncio.Event()

    async def __call__(self, message: BusMessage) -> None:
        self.messages.append(message)
        self.changed.set()

    async def wait_for(self, kind: str, count: int = 1) -> list[BusMessage]:
        async def loop() -> list[BusMessage]:
            while len(found := [m for m in self.messages if m.get("type") == kind]) < count:
                self.changed.clear()
                await self.changed.wait()
            return found

        return await asyncio.wait_for(loop(), 5)


async def test_a_message_reaches_the_subscriber(make_bus: Callable[[], Bus]) -> None:
    bus = make_bus()
    inbox = Inbox()
    await bus.start(inbox)
    await _until_healthy(bus, inbox)
    await bus.publish({"type": "read", "tenantId": "t", "userId": "u", "ids": ["x"]})
    [message] = await inbox.wait_for("read")
    assert message == {"type": "read", "tenantId": "t", "userId": "u", "ids": ["x"]}


async def test_a_write_only_bus_publishes_to_subscribers(make_bus: Callable[[], Bus]) -> None:
    subscriber = make_bus()
    inbox = Inbox()
    await subscriber.start(inbox)
    await _until_healthy(subscriber, inbox)
    writer = subscriber if isinstance(subscriber, LocalBus) else make_bus()
    if writer is not subscriber:
        await writer.start(None)
        assert await writer.healthy()
    for i in range(3):
        await writer.publish({"type": "doorbell", "cursor": i})
    found = await inbox.wait_for("doorbell", 3 + isinstance(subscriber, RedisBus))
    assert [m["cursor"] for m in found if m.get("cursor") is not None][-3:] == [0, 1, 2]


async def _until_healthy(bus: Bus, inbox: Inbox) -> None:
    if isinstance(bus, RedisBus):
        # A subscription that is in place rings the doorbell so the node catches up.
        await inbox.wait_for("doorbell")
    assert await bus.healthy()


async def test_a_message_the_handler_fails_on_does_not_stop_the_next_ones(
    make_bus: Callable[[], Bus],
) -> None:
    bus = make_bus()
    inbox = Inbox()

    async def handler(message: BusMessage) -> None:
        if message.get("type") == "read" and message.get("ids") == ["boom"]:
            raise RuntimeError("a handler bug")
        await inbox(message)

    await bus.start(handler)
    await _until_healthy(bus, inbox)
    await bus.publish({"type": "read", "tenantId": "t", "userId": "u", "ids": ["boom"]})
    await bus.publish({"type": "read", "tenantId": "t", "userId": "u", "ids": ["after"]})
    [message] = await inbox.wait_for("read")
    assert message["ids"] == ["after"]
    assert await bus.healthy()
