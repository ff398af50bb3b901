"""SQL queries that read a user's inbox and their state of it (mixed into SqlStore).

A user's state is sparse (DESIGN §3, §7): two watermarks in ``user_state`` (read, cleared)
and a row in ``item_states`` only for a notification something happened to. A notification
is read when its row says so, or when the read watermark passed it, unless a snooze brought
it back afterwards (``returned_at``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select

from tocsin.models import Audience, Identity, StoredNotification
from tocsin.store.base import Badge, Counts, InboxItem, InboxView
from tocsin.store.sql_records import as_utc
from tocsin.store.tables import item_states, notifications, user_state

n = notifications.c
s = item_states.c


def visible_to(identity: Identity) -> ColumnElement[bool]:
    """Rows ``identity`` may see: to everyone, to its tenant, or to itself (both ids)."""
    return or_(
        and_(n.tenant_id.is_(None), n.user_id.is_(None)),
        and_(n.tenant_id == identity.tenant_id, n.user_id.is_(None)),
        and_(n.tenant_id == identity.tenant_id, n.user_id == identity.user_id),
    )


def with_states(identity: Identity) -> Any:
    """Notifications joined to ``identity``'s state rows (absent: nothing happened)."""
    return notifications.outerjoin(
        item_states,
        and_(
            s.tenant_id == identity.tenant_id,
            s.user_id == identity.user_id,
            s.cursor == n.cursor,
        ),
    )


def is_read(read_cursor: int) -> ColumnElement[bool]:
    """Read: its row says so, or the read watermark passed it and no snooze brought it back."""
    return or_(s.read_at.is_not(None), and_(n.cursor <= read_cursor, s.returned_at.is_(None)))


def is_seen(read_cursor: int) -> ColumnElement[bool]:
    """Seen: shown in an open list, or read."""
    return or_(s.seen_at.is_not(None), is_read(read_cursor))


IN_INBOX = and_(s.archived_at.is_(None), s.snoozed_until.is_(None))

NOTIFICATION_COLUMNS = (
    n.cursor,
    n.public_id,
    n.source_id,
    n.event,
    n.audience,
    n.tenant_id,
    n.user_id,
    n.payload,
    n.created_at,
    n.accepted_at,
)


def row_to_notification(row: Row[*tuple[Any, ...]]) -> StoredNotification:
    """A notifications row (the :data:`NOTIFICATION_COLUMNS`) as the model."""
    created = as_utc(row.created_at)
    assert created is not None  # column is NOT NULL
    return StoredNotification(
        cursor=int(row.cursor),
        id=row.public_id,
        source_id=row.source_id,
        event=row.event,
        audience=Audience(row.audience),
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        fields=dict(row.payload),
        timestamp=created,
        accepted_at=as_utc(row.accepted_at),
    )


def item_query(identity: Identity, read_cursor: int) -> Select[Any]:
    """Notifications with ``identity``'s state columns and read/seen flags."""
    return select(
        *NOTIFICATION_COLUMNS,
        s.archived_at,
        s.snoozed_until,
        s.action,
        s.acted_at,
        is_read(read_cursor).label("is_read"),
        is_seen(read_cursor).label("is_seen"),
    ).select_from(with_states(identity))


def row_to_item(row: Row[*tuple[Any, ...]]) -> InboxItem:
    """A row of :func:`item_query` as an inbox item."""
    return InboxItem(
        row_to_notification(row),
        bool(row.is_read),
        seen=bool(row.is_seen),
        archived=row.archived_at is not None,
        snoozed_until=as_utc(row.snoozed_until),
        action=row.action,
        acted_at=as_utc(row.acted_at),
    )


