"""The daily purge (DESIGN §9) on PostgreSQL: 100,000 notifications, of which exactly those
past their firm's retention go, in transactions of at most 1,000, while the server keeps
answering (its latencies are measured during the purge); the purge job runs once with two
job runners on one database, and a purge held by a node that died is finished by another.
And ``tocsin retention purge --now`` for operators."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, select

from tests.bulk import (
    advance_cursors,
    copy,
    delivery,
    insert,
    job,
    note,
    state,
)
from tests.conftest import make_settings
from tests.helpers import ServerThread, email, publish, tocsin_cli, token
from tocsin import retention
from tocsin.bus.local import LocalBus
from tocsin.jobrunner import JobRunner
from tocsin.metrics import REGISTRY
from tocsin.retention import PURGE_JOB, Retention, purge_job_key
from tocsin.service import NotificationService
from tocsin.store.base import JobRecord
from tocsin.store.sql import SqlStore
from tocsin.store.tables import deliveries, item_states, jobs, notifications

DAY = timedelta(days=1)
TOTAL = 100_000


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def plan_of_100k(now: datetime) -> tuple[list[dict[str, Any]], set[int]]:
    """The notifications, and the cursors that must stay. firm-a: half 400 days old (gone);
    firm-short keeps 30 days (its 60-day-old go); firm-long keeps 3650 days (its 400-day-old
    stay); the notifications to everyone follow the server (365); four more firms, half
    old."""
    rows: list[dict[str, Any]] = []
    kept: set[int] = set()
    for cursor in range(1, TOTAL + 1):
        slot = cursor % 10
        if slot < 5:
            tenant, old, keeps = "firm-a", 400, False
        elif slot == 5:
            tenant, old, keeps = "firm-short", 60, False
        elif slot == 6:
            tenant, old, keeps = "firm-long", 400, True
        elif slot == 7:
            tenant, old, keeps = None, 400, False
        else:
            tenant, old, keeps = f"firm-{cursor % 20:02d}", 400, False
        aged = (cursor // 10) % 2 == 0
        age = old if aged else 10
        user = "alice" if tenant and cursor % 3 == 0 else None
        rows.append(note(cursor, tenant, user, now - age * DAY + timedelta(seconds=cursor)))
        if keeps or not aged:
            kept.add(cursor)
    return rows, kept


async def cursors(store: SqlStore, table: Table) -> set[int]:
    """The cursors of ``table``'s rows among the 100,000 (not those published since)."""
    async with store.engine.connect() as conn:
        found = await conn.execute(select(table.c.cursor).where(table.c.cursor <= TOTAL))
        return set(found.scalars())


@pytest.fixture
async def big_store(store_url: str) -> AsyncIterator[tuple[str, set[int]]]:
    """100,000 notifications (a state for one in five, a delivery line and a job for one in
    ten), and the cursors that must stay."""
    store = SqlStore(store_url)
    await store.open(migrate=True)
    try:
        await store.patch_tenant_settings("firm-short", {"retention_days": 30}, None)
        await store.patch_tenant_settings("firm-long", {"retention_days": 3650}, None)
        now = datetime.now(UTC)
        rows, kept = plan_of_100k(now)
        related = {
            table: [
                make(r["cursor"], r["tenant_id"] or "firm-a", "bob", r["accepted_at"])
                for r in rows[::every]
            ]
            for table, every, make in (
                (item_states, 5, state),
                (deliveries, 10, delivery),
                (jobs, 10, job),
            )
        }
        for table, table_rows in [(notifications, rows), *related.items()]:
            if store.is_sqlite:
                await insert(store, table, table_rows)
            else:
                await copy(store_url, table, table_rows)
        await advance_cursors(store, TOTAL)
        # As autovacuum would after such a load: the planner needs the tables' statistics.
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
    finally:
        await store.close()
    yield store_url, kept


