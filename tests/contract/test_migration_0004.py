"""Revision 0004 on a store written by an earlier Tocsin (SQLite and PostgreSQL).

Before it, a notification's id was the publisher's and a known id made a publish a retry;
e-mail ingestion and deadline alerts relied on that to publish once. After it, clients keep
the ids they hold, every row knows its source id, and those once-only publishes still find
what they published before the upgrade.
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from tocsin.models import Audience, Identity
from tocsin.service import ONCE_HASH, ONCE_KEY_PREFIX
from tocsin.store.base import Draft
from tocsin.store.migrate import alembic_config
from tocsin.store.sql import SqlStore

ALICE = Identity("firm-a", "alice")
OLD_ROWS = [
    # (cursor, public id, event)
    (1, "mail-0123abcd", "email-received"),
    (2, "deadline:d1:2031-05-02:2031-04-30", "deadline-alert"),
    (3, "dossier-42", "dossier-updated"),
]


def _write_revision_0003_store(conn: Connection) -> None:
    command.upgrade(alembic_config(conn), "0003")
    now = datetime(2031, 4, 30, 9, tzinfo=UTC)
    for cursor, public_id, event in OLD_ROWS:
        conn.execute(
            text(
                "INSERT INTO notifications (cursor, public_id, id_scope, event, audience, "
                "tenant_id, user_id, payload, created_at) VALUES (:cursor, :id, 'firm-a', "
                ":event, 'user', 'firm-a', 'alice', '{}', :now)"
            ),
            {"cursor": cursor, "id": public_id, "event": event, "now": now},
        )
    conn.execute(text("UPDATE cursor_sequence SET value = 3"))


def _once(key: str, event: str) -> Draft:
    return Draft(
        id=f"new-{key}",
        event=event,
        audience=Audience.USER,
        tenant_id="firm-a",
        user_id="alice",
        fields={},
        timestamp=datetime.now(UTC),
        idempotency_key=ONCE_KEY_PREFIX + key,
        request_hash=ONCE_HASH,
    )


async def test_an_upgraded_store_keeps_ids_and_once_only_publishes(store_url: str) -> None:
    engine = create_async_engine(store_url)
    async with engine.begin() as conn:
        await conn.run_sync(_write_revision_0003_store)
    await engine.dispose()

    store = SqlStore(store_url)
    await store.open(migrate=True)
    try:
        rows = await store.fetch_after(0, 10)
        assert [(n.id, n.source_id) for n in rows] == [(i, i) for _, i, _ in OLD_ROWS]
        # The mail and the alert published before the upgrade are found by their once-keys…
        mail, alert = await store.insert(
            [
                _once("mail-0123abcd", "email-received"),
                _once("deadline:d1:2031-05-02:2031-04-30", "deadline-alert"),
            ]
        )
        assert (mail.id, mail.cursor, mail.created) == ("mail-0123abcd", 1, False)
        assert (alert.id, alert.cursor, alert.created) == (OLD_ROWS[1][1], 2, False)
        # …while a publisher's own id is nobody's once-key: the dossier's next update is new.
        [update] = await store.insert([_once("dossier-42", "dossier-updated")])
        assert update.created and update.cursor == 4
        assert await store.unread_count(ALICE) == 4
    finally:
        await store.close()
