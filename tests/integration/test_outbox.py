"""The transactional outbox (DESIGN §9, docs/outbox.md) on a real PostgreSQL: the app's
transaction decides whether a notification exists, and Tocsin publishes each committed row
once, in commit order, across restarts and nodes."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from tests.cluster import NodeProcess, RedisProcess
from tests.conftest import make_settings
from tests.helpers import Client, ServerThread, connected, email, source_ids
from tocsin.app import create_service
from tocsin.outbox import OutboxConsumer
from tocsin.sdk.outbox import publish_in, publish_in_async
from tocsin.store import pg_outbox
from tocsin.store.sql import SqlStore

# Far above every wait below: a delivery within them is NOTIFY's, never the poll's.
POLL = "30"
PUBLISH = "SELECT tocsin_publish($1, $2::jsonb, $3)"


def dsn(url: str) -> str:
    """The asyncpg DSN of a store URL (the host app's own connection)."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def commit(
    app: asyncpg.Connection, notification: dict[str, Any], key: str | None = None
) -> int:
    """The app's transaction: a change to its own table and its notification, committed."""
    async with app.transaction():
        await app.execute(
            "INSERT INTO dossiers (id, status) VALUES ($1, 'updated') "
            "ON CONFLICT (id) DO UPDATE SET status = 'updated'",
            str(notification.get("id")),
        )
        return int(await app.fetchval(PUBLISH, "firm-a", json.dumps(notification), key))


async def outbox_rows(app: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await app.fetch("SELECT id, failed_at, error FROM tocsin_outbox ORDER BY id"))


async def settled(app: asyncpg.Connection, timeout: float = 10.0) -> list[asyncpg.Record]:
    """The outbox's rows once no pending one is left: a consumer deletes a row in the
    transaction that claimed it, which commits just after its notification reached clients."""
    deadline = time.monotonic() + timeout
    query = "SELECT count(*) FROM tocsin_outbox WHERE failed_at IS NULL"
    while await app.fetchval(query):
        assert time.monotonic() < deadline, await outbox_rows(app)
        await asyncio.sleep(0.02)
    return await outbox_rows(app)


async def stored_per_source(app: asyncpg.Connection) -> dict[str, int]:
    rows = await app.fetch("SELECT source_id, count(*) FROM notifications GROUP BY source_id")
    return {r[0]: r[1] for r in rows}


@pytest.fixture
def node(postgres_url: str) -> Iterator[ServerThread]:
    server = ServerThread(make_settings(postgres_url, outbox_poll=float(POLL), max_body_bytes=4096))
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def app(postgres_url: str, node: ServerThread) -> AsyncIterator[asyncpg.Connection]:
    """The host app's own connection to the shared database (Tocsin has migrated it)."""
    conn = await asyncpg.connect(dsn(postgres_url))
    await conn.execute("CREATE TABLE dossiers (id text PRIMARY KEY, status text NOT NULL)")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def alice(node: ServerThread) -> AsyncIterator[Client]:
    client = Client(node.url, "alice", "firm-a")
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()


async def test_raw_sql_commit_delivers_once_and_rollback_never(
    app: asyncpg.Connection, alice: Client
) -> None:
    await commit(app, email("alice", "firm-a", id="committed"))
    with pytest.raises(RuntimeError):
        async with app.transaction():
            await app.execute("INSERT INTO dossiers VALUES ('rolled-back', 'x')")
            await app.fetchval(
                PUBLISH, "firm-a", json.dumps(email("alice", "firm-a", id="rb")), None
            )
            raise RuntimeError("the app's change fails after its notification was written")
    await commit(app, email("alice", "firm-a", id="marker"))
    await alice.log.wait_for(lambda _: "marker" in source_ids(alice.notifications()))
    # The marker came after the rolled-back one would have: it never will.
    assert source_ids(alice.notifications()) == ["committed", "marker"]
    assert await stored_per_source(app) == {"committed": 1, "marker": 1}
    assert await app.fetchval("SELECT count(*) FROM dossiers WHERE id = 'rolled-back'") == 0
    assert await settled(app) == []


def documented_sql() -> str:
    """The first SQL example of docs/outbox.md, as a reader would paste it."""
    doc = (Path(__file__).parents[2] / "docs" / "outbox.md").read_text()
    return doc.split("```sql\n", 1)[1].split("```", 1)[0]


