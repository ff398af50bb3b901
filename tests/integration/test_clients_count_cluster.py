"""clients-count behind a load balancer: three nodes on one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.cluster import NodeProcess, RedisProcess
from tests.helpers import Client

# Each node reports its sockets every half second; a silent node is out after three.
INTERVAL = 0.5


@pytest.fixture
async def nodes(postgres_url: str, redis: RedisProcess) -> AsyncIterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    try:
        for _ in range(3):
            node = NodeProcess(
                postgres_url,
                redis.url,
                TOCSIN_BUS_HEARTBEAT_INTERVAL="0.3",
                TOCSIN_PRESENCE_INTERVAL=str(INTERVAL),
            )
            await asyncio.to_thread(node.start)
            started.append(node)
        yield started
    finally:
        for node in started:
            node.close()


def last_count(client: Client) -> int | None:
    counts = client.log.of("clients-count")
    return counts[-1]["count"] if counts else None


async def see(clients: list[Client], count: int, timeout: float = 5.0) -> None:
    """Wait until every client's last clients-count is ``count``."""
    for client in clients:
        await client.log.wait_for(lambda _log, c=client: last_count(c) == count, timeout)


async def test_every_client_of_a_tenant_sees_its_sockets_on_all_nodes(
    nodes: list[NodeProcess],
) -> None:
    one, two, three = nodes
    firm_a = [
        Client(one.url, "alice", "firm-a"),
        Client(one.url, "bob", "firm-a"),
        Client(two.url, "alice", "firm-a"),
        Client(three.url, "carol", "firm-a"),
    ]
    firm_b = Client(two.url, "dave", "firm-b")
    clients = [*firm_a, firm_b]
    for client in clients:
        await client.connect()
    try:
        await see(firm_a, 4)
        await see([firm_b], 1)
        # The other tenant's sockets never counted, on any node.
        assert all(c["count"] <= 1 for c in firm_b.log.of("clients-count"))
        assert all(c["count"] <= 4 for a in firm_a for c in a.log.of("clients-count"))

        # A client that leaves: every node's clients hear it after the debounce.
        await firm_a[1].disconnect()
        await see([firm_a[0], firm_a[2], firm_a[3]], 3)

        # A node killed outright tells nobody: its socket leaves the totals when its
        # counts expire (three intervals), noticed at the next refresh (a fourth).
        killed_at = time.monotonic()
        three.kill()
        await see([firm_a[0], firm_a[2]], 2, timeout=15)
        took = time.monotonic() - killed_at
        print(f"SIGKILLed node's socket out of clients-count after {took:.2f} s")
        assert took <= 4 * INTERVAL + 1.5, took
        assert last_count(firm_b) == 1

        # A client connecting now is told the cluster's total on connect.
        late = Client(two.url, "erin", "firm-a")
        await late.connect()
        clients.append(late)
        await see([late, firm_a[0]], 3)
        assert late.log.of("clients-count")[0] == {"count": 3}
    finally:
        for client in clients:
            await client.disconnect()
