"""The transactional outbox's SQL, on a PostgreSQL connection of its own (asyncpg).

The consumer (:mod:`tocsin.outbox`) holds one connection: it LISTENs there for the trigger's
NOTIFY, and claims, deletes and fails rows there, one batch per transaction. The rows a
transaction claims stay locked until it ends, so whatever the consumer publishes meanwhile
(in the store's own transactions) is never published by another node too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url

CHANNEL = "tocsin_outbox"
# Held by the node consuming, for its transaction: one consumer at a time keeps the order of
# publication across nodes. Any constant works; it differs from the migration lock's.
CONSUMER_LOCK = 0x70C5_0B0C
# Only SQLAlchemy's adapter knows these; asyncpg would take them for server settings.
_ADAPTER_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")

_CLAIM = """
SELECT id, tenant_id, key, created_at,
       CASE WHEN octet_length(notification::text) <= $2 THEN notification::text END
FROM tocsin_outbox
WHERE failed_at IS NULL
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED
"""
_DELETE = "DELETE FROM tocsin_outbox WHERE id = ANY($1::bigint[])"
_FAIL = """
UPDATE tocsin_outbox SET failed_at = now(), error = f.error
FROM unnest($1::bigint[], $2::text[]) AS f(id, error)
WHERE tocsin_outbox.id = f.id
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A claimed row; ``document`` is its notification's JSON text, None when too large."""

    id: int
    tenant_id: str | None
    key: str | None
    created_at: datetime
    document: str | None


def connect_args(database_url: str) -> dict[str, Any]:
    """The keyword arguments of ``asyncpg.connect`` for a store URL, as the store's own
    SQLAlchemy engine builds them (host, port, user, password, database, ssl…)."""
    url = make_url(database_url)
    dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
    _args, kwargs = dialect.create_connect_args(url)  # type: ignore[no-untyped-call]
    for name in _ADAPTER_ONLY:
        kwargs.pop(name, None)
    return dict(kwargs)


async def take_turn(conn: asyncpg.Connection) -> bool:
    """In the caller's transaction: whether this node may consume now (no other is)."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", CONSUMER_LOCK))


async def claim(conn: asyncpg.Connection, limit: int, max_bytes: int) -> list[OutboxRow]:
    """In the caller's transaction: lock the ``limit`` oldest pending committed rows.

    A row whose document exceeds ``max_bytes`` comes without it (never read into memory).
    """
    records = await conn.fetch(_CLAIM, limit, max_bytes)
    return [OutboxRow(r[0], r[1], r[2], r[3], r[4]) for r in records]


async def finish(
    conn: asyncpg.Connection, done: Sequence[int], failed: Sequence[tuple[int, str]]
) -> None:
    """In the caller's transaction: delete the published rows, mark the failed ones."""
    if done:
        await conn.execute(_DELETE, list(done))
    if failed:
        await conn.execute(_FAIL, [i for i, _ in failed], [e for _, e in failed])