async def test_the_documented_sql_delivers(node: ServerThread, app: asyncpg.Connection) -> None:
    async with connected(node.url, "camille", "cabinet-laurent") as camille:
        await app.execute(documented_sql())
        [received] = await camille.wait_notifications(1)
    assert received["sourceId"] == "D-2026-014" and received["status"] == "AUDIENCE_FIXEE"
    assert await settled(app) == []


async def test_sqlalchemy_session_helper(
    postgres_url: str, app: asyncpg.Connection, alice: Client
) -> None:
    engine = create_async_engine(postgres_url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(text("INSERT INTO dossiers VALUES ('d-async', 'open')"))
            await publish_in_async(session, "firm-a", email("alice", "firm-a", id="async"))
        # The synchronous helper, on the Session that AsyncSession runs underneath.
        async with AsyncSession(engine) as session, session.begin():
            await session.run_sync(
                lambda s: publish_in(s, "firm-a", email("alice", "firm-a", id="sync"), key="k-sync")
            )
        with pytest.raises(RuntimeError):
            async with AsyncSession(engine) as session, session.begin():
                await session.execute(text("INSERT INTO dossiers VALUES ('d-rb', 'open')"))
                await publish_in_async(
                    session, "firm-a", email("alice", "firm-a", id="rolled-back")
                )
                raise RuntimeError("rolled back")
        async with engine.begin() as conn:
            # A retry of the keyed one, in another transaction: nothing new.
            await publish_in_async(
                conn, "firm-a", email("alice", "firm-a", id="sync"), key="k-sync"
            )
            await publish_in_async(conn, "firm-a", email("alice", "firm-a", id="marker"))
    finally:
        await engine.dispose()
    await alice.log.wait_for(lambda _: "marker" in source_ids(alice.notifications()))
    assert source_ids(alice.notifications()) == ["async", "sync", "marker"]
    assert await stored_per_source(app) == {"async": 1, "sync": 1, "marker": 1}
    assert [r[0] for r in await app.fetch("SELECT id FROM dossiers")] == ["d-async"]


async def test_a_row_committed_late_with_a_lower_id_is_not_skipped(
    postgres_url: str, app: asyncpg.Connection, alice: Client
) -> None:
    slow = await asyncpg.connect(dsn(postgres_url))
    try:
        tx = slow.transaction()
        await tx.start()
        low = await slow.fetchval(
            PUBLISH, "firm-a", json.dumps(email("alice", "firm-a", id="low")), None
        )
        high = await commit(app, email("alice", "firm-a", id="high"))
        assert low < high
        await alice.wait_notifications(1)
        await tx.commit()
    finally:
        await slow.close()
    await alice.wait_notifications(2)
    # In commit order, the order the app could observe.
    assert source_ids(alice.notifications()) == ["high", "low"]
    assert await settled(app) == []


async def test_bad_rows_are_marked_failed_and_block_nothing(
    app: asyncpg.Connection, alice: Client
) -> None:
    bad = [
        {**email("alice", "firm-a"), "event": "dossier-exploded"},
        email("alice", "firm-b"),  # not the row's tenant
        {"event": "email-received", "userId": "alice"},  # no subject, no sender
        email("alice", "firm-a", subject="x" * 5000),  # over TOCSIN_MAX_BODY_BYTES
    ]
    async with app.transaction():
        await app.fetchval(
            PUBLISH, "firm-a", json.dumps(email("alice", "firm-a", id="before")), None
        )
        for notification in bad:
            await app.fetchval(PUBLISH, "firm-a", json.dumps(notification), None)
        await app.fetchval(PUBLISH, "firm-a", "[1, 2]", None)
        await app.fetchval(
            PUBLISH, "firm-a", json.dumps(email("alice", "firm-a", id="after")), None
        )
    await alice.log.wait_for(lambda _: "after" in source_ids(alice.notifications()))
    # A later transaction goes through too: failed rows are not tried again.
    await commit(app, email("alice", "firm-a", id="later"))
    await alice.log.wait_for(lambda _: "later" in source_ids(alice.notifications()))
    assert source_ids(alice.notifications()) == ["before", "after", "later"]
    failed = await settled(app)
    assert len(failed) == 5 and all(row["failed_at"] is not None for row in failed)
    errors = [row["error"] for row in failed]
    assert "event" in errors[0] and "dossier-exploded" in errors[0]
    assert "tenantId" in errors[1] and "firm-b" in errors[1]
    assert "subject" in errors[2]
    assert "larger than 4096 bytes" in errors[3]
    assert "JSON object" in errors[4]


async def test_listen_wakes_an_idle_consumer_well_under_the_poll(
    app: asyncpg.Connection, alice: Client
) -> None:
    await commit(app, email("alice", "firm-a", id="warm-up"))
    await alice.wait_notifications(1)
    delays = []
    for i in range(5):
        # Each wait starts with the consumer idle: the one before was delivered.
        began = time.perf_counter()
        await commit(app, email("alice", "firm-a", id=f"n{i}"))
        await alice.wait_notifications(2 + i, timeout=5)
        delays.append(time.perf_counter() - began)
    print(
        f"outbox commit → delivery: median {statistics.median(delays) * 1000:.1f} ms, "
        f"max {max(delays) * 1000:.1f} ms (poll {POLL} s)"
    )
    assert max(delays) < 2.0


async def test_a_thousand_rows_committed_while_tocsin_is_down(postgres_url: str) -> None:
    store = SqlStore(postgres_url)
    await store.open(migrate=True)  # Tocsin ran once, then stopped
    await store.close()
    app = await asyncpg.connect(dsn(postgres_url))
    try:
        ids = []
        for i in range(1000):  # 1,000 transactions, committed one after the other
            ids.append(
                await app.fetchval(
                    PUBLISH, "firm-a", json.dumps(email("alice", "firm-a", id=f"r{i}")), None
                )
            )
        assert ids == sorted(ids)
        server = ServerThread(
            make_settings(postgres_url, outbox_poll=float(POLL), replay_limit=2000)
        )
        began = time.perf_counter()
        server.start()
        try:
            client = Client(server.url, "alice", "firm-a")
            await client.connect(since=0)
            try:
                received = await client.wait_notifications(1000, timeout=30)
            finally:
                await client.disconnect()
            elapsed = time.perf_counter() - began
            stored = await app.fetch("SELECT source_id FROM notifications ORDER BY cursor")
            leftover = await settled(app)
        finally:
            server.close()
    finally:
        await app.close()
    expected = [f"r{i}" for i in range(1000)]
    print(f"1,000 outbox rows published and delivered {elapsed:.2f} s after start")
    assert source_ids(received) == expected
    assert [r[0] for r in stored] == expected
    assert leftover == []


async def published_by(node: NodeProcess) -> float:
    """Rows the node's consumer published or found already published (its /metrics)."""
    async with httpx.AsyncClient() as http:
        lines = (await http.get(f"{node.url}/metrics")).text.splitlines()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith("tocsin_outbox_rows_total{") and 'outcome="failed"' not in line
    )


