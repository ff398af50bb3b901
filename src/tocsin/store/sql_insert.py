"""Storing notifications: one synchronous routine, run on PostgreSQL through SQLAlchemy's
asyncio bridge and on SQLite in a writer thread of its own.

aiosqlite hands every statement, fetch and cursor close to its thread and back (about
twenty hops for one publish); a whole transaction run in one thread call costs one hop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.sql.elements import BindParameter

from tocsin.store.base import Draft, StoreResult
from tocsin.store.prepared import Prepared, PreparedSet
from tocsin.store.tables import cursor_sequence, notifications

SEQUENCE_NAME = "notifications"
WRITE_OPTION = "tocsin_write"

n = notifications.c
_ROW_KEYS = (
    "cursor",
    "public_id",
    "id_scope",
    "event",
    "audience",
    "tenant_id",
    "user_id",
    "payload",
    "created_at",
    "accepted_at",
    "idempotency_key",
    "request_hash",
    "source_id",
    "content_hash",
)
_LOCK_COUNTER = PreparedSet(
    lambda dialect: Prepared.compile(
        select(cursor_sequence.c.value)
        .where(cursor_sequence.c.name == bindparam("sequence"))
        .with_for_update(),
        dialect,
    )
)
_SET_COUNTER = PreparedSet(
    lambda dialect: Prepared.compile(
        update(cursor_sequence)
        .where(cursor_sequence.c.name == bindparam("sequence"))
        .values(value=bindparam("new_value")),
        dialect,
    )
)
_INSERT_ROWS = PreparedSet(
    lambda dialect: Prepared.compile(notifications.insert().inline(), dialect, _ROW_KEYS)
)


def insert_drafts(conn: Connection, drafts: Sequence[Draft]) -> list[StoreResult]:
    """Store ``drafts`` in the caller's write transaction; see :meth:`Store.insert`."""
    # Locking the counter first serialises publishers, which makes the
    # duplicate checks below race-free and hands out cursors in commit order.
    [(current,)] = _LOCK_COUNTER.on(conn).execute(conn, {"sequence": SEQUENCE_NAME})
    current = int(current)
    by_key, by_content = _existing(conn, drafts)
    results: list[StoreResult] = []
    rows: list[dict[str, Any]] = []
    accepted_at = datetime.now(UTC)
    for draft in drafts:
        earlier = None
        if draft.idempotency_key is not None:
            earlier = by_key.get((draft.id_scope, draft.idempotency_key))
            if earlier is not None:
                same = earlier[2] == draft.request_hash
                results.append(StoreResult(earlier[0], earlier[1], False, not same))
                continue
        if draft.content_hash is not None:
            earlier = by_content.get((draft.id_scope, draft.content_hash))
            if earlier is not None:
                results.append(StoreResult(earlier[0], earlier[1], False))
                continue
        current += 1
        entry = (draft.id, current, draft.request_hash)
        if draft.idempotency_key is not None:
            by_key[(draft.id_scope, draft.idempotency_key)] = entry
        if draft.content_hash is not None:
            by_content[(draft.id_scope, draft.content_hash)] = entry
        rows.append(
            {
                "cursor": current,
                "public_id": draft.id,
                "id_scope": draft.id_scope,
                "event": draft.event,
                "audience": draft.audience.value,
                "tenant_id": draft.tenant_id,
                "user_id": draft.user_id,
                "payload": draft.fields,
                "created_at": draft.timestamp.astimezone(UTC),
                "accepted_at": accepted_at,
                "idempotency_key": draft.idempotency_key,
                "request_hash": draft.request_hash,
                "source_id": draft.source_id,
                "content_hash": draft.content_hash,
            }
        )
        results.append(StoreResult(draft.id, current, True, accepted_at=accepted_at))
    if rows:
        _INSERT_ROWS.on(conn).execute_many(conn, rows)
        _SET_COUNTER.on(conn).execute(conn, {"sequence": SEQUENCE_NAME, "new_value": current})
    return results