def count_where(condition: ColumnElement[bool]) -> Any:
    """How many rows of a grouped query meet ``condition``."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class InboxQueries:
    """Inbox pages, replay and counts; needs the host's engine."""

    @property
    def engine(self) -> AsyncEngine:
        """The host store's engine."""
        raise NotImplementedError

    async def _watermarks(self, conn: AsyncConnection, identity: Identity) -> tuple[int, int]:
        row = (
            await conn.execute(
                select(user_state.c.read_cursor, user_state.c.cleared_cursor).where(
                    user_state.c.tenant_id == identity.tenant_id,
                    user_state.c.user_id == identity.user_id,
                )
            )
        ).first()
        if row is None:
            return 0, 0
        return int(row.read_cursor), int(row.cleared_cursor)

    # -- reading ---------------------------------------------------------------------

    async def replay(
        self, identity: Identity, since: int, limit: int
    ) -> tuple[list[InboxItem], bool]:
        """Newest ``limit`` + 1 after ``since`` tell whether the bound cut anything."""
        async with self.engine.connect() as conn:
            read_cursor, _cleared = await self._watermarks(conn, identity)
            rows = (
                await conn.execute(
                    item_query(identity, read_cursor)
                    .where(visible_to(identity), n.cursor > since)
                    .order_by(n.cursor.desc())
                    .limit(limit + 1)
                )
            ).all()
        truncated = len(rows) > limit
        items = [row_to_item(row) for row in rows[:limit]]
        items.reverse()
        return items, truncated

    async def inbox(
        self,
        identity: Identity,
        *,
        limit: int,
        before: int | None,
        event: str | None,
        unread_only: bool,
        view: InboxView = InboxView.INBOX,
    ) -> list[InboxItem]:
        """Newest first; cleared notifications are gone from every view."""
        async with self.engine.connect() as conn:
            read_cursor, cleared = await self._watermarks(conn, identity)
            query = item_query(identity, read_cursor).where(
                visible_to(identity), n.cursor > cleared
            )
            if view is InboxView.ARCHIVED:
                query = query.where(s.archived_at.is_not(None))
            elif view is InboxView.SNOOZED:
                query = query.where(s.snoozed_until.is_not(None))
            else:
                query = query.where(IN_INBOX)
            if before is not None:
                query = query.where(n.cursor < before)
            if event is not None:
                query = query.where(n.event == event)
            if unread_only:
                query = query.where(~is_read(read_cursor))
            rows = await conn.execute(query.order_by(n.cursor.desc()).limit(limit + 1))
            return [row_to_item(row) for row in rows]

    async def notification_by_id(
        self, notification_id: str, tenant_id: str | None
    ) -> StoredNotification | None:
        """By id, in the tenant's scope (ids are unique per scope), or the newest in any."""
        query = select(*NOTIFICATION_COLUMNS).where(n.public_id == notification_id)
        if tenant_id is not None:
            query = query.where(n.id_scope == tenant_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query.order_by(n.cursor.desc()).limit(1))).first()
        return None if row is None else row_to_notification(row)

    async def item(self, identity: Identity, cursor: int) -> InboxItem | None:
        """One notification with ``identity``'s state of it, if visible."""
        async with self.engine.connect() as conn:
            return await self._item(conn, identity, cursor)

    async def _item(
        self, conn: AsyncConnection, identity: Identity, cursor: int
    ) -> InboxItem | None:
        read_cursor, _cleared = await self._watermarks(conn, identity)
        row = (
            await conn.execute(
                item_query(identity, read_cursor).where(visible_to(identity), n.cursor == cursor)
            )
        ).first()
        return None if row is None else row_to_item(row)

    async def unread_count(self, identity: Identity, up_to: int | None = None) -> int:
        """Unread in the inbox view (with cursors up to ``up_to``)."""
        return (await self._badge(identity, up_to)).unread

    async def badge(self, identity: Identity, up_to: int | None = None) -> Badge:
        """Unread and unseen in the inbox view (with cursors up to ``up_to``)."""
        return await self._badge(identity, up_to)

    async def _badge(self, identity: Identity, up_to: int | None) -> Badge:
        # Above both watermarks an item is unread unless its row says read: one range scan.
        # Below the read watermark only items a snooze brought back can be unread: few rows,
        # found from the state side.
        async with self.engine.connect() as conn:
            read_cursor, cleared = await self._watermarks(conn, identity)
            floor = max(read_cursor, cleared)
            unread_here = and_(s.read_at.is_(None), IN_INBOX)
            above = (
                select(func.count(), count_where(s.seen_at.is_(None)))
                .select_from(with_states(identity))
                .where(visible_to(identity), n.cursor > floor, unread_here)
            )
            returned = (
                select(func.count(), count_where(s.seen_at.is_(None)))
                .select_from(item_states.join(notifications, n.cursor == s.cursor))
                .where(
                    s.tenant_id == identity.tenant_id,
                    s.user_id == identity.user_id,
                    s.returned_at.is_not(None),
                    s.cursor > cleared,
                    s.cursor <= floor,
                    unread_here,
                    visible_to(identity),
                )
            )
            if up_to is not None:
                above = above.where(n.cursor <= up_to)
                returned = returned.where(n.cursor <= up_to)
            first = (await conn.execute(above)).one()
            second = (await conn.execute(returned)).one()
        return Badge(int(first[0]) + int(second[0]), int(first[1]) + int(second[1]))

    async def counts(self, identity: Identity) -> Counts:
        """One pass over the visible notifications above the cleared watermark."""
        async with self.engine.connect() as conn:
            read_cursor, cleared = await self._watermarks(conn, identity)
            read = is_read(read_cursor)
            rows = (
                await conn.execute(
                    select(
                        n.event,
                        count_where(IN_INBOX),
                        count_where(and_(IN_INBOX, ~read)),
                        count_where(and_(IN_INBOX, ~is_seen(read_cursor))),
                        count_where(s.archived_at.is_not(None)),
                        count_where(and_(s.snoozed_until.is_not(None), s.archived_at.is_(None))),
                    )
                    .select_from(with_states(identity))
                    .where(visible_to(identity), n.cursor > cleared)
                    .group_by(n.event)
                )
            ).all()
        by_event = {str(row[0]): (int(row[2]), int(row[1])) for row in rows}
        return Counts(
            unread=sum(int(row[2]) for row in rows),
            unseen=sum(int(row[3]) for row in rows),
            total=sum(int(row[1]) for row in rows),
            archived=sum(int(row[4]) for row in rows),
            snoozed=sum(int(row[5]) for row in rows),
            by_event=by_event,
        )
