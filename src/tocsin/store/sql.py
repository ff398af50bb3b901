"""The SQL store (SQLAlchemy 2 Core, async): SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Insert,
    Table,
    case,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tocsin.models import Identity, StoredNotification
from tocsin.store.base import Draft, Store, StoreResult
from tocsin.store.prepared import run_on_cursor
from tocsin.store.sql_admin import AdminQueries
from tocsin.store.sql_channels import ChannelQueries
from tocsin.store.sql_inbox import NOTIFICATION_COLUMNS, row_to_notification
from tocsin.store.sql_insert import (
    SEQUENCE_NAME,
    WRITE_OPTION,
    SqliteWriter,
    insert_drafts,
    sqlite_writer,
)
from tocsin.store.sql_privacy import PrivacyQueries
from tocsin.store.sql_records import RecordQueries
from tocsin.store.sql_states import StateQueries
from tocsin.store.tables import cursor_sequence, item_states, notifications, user_state

n = notifications.c


def _configure_sqlite(engine: Engine) -> None:
    """Take over SQLite transactions so that writers start with ``BEGIN IMMEDIATE``.

    pysqlite's own transaction handling starts a transaction only at the first write,
    so a read-then-write transaction can dead-lock with another writer (SQLITE_BUSY
    with no retry). Writers that take the write lock up front simply wait their turn.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: SyncConnection) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        # On the driver's cursor: ``exec_driver_sql`` would set up a result for nothing.
        run_on_cursor(conn, "BEGIN IMMEDIATE" if immediate else "BEGIN")


def _settle(
    done: asyncio.Future[list[StoreResult]], outcome: list[StoreResult] | BaseException
) -> None:
    if done.done():  # the caller went away (cancelled); the rows are committed all the same
        return
    if isinstance(outcome, BaseException):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)


