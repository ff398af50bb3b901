"""Several nodes on one PostgreSQL and one Redis: fan-out, bus outages, dead nodes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.cluster import NodeProcess, RedisProcess
from tests.helpers import Client, email, ids_by_source, publish, source_ids, token


@pytest.fixture
async def nodes(postgres_url: str, redis: RedisProcess) -> AsyncIterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    try:
        for _ in range(3):
            node = NodeProcess(postgres_url, redis.url, TOCSIN_BUS_HEARTBEAT_INTERVAL="0.3")
            await asyncio.to_thread(node.start)
            started.append(node)
        yield started
    finally:
        for node in started:
            node.close()


async def test_publishes_through_one_node_reach_clients_on_the_others(
    nodes: list[NodeProcess],
) -> None:
    one, two, three = nodes
    alice_2 = Client(two.url, "alice", "firm-a")
    alice_3 = Client(three.url, "alice", "firm-a")
    bob_3 = Client(three.url, "bob", "firm-a")
    other_tenant_2 = Client(two.url, "alice", "firm-b")
    clients = [alice_2, alice_3, bob_3, other_tenant_2]
    for c in clients:
        await c.connect()
    try:
        async with httpx.AsyncClient(base_url=one.url) as http:
            await publish(http, email("alice", "firm-b", id="for-b"))
            await publish(
                http,
                {
                    "event": "system-notification",
                    "title": "A",
                    "message": "a",
                    "type": "info",
                    "tenantId": "firm-a",
                    "id": "team-a",
                },
            )
            await publish(http, email("alice", "firm-a", id="for-alice-a"))
            await alice_2.wait_notifications(2)
            await alice_3.wait_notifications(2)
            await bob_3.wait_notifications(1)
            await other_tenant_2.wait_notifications(1)
            assert source_ids(alice_2.notifications()) == ["team-a", "for-alice-a"]
            assert source_ids(alice_3.notifications()) == ["team-a", "for-alice-a"]
            # Published before the last one, delivered in cursor order: nothing is in flight.
            assert source_ids(bob_3.notifications()) == ["team-a"]
            assert source_ids(other_tenant_2.notifications()) == ["for-b"]
            # One notification has one id, whichever node delivered it.
            assert ids_by_source(alice_2.notifications()) == ids_by_source(alice_3.notifications())

            # Read state crosses nodes too: alice reads on node 2, her tab on node 3 hears it.
            mine = ids_by_source(alice_2.notifications())["for-alice-a"]
            ack = await alice_2.sio.call("mark-read", {"ids": [mine]}, timeout=5)
            assert ack["ok"] and ack["ids"] == [mine]
            await alice_3.log.wait_for(lambda log: bool(log.of("notifications-read")))
            assert alice_3.log.of("notifications-read")[0]["ids"] == [mine]
            assert bob_3.log.of("notifications-read") == []
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{two.url}/metrics")).text
        assert 'tocsin_events_emitted_total{event="email-received"}' in metrics
        assert "tocsin_publish_to_emit_seconds_count" in metrics
    finally:
        for c in clients:
            await c.disconnect()


async def test_redis_restart_mid_stream_loses_and_duplicates_nothing(
    nodes: list[NodeProcess], redis: RedisProcess
) -> None:
    one, two, three = nodes
    watchers = [Client(two.url, "alice", "firm-a"), Client(three.url, "alice", "firm-a")]
    disconnects: list[str] = []
    for c in watchers:
        c.sio.on("disconnect", lambda reason=None, url=c.url: disconnects.append(url))
        await c.connect()
    total = 300
    expected = [f"n{i}" for i in range(total)]
    restarted = asyncio.Event()
    saw_red = False

    async def outage() -> None:
        nonlocal saw_red
        await asyncio.to_thread(redis.stop)
        # A node whose subscription is dead must say so: readiness turns red.
        async with httpx.AsyncClient() as probe:
            for _ in range(200):
                if (await probe.get(f"{two.url}/readyz")).status_code == 503:
                    saw_red = True
                    break
                await asyncio.sleep(0.05)
        await asyncio.to_thread(redis.start)
        restarted.set()

    try:
        async with httpx.AsyncClient(base_url=one.url, timeout=30) as http:
            outage_task: asyncio.Task[None] | None = None
            for i, notification_id in enumerate(expected):
                if i == total // 3:
                    outage_task = asyncio.create_task(outage())
                response = await publish(http, email("alice", "firm-a", id=notification_id))
                assert response.status_code == 202
                await asyncio.sleep(0.01)  # a steady publisher, not a synchronisation
            assert outage_task is not None
            await outage_task
        for c in watchers:
            await c.wait_notifications(total, timeout=30)
        for c in watchers:
            ids = source_ids(c.notifications())
            assert [i for i, n in Counter(ids).items() if n > 1] == []
            assert ids == expected
            assert len({n["id"] for n in c.notifications()}) == total
        assert disconnects == []
        assert saw_red, "readiness never reported the dead bus"
        async with httpx.AsyncClient() as probe:
            for node in nodes:
                # Resubscribing backs off up to 2 s a try; CI once needed more than 10 s.
                deadline = asyncio.get_running_loop().time() + 30
                while (answer := await probe.get(f"{node.url}/readyz")).status_code != 200:
                    if asyncio.get_running_loop().time() > deadline:
                        raise AssertionError(
                            f"{node.url} not ready 30 s after Redis came back: {answer.text}\n"
                            + node.stderr()[-3000:]
                        )
                    await asyncio.sleep(0.05)
    finally:
        for c in watchers:
            await c.disconnect()


async def test_a_killed_node_loses_nothing_its_clients_replay_elsewhere(
    nodes: list[NodeProcess],
) -> None:
    one, two, three = nodes
    on_three = Client(three.url, "alice", "firm-a")
    await on_three.connect(since=0)
    total = 200
    expected = [f"k{i}" for i in range(total)]
    received: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=one.url, timeout=30) as http:
            for i, notification_id in enumerate(expected):
                if i == total // 2:
                    await on_three.log.wait_for(lambda _l: bool(on_three.notifications()))
                    three.kill()
                    await on_three.log.wait_for(lambda _l: not on_three.sio.connected, timeout=15)
                await publish(http, email("alice", "firm-a", id=notification_id))
        received += source_ids(on_three.notifications())
        # Reconnect to another node with the last cursor seen: replay fills the gap.
        moved = Client(two.url, "alice", "firm-a")
        await moved.connect(since=on_three.since)
        try:
            await moved.wait_notifications(total - len(received), timeout=30)
            received += source_ids(moved.notifications())
        finally:
            await moved.disconnect()
        assert [i for i, n in Counter(received).items() if n > 1] == []
        assert received == expected
    finally:
        await on_three.disconnect()


async def test_sigterm_drains_within_the_bound_and_clients_move(
    nodes: list[NodeProcess],
) -> None:
    one, two, _three = nodes
    client = Client(two.url, "alice", "firm-a")
    closed = asyncio.Event()
    client.sio.on("disconnect", lambda reason=None: closed.set())
    await client.connect()
    took = await asyncio.to_thread(two.terminate)
    await asyncio.wait_for(closed.wait(), 10)
    assert took < 10  # TOCSIN_SHUTDOWN_TIMEOUT
    assert one.process is not None and one.process.poll() is None
    # The inbox is shared: nothing the client missed is gone.
    async with httpx.AsyncClient(base_url=one.url) as http:
        after = await publish(http, email("alice", "firm-a", id="after-drain"))
        inbox = await http.get(
            "/api/v1/inbox", headers={"Authorization": f"Bearer {token('alice', 'firm-a')}"}
        )
        assert [(i["id"], i["sourceId"]) for i in inbox.json()["items"]] == [
            (after.json()["id"], "after-drain")
        ]
