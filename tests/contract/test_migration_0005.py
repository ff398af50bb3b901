"""Revision 0005 on a store written by an earlier Tocsin (SQLite and PostgreSQL): the read
receipts it kept become inbox states, so nothing read before the upgrade is unread after."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from tocsin.models import Identity
from tocsin.store.migrate import alembic_config
from tocsin.store.sql import SqlStore

ALICE = Identity("firm-a", "alice")
BOB = Identity("firm-a", "bob")
READ_AT = datetime(2031, 4, 30, 9, tzinfo=UTC)


def _write_revision_0004_store(conn: Connection) -> None:
    command.upgrade(alembic_config(conn), "0004")
    for cursor in (1, 2, 3):
        conn.execute(
            text(
                "INSERT INTO notifications (cursor, public_id, id_scope, event, audience, "
                "tenant_id, user_id, payload, created_at) VALUES (:cursor, :id, 'firm-a', "
                "'system-notification', 'tenant', 'firm-a', NULL, '{}', :now)"
            ),
            {"cursor": cursor, "id": f"n{cursor}", "now": READ_AT},
        )
    conn.execute(text("UPDATE cursor_sequence SET value = 3"))
    conn.execute(
        text(
            "INSERT INTO read_receipts (tenant_id, user_id, cursor, read_at) "
            "VALUES ('firm-a', 'alice', 2, :at), ('firm-a', 'bob', 3, :at)"
        ),
        {"at": READ_AT},
    )


async def test_read_receipts_become_read_states(store_url: str) -> None:
    engine = create_async_engine(store_url)
    async with engine.begin() as conn:
        await conn.run_sync(_write_revision_0004_store)
    await engine.dispose()

    store = SqlStore(store_url)
    await store.open(migrate=True)
    try:
        alice = await store.inbox(ALICE, limit=10, before=None, event=None, unread_only=False)
        assert [(i.notification.id, i.read) for i in alice] == [
            ("n3", False),
            ("n2", True),
            ("n1", False),
        ]
        assert (await store.badge(ALICE)).unread == 2
        assert (await store.badge(BOB)).unread == 2
        # The states table takes every state from now on.
        assert await store.archive(ALICE, ["n2"], True) == ["n2"]
        assert (await store.item(ALICE, 2)) is not None
    finally:
        await store.close()