class SqlStore(StateQueries, ChannelQueries, RecordQueries, PrivacyQueries, AdminQueries, Store):
    """One implementation for SQLite and PostgreSQL; dialect differences stay in here."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._engine: AsyncEngine | None = None
        # SQLite has one writer; queue our own writers here instead of in busy_timeout.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._queued: list[tuple[list[Draft], asyncio.Future[list[StoreResult]]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._sqlite_writer: SqliteWriter | None = None

    @property
    def engine(self) -> AsyncEngine:
        """The engine; raises if ``open`` was not awaited."""
        if self._engine is None:
            raise RuntimeError("store is not open: call `await store.open()` first")
        return self._engine

    async def open(self, *, migrate: bool) -> None:
        """Create the engine and, if asked, run the Alembic migrations."""
        if self._engine is not None:
            return
        kwargs: dict[str, Any] = {}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(engine.sync_engine)
            self._sqlite_writer = sqlite_writer(self.url, _configure_sqlite)
        self._engine = engine
        if migrate:
            from tocsin.store.migrate import upgrade

            await upgrade(engine)

    async def close(self) -> None:
        """Dispose of the engine's connections."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self._sqlite_writer is not None:
            await asyncio.to_thread(self._sqlite_writer.close)
            self._sqlite_writer = None

    async def ping(self) -> None:
        """Run a trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.connect() as raw:
            conn = await raw.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                yield conn

    def _upsert(self, table: Table, keys: list[str], values: dict[str, Any]) -> Insert:
        updated = [name for name in values if name not in keys]
        if self.is_sqlite:
            lite = sqlite.insert(table).values(**values)
            return lite.on_conflict_do_update(
                index_elements=keys, set_={name: lite.excluded[name] for name in updated}
            )
        pg = postgresql.insert(table).values(**values)
        return pg.on_conflict_do_update(
            index_elements=keys, set_={name: pg.excluded[name] for name in updated}
        )

    def _insert_ignoring_duplicates(self, table: Table) -> Insert:
        if self.is_sqlite:
            return sqlite.insert(table).on_conflict_do_nothing()
        return postgresql.insert(table).on_conflict_do_nothing()

    # -- notifications ---------------------------------------------------------------

    async def insert(self, drafts: Sequence[Draft]) -> list[StoreResult]:
        """Store drafts under the cursor lock; see :meth:`Store.insert`.

        Concurrent callers are committed together (group commit): one transaction, one
        lock hold and one fsync for everything that queued up while the last one ran.
        """
        if not drafts:
            return []
        done: asyncio.Future[list[StoreResult]] = asyncio.get_running_loop().create_future()
        self._queued.append((list(drafts), done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued())
        return await done

    async def _commit_queued(self) -> None:
        while self._queued:
            group, self._queued = self._queued, []
            try:
                results = await self._insert_now([d for drafts, _ in group for d in drafts])
            except Exception as exc:
                if len(group) == 1:
                    _settle(group[0][1], exc)
                    continue
                # One caller's failure must not sink the others: commit them one by one.
                for drafts, done in group:
                    try:
                        _settle(done, await self._insert_now(drafts))
                    except Exception as single:
                        _settle(done, single)
                continue
            start = 0
            for drafts, done in group:
                _settle(done, results[start : start + len(drafts)])
                start += len(drafts)

    async def _insert_now(self, drafts: Sequence[Draft]) -> list[StoreResult]:
        if self._sqlite_writer is not None:
            assert self._write_lock is not None
            async with self._write_lock:
                return await self._sqlite_writer.insert(drafts)
        async with self._writing() as conn:
            stored: list[StoreResult] = await conn.run_sync(insert_drafts, drafts)
            return stored

    async def max_cursor(self) -> int:
        """The counter's value: every cursor up to it is committed."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                select(cursor_sequence.c.value).where(cursor_sequence.c.name == SEQUENCE_NAME)
            )
        return int(value or 0)

    async def fetch_after(self, cursor: int, limit: int) -> list[StoredNotification]:
        """Oldest first, by cursor."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(*NOTIFICATION_COLUMNS)
                .where(n.cursor > cursor)
                .order_by(n.cursor)
                .limit(limit)
            )
            return [row_to_notification(row) for row in rows]

    async def mark_all_read(self, identity: Identity, up_to: int | None) -> int:
        """Raise the read watermark (never lowers it)."""
        return await self._raise_watermark(identity, "read_cursor", up_to)

    async def clear(self, identity: Identity, up_to: int | None) -> int:
        """Raise the cleared watermark (never lowers it)."""
        return await self._raise_watermark(identity, "cleared_cursor", up_to)

    async def _raise_watermark(self, identity: Identity, column: str, up_to: int | None) -> int:
        async with self._writing() as conn:
            top = int(
                await conn.scalar(
                    select(cursor_sequence.c.value).where(cursor_sequence.c.name == SEQUENCE_NAME)
                )
                or 0
            )
            target = top if up_to is None else min(up_to, top)
            values = {
                "tenant_id": identity.tenant_id,
                "user_id": identity.user_id,
                "read_cursor": 0,
                "cleared_cursor": 0,
                column: target,
            }
            dialect = sqlite if self.is_sqlite else postgresql
            stmt = dialect.insert(user_state).values(**values)
            existing = user_state.c[column]
            stmt = stmt.on_conflict_do_update(
                index_elements=[user_state.c.tenant_id, user_state.c.user_id],
                set_={
                    column: case(
                        (stmt.excluded[column] > existing, stmt.excluded[column]), else_=existing
                    )
                },
            )
            await conn.execute(stmt)
            if column == "read_cursor":
                # What a snooze brought back unread is read now too.
                states = item_states.c
                now = datetime.now(UTC)
                await conn.execute(
                    update(item_states)
                    .where(
                        states.tenant_id == identity.tenant_id,
                        states.user_id == identity.user_id,
                        states.returned_at.is_not(None),
                        states.cursor <= target,
                    )
                    .values(
                        returned_at=None, read_at=now, seen_at=func.coalesce(states.seen_at, now)
                    )
                )
            final = await conn.scalar(
                select(existing).where(
                    user_state.c.tenant_id == identity.tenant_id,
                    user_state.c.user_id == identity.user_id,
                )
            )
        return int(final or 0)