async def write(postgres_url: str, writers: int, transactions: int, phase: str) -> None:
    """``writers`` app connections at once, each committing ``transactions`` of 4 rows."""

    async def one(w: int) -> None:
        conn = await asyncpg.connect(dsn(postgres_url))
        try:
            for t in range(transactions):
                async with conn.transaction():
                    for r in range(4):
                        n = email("alice", "firm-a", id=f"{phase}:w{w}:{t:03}:{r}")
                        await conn.fetchval(PUBLISH, "firm-a", json.dumps(n), None)
        finally:
            await conn.close()

    await asyncio.gather(*(one(w) for w in range(writers)))


async def test_two_nodes_publish_each_row_once(postgres_url: str, redis: RedisProcess) -> None:
    nodes = [
        NodeProcess(
            postgres_url, redis.url, TOCSIN_OUTBOX_POLL=POLL, TOCSIN_BUS_HEARTBEAT_INTERVAL="0.3"
        )
        for _ in range(2)
    ]
    clients = [Client(n.url, "alice", "firm-a") for n in nodes]
    try:
        await asyncio.gather(*(asyncio.to_thread(n.start) for n in nodes))
        for c in clients:
            await c.connect()
        await write(postgres_url, 4, 10, "a")  # both nodes hear every commit
        for c in clients:
            await c.wait_notifications(160, timeout=30)
        phase_a = [await published_by(n) for n in nodes]
        # The node consuming at that moment dies while the app writes: what it held is
        # rolled back, or was published (the other's turn is then a no-op), never lost.
        writing = asyncio.create_task(write(postgres_url, 4, 10, "b"))
        for c in clients:
            await c.wait_notifications(160 + 40, timeout=30)
        lately = [await published_by(n) - a for n, a in zip(nodes, phase_a, strict=True)]
        active = lately.index(max(lately))
        survivor, watcher = nodes[1 - active], clients[1 - active]
        await asyncio.to_thread(nodes[active].kill)
        at_kill = await published_by(survivor)
        await writing
        await write(postgres_url, 4, 5, "c")  # the survivor alone
        await commit_marker(postgres_url)
        await watcher.log.wait_for(lambda _: "marker" in source_ids(watcher.notifications()), 30)
        after_kill = await published_by(survivor) - at_kill
        app = await asyncpg.connect(dsn(postgres_url))
        try:
            per_source = await stored_per_source(app)
            leftover = await settled(app)
        finally:
            await app.close()
    finally:
        for c in clients:
            await c.disconnect()
        for n in nodes:
            n.close()
    received = source_ids(watcher.notifications())
    print(
        f"outbox rows consumed by each node: {phase_a} (160 rows), then {lately} before node "
        f"{active} was killed, then {after_kill:g} by the survivor"
    )
    assert len(per_source) == 401 and set(per_source.values()) == {1}
    assert len(received) == 401 and set(received) == set(per_source)
    assert after_kill >= 81  # phase c and the marker, committed after the kill
    # Each writer's transactions, one after the other, arrive in that order.
    for writer in {r.rsplit(":", 2)[0] for r in received if r != "marker"}:
        mine = [r for r in received if r.startswith(writer + ":")]
        assert mine == sorted(mine)
    assert leftover == []


