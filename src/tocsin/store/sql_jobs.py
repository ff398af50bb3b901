"""SQL queries of the durable job queue (mixed into SqlStore).

A job is claimed by one node at a time: on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets
nodes claim side by side without waiting on each other; SQLite has one writer, whose
``BEGIN IMMEDIATE`` transaction makes the select-then-update atomic. A claim is a lease:
a node that dies holding a job lets it go when the lease ends, and another node runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Table, and_, case, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tocsin.store.base import JobRecord, NewJob
from tocsin.store.sql_records import as_utc
from tocsin.store.tables import jobs

j = jobs.c
PENDING = "pending"


def _record(row: Row[*tuple[Any, ...]], claimed: bool = False) -> JobRecord:
    return JobRecord(
        key=row.key,
        kind=row.kind,
        run_at=as_utc(row.run_at) or datetime.now(UTC),
        payload=dict(row.payload),
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        attempts=int(row.attempts) + (1 if claimed else 0),
        status=row.status,
        last_error=row.last_error,
    )


def job_cursor(payload: dict[str, Any]) -> int | None:
    """The notification a job is about: its payload's ``cursor`` (purges and erasures take
    a notification's jobs along by it)."""
    cursor = payload.get("cursor")
    return cursor if isinstance(cursor, int) and not isinstance(cursor, bool) else None


# Rows of one multi-row INSERT (12 values each: far below SQLite's 32,766 variables).
INSERT_CHUNK = 500


class JobQueries:
    """The job queue's statements; needs the host's engine and writer."""

    @property
    def engine(self) -> AsyncEngine:
        """The host store's engine."""
        raise NotImplementedError

    def _writing(self) -> AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    def _insert_ignoring_duplicates(self, table: Table) -> Insert:
        raise NotImplementedError

    async def _add_jobs(self, conn: AsyncConnection, new_jobs: Sequence[NewJob]) -> int:
        """Insert the jobs whose keys are new (the first of a key repeated in the batch);
        returns how many rows this call inserted, so that of two nodes enqueueing one key
        at once only one counts it."""
        if not new_jobs:
            return 0
        now = datetime.now(UTC)
        first_of_key = {job.key: job for job in reversed(new_jobs)}
        rows = [
            {
                "key": job.key,
                "kind": job.kind,
                "tenant_id": job.tenant_id,
                "user_id": job.user_id,
                "run_at": job.run_at,
                "payload": job.payload,
                "cursor": job_cursor(job.payload),
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            for job in (first_of_key[key] for key in dict.fromkeys(j.key for j in new_jobs))
        ]
        inserted = 0
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            stmt = self._insert_ignoring_duplicates(jobs).values(chunk).returning(jobs.c.key)
            inserted += len((await conn.execute(stmt)).all())
        return inserted

    async def enqueue_jobs(self, new_jobs: Sequence[NewJob]) -> int:
        """Insert the jobs whose keys are new."""
        async with self._writing() as conn:
            return await self._add_jobs(conn, new_jobs)

    async def claim_jobs(
        self,
        worker: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        kinds: Sequence[str] | None = None,
    ) -> list[JobRecord]:
        """Due, pending, and free (never held, or the holder's lease ran out)."""
        due = [
            j.status == PENDING,
            j.run_at <= now,
            or_(j.locked_until.is_(None), j.locked_until < now),
        ]
        if kinds is not None:
            due.append(j.kind.in_(list(kinds)))
        async with self._writing() as conn:
            rows = (
                await conn.execute(
                    select(jobs)
                    .where(*due)
                    .order_by(j.run_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return []
            keys = [row.key for row in rows]
            await conn.execute(
                update(jobs)
                .where(j.key.in_(keys))
                .values(
                    locked_by=worker,
                    locked_until=now + timedelta(seconds=lease_seconds),
                    attempts=j.attempts + 1,
                    updated_at=now,
                )
            )
        return [_record(row, claimed=True) for row in rows]

    async def renew_job(self, key: str, worker: str, now: datetime, lease_seconds: float) -> bool:
        """A conditional update: a claim by another node (which locks the row, and only
        takes jobs whose lease ran out) and this renewal cannot both win."""
        async with self._writing() as conn:
            result = await conn.execute(
                update(jobs)
                .where(j.key == key, j.locked_by == worker, j.status == PENDING)
                .values(locked_until=now + timedelta(seconds=lease_seconds), updated_at=now)
            )
        return bool(result.rowcount)

    async def finish_job(self, key: str, worker: str, status: str, error: str | None) -> bool:
        """Only the holder may finish a job (a lease that ran out may have passed it on)."""
        async with self._writing() as conn:
            result = await conn.execute(
                update(jobs)
                .where(j.key == key, j.locked_by == worker, j.status == PENDING)
                .values(
                    status=status,
                    locked_by=None,
                    locked_until=None,
                    last_error=error,
                    updated_at=datetime.now(UTC),
                )
            )
        return bool(result.rowcount)

    async def retry_job(self, key: str, worker: str, run_at: datetime, error: str) -> bool:
        """Release the job to run again later."""
        async with self._writing() as conn:
            result = await conn.execute(
                update(jobs)
                .where(j.key == key, j.locked_by == worker, j.status == PENDING)
                .values(
                    run_at=run_at,
                    locked_by=None,
                    locked_until=None,
                    last_error=error[:2000],
                    updated_at=datetime.now(UTC),
                )
            )
        return bool(result.rowcount)

    async def move_job(self, key: str, run_at: datetime) -> bool:
        """A pending job that no node holds now runs at ``run_at`` instead."""
        now = datetime.now(UTC)
        async with self._writing() as conn:
            result = await conn.execute(
                update(jobs)
                .where(
                    j.key == key,
                    j.status == PENDING,
                    or_(j.locked_until.is_(None), j.locked_until < now),
                    j.run_at != run_at,
                )
                .values(run_at=run_at, updated_at=now)
            )
        return bool(result.rowcount)

    async def next_job_at(self) -> datetime | None:
        """When the soonest pending job can be claimed: its time, or its lease's end if held."""
        runnable = case(
            (and_(j.locked_until.is_not(None), j.locked_until > j.run_at), j.locked_until),
            else_=j.run_at,
        )
        async with self.engine.connect() as conn:
            soonest = await conn.scalar(select(func.min(runnable)).where(j.status == PENDING))
        if isinstance(soonest, str):  # SQLite returns the CASE's value untyped
            soonest = datetime.fromisoformat(soonest)
        return as_utc(soonest)

    async def list_jobs(
        self, *, status: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """Soonest first."""
        query = select(jobs).order_by(j.run_at, j.key).limit(limit)
        if status is not None:
            query = query.where(j.status == status)
        if kind is not None:
            query = query.where(j.kind == kind)
        async with self.engine.connect() as conn:
            return [_record(row) for row in await conn.execute(query)]