def _padded(values: set[str]) -> tuple[list[str], int]:
    """``values`` padded to the next power of two by repeating one (``IN`` ignores repeats),
    so that a handful of compiled lookups serve every batch size."""
    listed = sorted(values)
    size = 1 << (len(listed) - 1).bit_length()
    return listed + [listed[-1]] * (size - len(listed)), size


@cache
def _lookup(column: str, size: int) -> PreparedSet:
    """Rows of one scope whose ``column`` is one of ``size`` values."""
    wanted: list[BindParameter[str]] = [bindparam(f"v{i}") for i in range(size)]
    return PreparedSet(
        lambda dialect: Prepared.compile(
            select(n[column], n.public_id, n.cursor, n.request_hash).where(
                n.id_scope == bindparam("scope"), n[column].in_(wanted)
            ),
            dialect,
        )
    )


def _find(
    conn: Connection, column: str, scope: str, values: set[str]
) -> Iterator[tuple[str, tuple[str, int, str | None]]]:
    padded, size = _padded(values)
    found = (
        _lookup(column, size)
        .on(conn)
        .execute(conn, {"scope": scope, **{f"v{i}": v for i, v in enumerate(padded)}})
    )
    for value, public_id, cursor, request_hash in found:
        yield value, (public_id, int(cursor), request_hash)


def _existing(
    conn: Connection, drafts: Sequence[Draft]
) -> tuple[dict[tuple[str, str], tuple[str, int, str | None]], ...]:
    """Earlier notifications of the drafts' scopes, by idempotency key and by content hash."""
    keys: dict[str, set[str]] = defaultdict(set)
    hashes: dict[str, set[str]] = defaultdict(set)
    for draft in drafts:
        if draft.idempotency_key is not None:
            keys[draft.id_scope].add(draft.idempotency_key)
        if draft.content_hash is not None:
            hashes[draft.id_scope].add(draft.content_hash)
    by_key = {
        (scope, value): entry
        for scope, wanted in keys.items()
        for value, entry in _find(conn, "idempotency_key", scope, wanted)
    }
    by_content = {
        (scope, value): entry
        for scope, wanted in hashes.items()
        for value, entry in _find(conn, "content_hash", scope, wanted)
    }
    return by_key, by_content


class SqliteWriter:
    """A synchronous SQLite engine used by one thread, for ``insert_drafts`` only.

    The thread keeps its connection between transactions: checking one out of the pool and
    back costs more than the insert of a row.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tocsin-sqlite")
        self._conn: Connection | None = None

    @staticmethod
    def sync_url(async_url: str) -> str | None:
        """The pysqlite URL of the same database file; None for an in-memory database."""
        url = make_url(async_url)
        if not url.database or url.database == ":memory:" or "mode=memory" in str(url):
            return None
        return url.set(drivername="sqlite").render_as_string(hide_password=False)

    async def insert(self, drafts: Sequence[Draft]) -> list[StoreResult]:
        """Run :func:`insert_drafts` in a ``BEGIN IMMEDIATE`` transaction on the thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._insert, drafts)

    def _insert(self, drafts: Sequence[Draft]) -> list[StoreResult]:
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(**{WRITE_OPTION: True})
        try:
            with self._conn.begin():
                return insert_drafts(self._conn, drafts)
        except BaseException:
            # A failed transaction may leave the connection unusable (a lost file, a full
            # disk): the next one starts on a fresh connection. Closing a broken one may fail
            # too; the transaction's own error is the one to report.
            with contextlib.suppress(Exception):
                self._close_connection()
            raise

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close the connection on its thread, then stop the thread."""
        self._thread.submit(self._close_connection).result()
        self._thread.shutdown(wait=True)
        self.engine.dispose()


def sqlite_writer(async_url: str, configure: Callable[[Engine], None]) -> SqliteWriter | None:
    """A writer for the file behind ``async_url`` (``configure`` sets its pragmas)."""
    url = SqliteWriter.sync_url(async_url)
    if url is None:
        return None
    engine = create_engine(url)
    configure(engine)
    return SqliteWriter(engine)
