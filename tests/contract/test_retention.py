"""The retention purge (DESIGN §9), on every store backend (SQLite and PostgreSQL): exactly
the notifications older than their tenant's retention go (a millisecond past the limit goes,
the limit itself stays), with their states, delivery lines and jobs; a firm's own retention
wins over the server's, either way; the notifications to everyone follow the server's; a
purge that stops at its budget leaves a consistent store and finishes on the next run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.bulk import delivery, insert, job, note, state
from tests.conftest import make_settings
from tocsin import retention
from tocsin.bus.local import LocalBus
from tocsin.jobrunner import JobRunner
from tocsin.retention import Retention
from tocsin.service import NotificationService
from tocsin.store.sql import SqlStore
from tocsin.store.tables import deliveries, item_states, jobs, notifications, outbox

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MS = timedelta(milliseconds=1)
PER_CASE = 4  # rows of each case: more than a batch of 3

# (tenant, age at NOW, purged?) — the server keeps 365 days; firm-short 30, firm-long 3650;
# firm-named has settings, but not its own retention.
CASES = [
    *[(t, 365 * DAY + MS, True) for t in ("firm-a", "firm-named", None)],
    *[(t, 365 * DAY, False) for t in ("firm-a", "firm-named", None)],
    ("firm-a", 400 * DAY, True),
    ("firm-a", 364 * DAY, False),
    ("firm-short", 30 * DAY + MS, True),
    ("firm-short", 30 * DAY, False),
    ("firm-short", 400 * DAY, True),
    ("firm-long", 400 * DAY, False),
    ("firm-long", 3650 * DAY, False),
    ("firm-long", 3650 * DAY + MS, True),
]


async def cursors_of(store: SqlStore, table: Any) -> list[int]:
    async with store.engine.connect() as conn:
        return sorted((await conn.execute(select(table.c.cursor))).scalars())


@pytest.fixture
async def filled(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> dict[str, set[int]]:
    """The cases, each with a state, a delivery line and a job per notification; the
    cursors that must go and those that must stay."""
    monkeypatch.setattr(retention, "BATCH", 3)
    await store.patch_tenant_settings("firm-short", {"retention_days": 30}, None)
    await store.patch_tenant_settings("firm-long", {"retention_days": 3650}, None)
    await store.patch_tenant_settings("firm-named", {"name": "Cabinet"}, None)
    rows, states, lines, their_jobs = [], [], [], []
    expected: dict[str, set[int]] = {"gone": set(), "kept": set()}
    cursor = 0
    for tenant, age, purged in CASES:
        for n in range(PER_CASE):
            cursor += 1
            accepted = NOW - age
            user = "alice" if n % 2 and tenant else None
            # Rows stored before accepted_at existed are judged by their publish time.
            rows.append(note(cursor, tenant, user, None if n == 3 else accepted, accepted))
            who = tenant or "firm-a"
            states.append(state(cursor, who, "alice", accepted))
            lines.append(delivery(cursor, who, "alice", accepted))
            their_jobs.append(job(cursor, who, "alice", accepted))
            expected["gone" if purged else "kept"].add(cursor)
    await insert(store, notifications, rows)
    await insert(store, item_states, states)
    await insert(store, deliveries, lines)
    await insert(store, jobs, their_jobs)
    return expected


async def test_purge_takes_exactly_what_is_past_its_retention(
    store: SqlStore, filled: dict[str, set[int]]
) -> None:
    service = NotificationService(make_settings(store.url), store, LocalBus())
    report = await Retention(service).purge(NOW)
    kept = sorted(filled["kept"])
    for table in (notifications, item_states, deliveries, jobs):
        assert await cursors_of(store, table) == kept, table.name
    gone = len(filled["gone"])
    assert report.to_json() == {
        "notifications": gone,
        "states": gone,
        "deliveries": gone,
        "jobs": gone,
        "outboxRows": 0,
        "batches": report.batches,
        "complete": True,
    }
    # Batches of at most 3: every scope with something to purge took several.
    assert report.batches >= gone // 3
    again = await Retention(service).purge(NOW)
    assert again.purged.notifications == 0 and not again.more


async def test_a_purge_stopped_at_its_budget_goes_on_where_it_stopped(
    store: SqlStore, filled: dict[str, set[int]]
) -> None:
    service = NotificationService(make_settings(store.url), store, LocalBus())
    first = await Retention(service).purge(NOW, max_batches=2)
    assert first.more and first.batches == 2
    assert first.purged.notifications == 6  # two full batches of 3
    left = set(await cursors_of(store, notifications))
    assert len(filled["gone"] - left) == 6 and filled["kept"] <= left
    # What went took its states along: nothing half-purged.
    assert set(await cursors_of(store, item_states)) == left
    rest = await Retention(service).purge(NOW)
    assert not rest.more
    assert first.purged.notifications + rest.purged.notifications == len(filled["gone"])
    assert set(await cursors_of(store, notifications)) == filled["kept"]


async def test_old_finished_jobs_go_pending_ones_stay(store: SqlStore) -> None:
    old, recent = NOW - 400 * DAY, NOW - 8 * DAY
    rows = [
        {**job(0, "firm-a", "alice", old), "key": "digest:a:old", "cursor": None},
        {**job(0, "firm-a", "alice", old, "failed"), "key": "digest:a:failed", "cursor": None},
        {**job(0, "firm-a", "alice", old, "pending"), "key": "digest:a:due", "cursor": None},
        {**job(0, "firm-a", "alice", recent), "key": "digest:a:recent", "cursor": None},
    ]
    await insert(store, jobs, rows)
    service = NotificationService(make_settings(store.url), store, LocalBus())
    report = await Retention(service).purge(NOW)
    assert report.purged.jobs == 2
    assert sorted(j.key for j in await store.list_jobs()) == ["digest:a:due", "digest:a:recent"]


async def test_every_tenant_is_reached_however_many_there_are(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More firms than a part's budget: 60 with nothing to purge (they cost no budget), 8
    with an old notification each, and an old one to everyone. The day's purge goes on
    part after part (``purge:<day>:<n>``) from the last firm done, and reaches them all."""
    monkeypatch.setattr(retention, "RUN_BATCHES", 3)
    now = datetime.now(UTC)
    rows = [note(c, f"firm-{c:02d}", None, now - DAY, now - DAY) for c in range(1, 61)]
    rows += [note(c, f"firm-z{c}", None, now - 400 * DAY, now) for c in range(61, 69)]
    rows.append(note(69, None, None, now - 400 * DAY, now))
    await insert(store, notifications, rows)
    service = NotificationService(make_settings(store.url), store, LocalBus())
    purge = Retention(service)
    runner = JobRunner(
        store, purge.handlers(), poll_interval=1, lease=30, before_claim=[purge.plan]
    )
    ran = 0
    for _ in range(10):
        ran += await runner.run_due()
        parts = await store.list_jobs(kind=retention.PURGE_JOB)
        if parts and all(p.status == "done" for p in parts):
            break
    assert await cursors_of(store, notifications) == list(range(1, 61))
    # Three firms per part (8 firms, then everyone's and the jobs: 4 parts), each once.
    today = now.date()
    assert sorted(p.key for p in parts) == sorted(
        retention.purge_job_key(today, part) for part in range(1, 5)
    )
    assert ran == 4 and all(p.attempts == 1 for p in parts)


async def test_failed_outbox_rows_go_after_the_servers_retention(store: SqlStore) -> None:
    """A row the outbox could not publish keeps the whole notification: it goes when older
    than the server's retention; a pending row (not failed) stays whatever its age."""
    body = {"event": "system-notification", "title": "t", "message": "m", "type": "info"}
    rows = [
        {
            "id": 1,
            "notification": body,
            "created_at": NOW - 400 * DAY,
            "failed_at": NOW - 400 * DAY,
        },
        {
            "id": 2,
            "notification": body,
            "created_at": NOW - 400 * DAY,
            "failed_at": NOW - 364 * DAY,
        },
        {"id": 3, "notification": body, "created_at": NOW - 400 * DAY, "failed_at": None},
    ]
    await insert(store, outbox, rows)
    service = NotificationService(make_settings(store.url), store, LocalBus())
    report = await Retention(service).purge(NOW)
    assert report.purged.outbox_rows == 1
    async with store.engine.connect() as conn:
        assert sorted((await conn.execute(select(outbox.c.id))).scalars()) == [2, 3]