async def test_100k_purged_in_bounded_batches_while_the_server_answers(
    big_store: tuple[str, set[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, kept = big_store
    # Several runs of the job, each handing the rest to the next.
    monkeypatch.setattr(retention, "RUN_BATCHES", 10)
    batches_before = sample("tocsin_retention_batches_total")
    purged_before = sample("tocsin_retention_purged_total", kind="notifications")
    watcher = SqlStore(url)
    await watcher.open(migrate=False)
    node = ServerThread(make_settings(url))
    latencies: list[float] = []
    answered_during = 0
    began = time.monotonic()
    node.start()  # the node plans today's purge and starts it at once
    try:
        purging = True

        async def watch() -> None:
            nonlocal purging
            while not all_done(await watcher.list_jobs(kind=PURGE_JOB)):
                assert time.monotonic() - began < 60, "the purge took over a minute"
                await asyncio.sleep(0.02)
            purging = False

        async def probe() -> None:
            nonlocal answered_during
            alice = {"Authorization": f"Bearer {token('alice', 'firm-a')}"}
            async with httpx.AsyncClient(base_url=node.url, timeout=10) as http:
                n = 0
                while purging:
                    n += 1
                    start = time.monotonic()
                    health = await http.get("/healthz")
                    inbox = await http.get("/api/v1/inbox", params={"limit": 50}, headers=alice)
                    published = await publish(http, email("alice", "firm-a", f"pendant {n}"))
                    latencies.append(time.monotonic() - start)
                    assert health.status_code == 200
                    assert inbox.status_code == 200 and len(inbox.json()["items"]) == 50
                    assert published.status_code == 202
                    if purging:
                        answered_during += 1

        await asyncio.gather(watch(), probe())
        took = time.monotonic() - began
    finally:
        node.close()
    try:
        assert await cursors(watcher, notifications) == kept
        assert await cursors(watcher, item_states) == {c for c in kept if c % 5 == 1}
        assert await cursors(watcher, deliveries) == {c for c in kept if c % 10 == 1}
        assert await cursors(watcher, jobs) == {c for c in kept if c % 10 == 1}
        # What was published during the purge is all there.
        assert len(await watcher.fetch_after(TOTAL, 10_000)) == len(latencies)
        parts = await watcher.list_jobs(kind=PURGE_JOB)
    finally:
        await watcher.close()
    gone = TOTAL - len(kept)
    batches = sample("tocsin_retention_batches_total") - batches_before
    assert sample("tocsin_retention_purged_total", kind="notifications") - purged_before == gone
    assert gone <= 1000 * batches and batches >= gone / 1000
    # Each part of the day's purge did at most RUN_BATCHES batches, then wrote the next.
    runs = len(parts)
    assert runs >= gone / 1000 / 10
    assert {p.key for p in parts} == {
        purge_job_key(datetime.now(UTC).date(), part) for part in range(1, runs + 1)
    }
    latencies.sort()
    print(
        f"\n{url.split(':')[0]}: purged {gone} of {TOTAL} in {took:.1f} s, {batches:.0f} "
        f"batches, {runs} runs of the job; {answered_during} rounds (healthz, inbox, "
        f"publish) answered meanwhile, p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )
    assert answered_during >= 10
    assert latencies[-1] < 2.0


def all_done(parts: list[JobRecord]) -> bool:
    """Whether the day's purge is over: it has parts, and every one is done."""
    return bool(parts) and all(p.status == "done" for p in parts)


async def old_notifications(postgres_url: str, count: int) -> None:
    """``count`` notifications of firm-a, 400 days old."""
    now = datetime.now(UTC)
    rows = [note(c, "firm-a", None, now - 400 * DAY) for c in range(1, count + 1)]
    await copy(postgres_url, notifications, rows)


async def test_the_purge_job_runs_once_with_two_runners(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "RUN_BATCHES", 2)  # 5 batches: three parts
    stores = [SqlStore(postgres_url), SqlStore(postgres_url)]
    await stores[0].open(migrate=True)
    await stores[1].open(migrate=False)
    await old_notifications(postgres_url, 5000)
    runs: list[tuple[str, int]] = []
    running = 0
    most_at_once = 0
    runners = []
    for store in stores:
        purge = Retention(NotificationService(make_settings(postgres_url), store, LocalBus()))

        async def counted(
            job: JobRecord, purge: Retention = purge, store: SqlStore = store
        ) -> None:
            nonlocal running, most_at_once
            running += 1
            most_at_once = max(most_at_once, running)
            try:
                before = len(await store.fetch_after(0, 10_000))
                await purge.run_job(job)
                runs.append((job.key, before - len(await store.fetch_after(0, 10_000))))
            finally:
                running -= 1

        runners.append(
            JobRunner(
                store,
                {PURGE_JOB: counted},
                poll_interval=0.05,
                lease=30,
                before_claim=[purge.plan],
            )
        )
    try:
        for runner in runners:
            await runner.start()
        deadline = time.monotonic() + 30
        while not all_done(await stores[0].list_jobs(kind=PURGE_JOB)):
            assert time.monotonic() < deadline, runs
            await asyncio.sleep(0.05)
        for runner in runners:
            await runner.stop()
        # Done is done: neither runner runs it again.
        assert [await runner.run_due() for runner in runners] == [0, 0]
        today = datetime.now(UTC).date()
        assert most_at_once == 1
        # Each part purges its share, then writes the next, each run once.
        assert runs == [
            (purge_job_key(today, 1), 2000),
            (purge_job_key(today, 2), 2000),
            (purge_job_key(today, 3), 1000),
        ]
        assert await stores[0].fetch_after(0, 10) == []
    finally:
        for runner in runners:
            await runner.stop()
        for store in stores:
            await store.close()


async def test_a_purge_held_by_a_dead_node_is_finished_by_another(postgres_url: str) -> None:
    store = SqlStore(postgres_url)
    await store.open(migrate=True)
    try:
        await old_notifications(postgres_url, 3000)
        service = NotificationService(make_settings(postgres_url), store, LocalBus())
        purge = Retention(service)
        await purge.plan()
        now = datetime.now(UTC)
        # A node claims the purge, deletes one batch, and dies.
        [held] = await store.claim_jobs("dead-node", now, 60, 10)
        assert held.kind == PURGE_JOB
        await purge.purge(max_batches=1)
        survivor = JobRunner(store, purge.handlers(), poll_interval=1, lease=60)
        assert await survivor.run_due(now) == 0  # still held
        assert len(await store.fetch_after(0, 5000)) == 2000
        after_the_lease = now + timedelta(seconds=61)
        for _ in range(10):
            await survivor.run_due(after_the_lease)
            [found] = await store.list_jobs(kind=PURGE_JOB)
            if found.status == "done":
                break
        assert found.status == "done" and found.attempts >= 2
        assert await store.fetch_after(0, 10) == []
    finally:
        await store.close()


async def test_operators_purge_at_a_given_time(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url)
    store = SqlStore(sqlite_url)
    await store.open(migrate=True)
    at = datetime(2026, 6, 1, tzinfo=UTC)
    try:
        await store.patch_tenant_settings("firm-a", {"retention_days": 30}, None)
        await insert(
            store,
            notifications,
            [note(1, "firm-a", "alice", at - 31 * DAY), note(2, "firm-a", None, at - 29 * DAY)],
        )
        await insert(store, item_states, [state(1, "firm-a", "alice", at - 31 * DAY)])
    finally:
        await store.close()
    printed = await asyncio.to_thread(
        tocsin_cli, settings, "retention", "purge", "--now", "2026-06-01T02:00+02:00"
    )
    report = json.loads(printed)
    assert report == {
        "notifications": 1,
        "states": 1,
        "deliveries": 0,
        "jobs": 0,
        "outboxRows": 0,
        "batches": report["batches"],
        "complete": True,
    }
    store = SqlStore(sqlite_url)
    await store.open(migrate=False)
    try:
        assert [n.cursor for n in await store.fetch_after(0, 10)] == [2]
    finally:
        await store.close()
