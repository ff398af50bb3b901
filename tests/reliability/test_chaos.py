"""Chaos: a steady publisher, many reconnecting clients, and everything underneath them fails.

One node process on PostgreSQL with its own Redis. While a publisher sends to a tenant (two
in three to everyone in it, one in three to a single user) and retries each notification
with its own Idempotency-Key until acknowledged:

1. the node is SIGKILLed and restarted on the same port, several times; clients reconnect
   by themselves with their last cursor (``since``);
2. Redis is killed and restarted (the bus is only a doorbell: the store is polled);
3. PostgreSQL crashes (immediate shutdown, crash recovery) and restarts.

After each phase every client must hold exactly what was published for it so far: nothing
lost, nothing twice, nothing of anyone else's, in cursor order.

The default run uses a private PostgreSQL cluster (initdb in a temporary folder), so
crashing it disturbs nothing else. ``TOCSIN_SLOW=1`` adds the same run against the
machine's own cluster, restarted with ``pg_ctlcluster``. ``TOCSIN_CHAOS_CLIENTS`` (200) and
``TOCSIN_CHAOS_KILLS`` (3) scale it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.cluster import RedisProcess
from tests.helpers import PG_ADMIN_URL, require_service
from tests.reliability.chaos import (
    ChaosClient,
    PostgresProcess,
    Publisher,
    RestartableNode,
    wait_for,
)
from tests.reliability.results import Result

CLIENTS = int(os.environ.get("TOCSIN_CHAOS_CLIENTS", "200"))
KILLS = int(os.environ.get("TOCSIN_CHAOS_KILLS", "3"))
TENANT = "firm-chaos"
STEP = 40  # notifications published between two faults (about a second at 40/s)
SLOW = os.environ.get("TOCSIN_SLOW") == "1"
SYSTEM_CLUSTERS = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []


@pytest.fixture
def private_postgres() -> Iterator[PostgresProcess]:
    cluster = PostgresProcess()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
async def system_postgres_database() -> AsyncIterator[str]:
    """A database on the machine's own cluster, dropped over a fresh connection afterwards
    (the cluster is restarted in between, so no connection survives the test)."""
    name = f"tocsin_chaos_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        require_service("PostgreSQL", f"cannot connect to {PG_ADMIN_URL}: {exc}")
        raise AssertionError("unreachable") from exc
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _restart_system_postgres() -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", SYSTEM_CLUSTERS[-1], "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    deadline = time.monotonic() + 60
    while subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode:
        assert time.monotonic() < deadline, "PostgreSQL did not come back"
        time.sleep(0.2)


class Run:
    """One chaos run: the node, its clients, the publisher, and the checkpoints."""

    def __init__(self, node: RestartableNode, store: str) -> None:
        self.node = node
        self.store = store
        self.changed = asyncio.Event()
        self.users = [f"user-{i}" for i in range(CLIENTS)]
        self.clients = [ChaosClient(node.url, u, TENANT, self.changed) for u in self.users]
        self.publisher = Publisher(node.url, TENANT, self.users)
        self.phases: list[dict[str, Any]] = []

    async def connect_all(self) -> None:
        for start in range(0, len(self.clients), 25):
            await asyncio.gather(*(c.connect() for c in self.clients[start : start + 25]))

    async def published_more(self, count: int) -> None:
        """Wait until ``count`` more notifications have been acknowledged."""
        target = len(self.publisher.published) + count
        deadline = time.monotonic() + 120
        while len(self.publisher.published) < target:
            assert time.monotonic() < deadline, "the publisher stalled"
            await asyncio.sleep(0.05)

    async def all_reconnected(self, connects: int, timeout: float = 90) -> None:
        await wait_for(
            self.changed,
            lambda: all(c.sio.connected and c.connects >= connects for c in self.clients),
            timeout,
            f"every client's connection #{connects}",
        )

    async def checkpoint(
        self, key: str, fault: str, tried: str, times: int, took: float
    ) -> dict[str, Any]:
        """Every client holds everything published so far, once: tally and record."""
        published = len(self.publisher.published)
        prefix = self.publisher.published[:published]
        expected = {
            c.user: [i for i, target in prefix if target in (None, c.user)] for c in self.clients
        }
        began = time.monotonic()
        with contextlib.suppress(AssertionError):  # what never came is counted as lost below
            await wait_for(
                self.changed,
                lambda: all(set(expected[c.user]) <= set(c.received) for c in self.clients),
                60,
                f"every client to catch up after {fault}",
            )
        caught_up = time.monotonic() - began
        sent = self.publisher.sent()
        everything = {i for i, _ in sent}
        lost = duplicated = leaked = out_of_order = 0
        for client in self.clients:
            mine = {i for i, target in sent if target in (None, client.user)}
            tally = client.tally(expected[client.user])
            lost += tally["lost"]
            duplicated += tally["duplicated"]
            out_of_order += tally["out_of_order"]
            # Another user's notification, or one that was never published at all.
            leaked += len({r for r in client.received if r not in mine or r not in everything})
        phase = {
            "key": ("chaos-" if self.store == "private" else "chaos-system-") + key,
            "fault": fault,
            "tried": tried,
            "times": times,
            "published": published,
            "lost": lost,
            "duplicated": duplicated,
            "leaked": leaked,
            "out_of_order": out_of_order,
            "resyncs": sum(len(c.resyncs) for c in self.clients),
            "fault_seconds": round(took, 1),
            "catch_up_seconds": round(caught_up, 1),
        }
        self.phases.append(phase)
        print(
            f"\n[{self.store}] {fault}: {published} published, {len(self.clients)} clients: "
            f"lost {lost}, duplicated {duplicated}, leaked {leaked}, out of order "
            f"{out_of_order}; caught up {caught_up:.1f}s after the fault ({took:.1f}s)"
        )
        return phase


async def _chaos(
    node: RestartableNode,
    redis: RedisProcess,
    restart_postgres: Callable[[], None],
    store: str,
    command: str,
) -> None:
    run = Run(node, store)
    began = time.monotonic()
    await run.connect_all()
    connected_in = time.monotonic() - began
    run.publisher.start()
    try:
        await run.published_more(STEP)
        # 1. SIGKILL the node and start it again on the same port, KILLS times.
        fault_began = time.monotonic()
        for kill in range(KILLS):
            node.crash()
            await asyncio.to_thread(node.start)
            await run.all_reconnected(kill + 2)
            await run.published_more(STEP)
        await run.checkpoint(
            "node-sigkill",
            "node SIGKILL + restart",
            f"{CLIENTS} clients reconnecting with `since` after each SIGKILL",
            KILLS,
            time.monotonic() - fault_began,
        )
        # 2. Redis dies and comes back: delivery goes on from the store meanwhile.
        fault_began = time.monotonic()
        await asyncio.to_thread(redis.stop)
        await run.published_more(STEP)
        await asyncio.to_thread(redis.start)
        await run.published_more(STEP)
        await run.checkpoint(
            "redis-restart",
            "Redis killed + restarted",
            f"SIGKILL of the bus under {CLIENTS} connected clients",
            1,
            time.monotonic() - fault_began,
        )
        # 3. PostgreSQL crashes and recovers.
        fault_began = time.monotonic()
        await asyncio.to_thread(restart_postgres)
        await run.published_more(STEP)
        how = (
            "immediate shutdown (crash recovery)" if store == "private" else "pg_ctlcluster restart"
        )
        await run.checkpoint(
            "postgres-restart",
            f"PostgreSQL restart ({store} cluster)",
            f"{how} under {CLIENTS} connected clients",
            1,
            time.monotonic() - fault_began,
        )
    finally:
        await run.publisher.stop()
    try:
        final = await run.checkpoint("end", "end of run", "everything published", 1, 0.0)
        async with httpx.AsyncClient(timeout=10) as http:
            ready = (await http.get(f"{node.url}/readyz")).status_code
    finally:
        await asyncio.gather(*(c.close() for c in run.clients))
    total = time.monotonic() - began
    for phase in run.phases[:-1]:
        Result(
            key=phase["key"],
            title=f"Chaos{'' if store == 'private' else ' (system PostgreSQL run)'}: "
            f"{phase['fault']}",
            tried=f"{phase['tried']}; a publisher at {run.publisher.rate:.0f}/s retrying "
            f"with the same id ({phase['published']} published by then)",
            times=phase["times"],
            command=command,
            lost=phase["lost"],
            duplicated=phase["duplicated"],
            leaked=phase["leaked"],
            passed=phase["lost"] == phase["duplicated"] == phase["leaked"] == 0
            and phase["out_of_order"] == 0,
            details={
                **phase,
                "clients": CLIENTS,
                "publisher_attempts": run.publisher.attempts,
                "publisher_statuses": dict(run.publisher.statuses),
                "connect_seconds": round(connected_in, 1),
                "run_seconds": round(total, 1),
            },
        ).write()
    print(
        f"\n[{store}] chaos: {len(run.publisher.published)} published "
        f"({run.publisher.attempts} attempts, {dict(run.publisher.statuses)}); "
        f"{CLIENTS} clients; {total:.0f}s"
    )
    for phase in run.phases:
        assert phase["lost"] == 0, phase
        assert phase["duplicated"] == 0, phase
        assert phase["leaked"] == 0, phase
        assert phase["out_of_order"] == 0, phase
    assert final["resyncs"] == 0, final
    # While the database restarts a publish is refused with 503 (retry), never a bare 500.
    assert "500" not in run.publisher.statuses, (dict(run.publisher.statuses), node.stderr())
    assert ready == 200, node.stderr()


async def test_chaos_node_redis_and_postgres_failures_lose_and_duplicate_nothing(
    private_postgres: PostgresProcess, redis: RedisProcess
) -> None:
    node = RestartableNode(
        private_postgres.url,
        redis.url,
        TOCSIN_BUS_HEARTBEAT_INTERVAL="0.3",
        TOCSIN_REPLAY_LIMIT="5000",
    )
    await asyncio.to_thread(node.start)
    try:
        await _chaos(
            node,
            redis,
            private_postgres.crash_and_start,
            "private",
            ("" if CLIENTS == 200 else f"TOCSIN_CHAOS_CLIENTS={CLIENTS} ")
            + ".venv/bin/pytest tests/reliability/test_chaos.py::"
            "test_chaos_node_redis_and_postgres_failures_lose_and_duplicate_nothing",
        )
    finally:
        node.close()


@pytest.mark.skipif(
    not SLOW, reason="restarts the machine's own PostgreSQL: set TOCSIN_SLOW=1 (make reliability)"
)
async def test_chaos_with_the_system_postgres_restarted(
    system_postgres_database: str, redis: RedisProcess
) -> None:
    if not SYSTEM_CLUSTERS:
        require_service("pg_ctlcluster", "no cluster under /etc/postgresql")
    node = RestartableNode(
        system_postgres_database,
        redis.url,
        TOCSIN_BUS_HEARTBEAT_INTERVAL="0.3",
        TOCSIN_REPLAY_LIMIT="5000",
    )
    await asyncio.to_thread(node.start)
    try:
        await _chaos(
            node,
            redis,
            _restart_system_postgres,
            "system",
            f"TOCSIN_SLOW=1 TOCSIN_CHAOS_CLIENTS={CLIENTS} .venv/bin/pytest "
            "tests/reliability/test_chaos.py::test_chaos_with_the_system_postgres_restarted",
        )
    finally:
        node.close()
