"""Publish in the app's own SQLAlchemy transaction, through Tocsin's outbox (PostgreSQL).

The notification is a row of ``tocsin_outbox`` written in the caller's transaction: it is
delivered if that transaction commits, and never if it rolls back (docs/outbox.md)::

    from tocsin.sdk.outbox import publish_in

    with Session(engine) as session, session.begin():
        dossier.status = "AUDIENCE_FIXEE"
        publish_in(session, "firm-a", {"event": "dossier-updated", "id": dossier.id, …})

``publish_in_async`` is the same for an ``AsyncSession`` or ``AsyncConnection``. Both need
the app and Tocsin to share the PostgreSQL database (Tocsin's migrations made the table).

Errors::

    TypeError   the notification is not a mapping
    ValueError  no ``event``, a key over 200 characters, or not a PostgreSQL session
    sqlalchemy.exc.DBAPIError  the insert failed (no such function: Tocsin's migrations
                have not run on that database)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from tocsin.sdk.helpers import Notification, _wire

MAX_KEY = 200
PUBLISH = text("SELECT tocsin_publish(:tenant, CAST(:notification AS jsonb), :key)")


def _statement(
    bind: Any, tenant_id: str | None, notification: Notification, key: str | None
) -> tuple[TextClause, dict[str, Any]]:
    dialect = getattr(bind, "dialect", None) or bind.get_bind().dialect
    if dialect.name != "postgresql":
        raise ValueError(f"the outbox is consumed on PostgreSQL only, not {dialect.name}")
    if not isinstance(notification, Mapping):
        raise TypeError(f"a notification is a mapping, not {type(notification).__name__}")
    if not notification.get("event"):
        raise ValueError("notification: needs its event, e.g. 'dossier-updated'")
    if key is not None and not 0 < len(key) <= MAX_KEY:
        raise ValueError(f"key: 1 to {MAX_KEY} characters")
    document = json.dumps(_wire(notification), ensure_ascii=False)
    return PUBLISH, {"tenant": tenant_id, "notification": document, "key": key}


def publish_in(
    session: Session | Connection,
    tenant_id: str | None,
    notification: Notification,
    key: str | None = None,
) -> int:
    """Add ``notification`` to the outbox in ``session``'s transaction; returns the row's id.

    ``tenant_id`` confines it to that tenant (its ``tenantId`` defaults to it; ``None`` lets
    a ``system-notification`` reach everyone). A ``key`` names the notification: a second
    row with the same key, in any transaction, is a retry and publishes nothing.

    Raises:
        TypeError, ValueError, sqlalchemy.exc.DBAPIError: see the module's docstring.
    """
    statement, params = _statement(session, tenant_id, notification, key)
    return int(session.execute(statement, params).scalar_one())


async def publish_in_async(
    session: AsyncSession | AsyncConnection,
    tenant_id: str | None,
    notification: Notification,
    key: str | None = None,
) -> int:
    """:func:`publish_in` for an ``AsyncSession`` or ``AsyncConnection``.

    Raises:
        TypeError, ValueError, sqlalchemy.exc.DBAPIError: see the module's docstring.
    """
    statement, params = _statement(session, tenant_id, notification, key)
    result = await session.execute(statement, params)
    return int(result.scalar_one())


__all__ = ["publish_in", "publish_in_async"]
