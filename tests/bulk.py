"""Old data for the retention tests, written straight into a store's tables: notifications
accepted at chosen times, with states, delivery lines and jobs of theirs. Small sets go
through SQLAlchemy (any backend); large ones through PostgreSQL's COPY."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Table, update

from tocsin.store.sql import SqlStore
from tocsin.store.tables import cursor_sequence, deliveries, item_states, jobs, notifications


def note(
    cursor: int,
    tenant: str | None,
    user: str | None,
    accepted_at: datetime | None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A notifications row (an e-mail to ``user``, or the tenant's / everyone's news)."""
    audience = "user" if user else "tenant" if tenant else "all"
    return {
        "cursor": cursor,
        "public_id": f"n{cursor:08d}",
        "id_scope": tenant or "",
        "event": "email-received",
        "audience": audience,
        "tenant_id": tenant,
        "user_id": user,
        "payload": {"subject": f"Courrier {cursor}", "from": "greffe@tj.fr"},
        "created_at": created_at or accepted_at,
        "accepted_at": accepted_at,
    }


def state(cursor: int, tenant: str, user: str, at: datetime) -> dict[str, Any]:
    """An item_states row: read at ``at``."""
    return {"tenant_id": tenant, "user_id": user, "cursor": cursor, "read_at": at, "seen_at": at}


def delivery(cursor: int, tenant: str, user: str, at: datetime) -> dict[str, Any]:
    """A delivery log line."""
    return {
        "cursor": cursor,
        "tenant_id": tenant,
        "user_id": user,
        "channel": "push",
        "status": "sent",
        "detail": None,
        "at": at,
    }


def job(cursor: int, tenant: str, user: str, at: datetime, status: str = "done") -> dict[str, Any]:
    """A push job about the notification ``cursor``."""
    return {
        "key": f"push:{cursor}:{tenant}:{user}",
        "kind": "push",
        "tenant_id": tenant,
        "user_id": user,
        "run_at": at,
        "payload": {"cursor": cursor, "rule": "unseen"},
        "cursor": cursor,
        "status": status,
        "attempts": 1,
        "created_at": at,
        "updated_at": at,
    }


async def insert(store: SqlStore, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` through SQLAlchemy, in chunks (any backend)."""
    async with store.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            await conn.execute(table.insert(), list(rows[start : start + 5000]))


async def copy(pg_url: str, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """Insert ``rows`` with PostgreSQL's COPY (100,000 rows in a second or two)."""
    listed = list(rows)
    if not listed:
        return
    columns = list(listed[0])
    records = [
        tuple(json.dumps(r[c]) if isinstance(r[c], dict) else r[c] for c in columns) for r in listed
    ]
    conn = await asyncpg.connect(plain_pg_url(pg_url))
    try:
        await conn.copy_records_to_table(table.name, records=records, columns=columns)
    finally:
        await conn.close()


def plain_pg_url(url: str) -> str:
    """``postgresql+asyncpg://…`` as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def advance_cursors(store: SqlStore, top: int) -> None:
    """Let new publishes follow the rows written here (cursors above ``top``)."""
    async with store.engine.begin() as conn:
        await conn.execute(
            update(cursor_sequence)
            .where(cursor_sequence.c.name == "notifications")
            .values(value=top)
        )


TABLES = {
    "notifications": notifications,
    "item_states": item_states,
    "deliveries": deliveries,
    "jobs": jobs,
}