async def commit_marker(postgres_url: str) -> None:
    app = await asyncpg.connect(dsn(postgres_url))
    try:
        await app.fetchval(
            PUBLISH, "firm-a", json.dumps(email("alice", "firm-a", id="marker")), None
        )
    finally:
        await app.close()


class Crash(Exception):
    """The node dies between publishing a batch and deleting its rows."""


async def test_a_replay_after_a_crash_is_a_no_op_and_one_node_consumes_at_a_time(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = create_service(make_settings(postgres_url, outbox=False))
    await service.store.open(migrate=True)
    await service.bus.start(None)
    app = await asyncpg.connect(dsn(postgres_url))
    other_node = await asyncpg.connect(dsn(postgres_url))
    consumer = OutboxConsumer(service, postgres_url, poll_interval=30, max_bytes=4096)
    try:
        await app.fetchval(
            PUBLISH, "firm-a", json.dumps(email("alice", "firm-a", id="crash")), None
        )
        # The same key in two transactions: one notification.
        for _ in range(2):
            await app.fetchval(
                PUBLISH, "firm-a", json.dumps(email("alice", "firm-a", id="keyed")), "k1"
            )

        async def crash(*_args: object) -> None:
            raise Crash

        with monkeypatch.context() as patch:
            patch.setattr(pg_outbox, "finish", crash)
            with pytest.raises(Crash):
                await consumer.drain()
        # Published and committed by the store; the claim rolled back with the "crash".
        assert await stored_per_source(app) == {"crash": 1, "keyed": 1}
        assert len(await outbox_rows(app)) == 3
        first = await app.fetch("SELECT public_id, cursor FROM notifications ORDER BY cursor")

        # While another node consumes (holds the lock), this one leaves the rows alone.
        async with other_node.transaction():
            await other_node.execute("SELECT pg_advisory_xact_lock($1)", pg_outbox.CONSUMER_LOCK)
            assert await consumer.drain() == 0
            assert len(await outbox_rows(app)) == 3
        assert await consumer.drain() == 3
        assert await outbox_rows(app) == []
        # The replay stored nothing new: the same notifications, same ids and cursors.
        assert (
            await app.fetch("SELECT public_id, cursor FROM notifications ORDER BY cursor") == first
        )
    finally:
        await consumer.stop()
        await other_node.close()
        await app.close()
        await service.bus.stop()
        await service.store.close()


async def test_sqlite_has_the_table_and_no_consumer(sqlite_url: str) -> None:
    store = SqlStore(sqlite_url)
    await store.open(migrate=True)
    try:
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM tocsin_outbox"))).scalar() == 0
            # Nothing would consume it: the helper says so rather than write a dead row.
            with pytest.raises(ValueError, match="PostgreSQL only"):
                await publish_in_async(conn, "firm-a", email("alice", "firm-a"))
    finally:
        await store.close()
    server = ServerThread(make_settings(sqlite_url))
    server.start()
    try:
        assert server.app.other_asgi_app.state.outbox is None
    finally:
        server.close()
