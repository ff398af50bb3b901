"""SQL queries of a user's inbox: what they see and their state of it (mixed into SqlStore).

A user's state is sparse (DESIGN §3, §7): two watermarks in ``user_state`` (read, cleared)
and a row in ``item_states`` only for a notification something happened to. A notification
is read when its row says so, or when the read watermark passed it, unless a snooze brought
it back afterwards (``returned_at``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Insert,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select

from tocsin.models import Audience, Identity, StoredNotification
from tocsin.store.base import (
    Acted,
    AuditEntry,
    Badge,
    Counts,
    InboxItem,
    InboxView,
    NewJob,
)
from tocsin.store.sql_insert import SEQUENCE_NAME
from tocsin.store.sql_records import as_utc
from tocsin.store.tables import (
    audit_log,
    cursor_sequence,
    item_states,
    jobs,
    notifications,
    user_state,
)
from tocsin.store.tables import preferences as preferences_table

n = notifications.c
s = item_states.c
_UTC_DATETIME = DateTime(timezone=True)

SNOOZE_JOB = "snooze"


def snooze_job_key(identity: Identity, cursor: int, until: datetime) -> str:
    """``snooze:<cursor>:<until ms>:<hash of the identity>``: one wake-up per item per
    ``until`` (the identity is hashed so that the key fits whatever the ids' lengths)."""
    who = hashlib.sha256(f"{identity.tenant_id}\0{identity.user_id}".encode()).hexdigest()[:32]
    return f"{SNOOZE_JOB}:{cursor}:{int(until.timestamp() * 1000)}:{who}"


def visible_to(identity: Identity) -> ColumnElement[bool]:
    """Rows ``identity`` may see: to everyone, to its tenant, or to itself (both ids)."""
    return or_(
        and_(n.tenant_id.is_(None), n.user_id.is_(None)),
        and_(n.tenant_id == identity.tenant_id, n.user_id.is_(None)),
        and_(n.tenant_id == identity.tenant_id, n.user_id == identity.user_id),
    )


def _with_states(identity: Identity) -> Any:
    """Notifications joined to ``identity``'s state rows (absent: nothing happened)."""
    return notifications.outerjoin(
        item_states,
        and_(
            s.tenant_id == identity.tenant_id,
            s.user_id == identity.user_id,
            s.cursor == n.cursor,
        ),
    )


def _is_read(read_cursor: int) -> ColumnElement[bool]:
    return or_(s.read_at.is_not(None), and_(n.cursor <= read_cursor, s.returned_at.is_(None)))


def _is_seen(read_cursor: int) -> ColumnElement[bool]:
    return or_(s.seen_at.is_not(None), _is_read(read_cursor))


_IN_INBOX = and_(s.archived_at.is_(None), s.snoozed_until.is_(None))

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


def _item_query(identity: Identity, read_cursor: int) -> Select[Any]:
    return select(
        *NOTIFICATION_COLUMNS,
        s.archived_at,
        s.snoozed_until,
        s.action,
        s.acted_at,
        _is_read(read_cursor).label("is_read"),
        _is_seen(read_cursor).label("is_seen"),
    ).select_from(_with_states(identity))


def _row_to_item(row: Row[*tuple[Any, ...]]) -> InboxItem:
    return InboxItem(
        row_to_notification(row),
        bool(row.is_read),
        seen=bool(row.is_seen),
        archived=row.archived_at is not None,
        snoozed_until=as_utc(row.snoozed_until),
        action=row.action,
        acted_at=as_utc(row.acted_at),
    )


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class StateQueries:
    """Inbox pages, counts and every state change; needs the host's engine and writer."""

    is_sqlite: bool

    @property
    def engine(self) -> AsyncEngine:
        """The host store's engine."""
        raise NotImplementedError

    def _writing(self) -> AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    def _insert_ignoring_duplicates(self, table: Table) -> Insert:
        raise NotImplementedError

    def _dialect_insert(self, table: Table) -> Any:
        return (sqlite if self.is_sqlite else postgresql).insert(table)

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
                    _item_query(identity, read_cursor)
                    .where(visible_to(identity), n.cursor > since)
                    .order_by(n.cursor.desc())
                    .limit(limit + 1)
                )
            ).all()
        truncated = len(rows) > limit
        items = [_row_to_item(row) for row in rows[:limit]]
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
            query = _item_query(identity, read_cursor).where(
                visible_to(identity), n.cursor > cleared
            )
            if view is InboxView.ARCHIVED:
                query = query.where(s.archived_at.is_not(None))
            elif view is InboxView.SNOOZED:
                query = query.where(s.snoozed_until.is_not(None))
            else:
                query = query.where(_IN_INBOX)
            if before is not None:
                query = query.where(n.cursor < before)
            if event is not None:
                query = query.where(n.event == event)
            if unread_only:
                query = query.where(~_is_read(read_cursor))
            rows = await conn.execute(query.order_by(n.cursor.desc()).limit(limit + 1))
            return [_row_to_item(row) for row in rows]

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
                _item_query(identity, read_cursor).where(visible_to(identity), n.cursor == cursor)
            )
        ).first()
        return None if row is None else _row_to_item(row)

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
            unread_here = and_(s.read_at.is_(None), _IN_INBOX)
            above = (
                select(func.count(), _count(s.seen_at.is_(None)))
                .select_from(_with_states(identity))
                .where(visible_to(identity), n.cursor > floor, unread_here)
            )
            returned = (
                select(func.count(), _count(s.seen_at.is_(None)))
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
            is_read = _is_read(read_cursor)
            rows = (
                await conn.execute(
                    select(
                        n.event,
                        _count(_IN_INBOX),
                        _count(and_(_IN_INBOX, ~is_read)),
                        _count(and_(_IN_INBOX, ~_is_seen(read_cursor))),
                        _count(s.archived_at.is_not(None)),
                        _count(and_(s.snoozed_until.is_not(None), s.archived_at.is_(None))),
                    )
                    .select_from(_with_states(identity))
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

    # -- changing state ----------------------------------------------------------------

    async def _matching(
        self, conn: AsyncConnection, identity: Identity, ids: Sequence[str]
    ) -> dict[str, int]:
        """The visible notifications among ``ids``: id → cursor."""
        found = await conn.execute(
            select(n.public_id, n.cursor).where(
                # The scopes first: the unique index (id_scope, public_id) finds them.
                n.id_scope.in_((identity.tenant_id, "")),
                n.public_id.in_(set(ids)),
                visible_to(identity),
            )
        )
        return {row.public_id: int(row.cursor) for row in found}

    async def _set_states(
        self,
        conn: AsyncConnection,
        identity: Identity,
        cursors: Sequence[int],
        values: dict[str, Any],
        keep_first: Sequence[str] = (),
    ) -> None:
        """Upsert ``values`` into the state rows of ``cursors``; the columns in
        ``keep_first`` keep a value they already hold (the first time something happened)."""
        if not cursors:
            return
        stmt = self._dialect_insert(item_states)
        excluded = stmt.excluded
        updates = {
            name: func.coalesce(s[name], excluded[name]) if name in keep_first else excluded[name]
            for name in values
        }
        stmt = stmt.on_conflict_do_update(
            index_elements=[s.tenant_id, s.user_id, s.cursor], set_=updates
        )
        rows = [
            {"tenant_id": identity.tenant_id, "user_id": identity.user_id, "cursor": c, **values}
            for c in cursors
        ]
        await conn.execute(stmt, rows)

    async def _cancel_snooze_jobs(
        self, conn: AsyncConnection, identity: Identity, cursors: Sequence[int]
    ) -> None:
        # Deleted, not kept as "cancelled": a client snoozing again and again must not grow
        # the table; each item has at most one pending wake-up.
        for cursor in cursors:
            await conn.execute(
                delete(jobs).where(
                    jobs.c.kind == SNOOZE_JOB,
                    jobs.c.status == "pending",
                    jobs.c.tenant_id == identity.tenant_id,
                    jobs.c.user_id == identity.user_id,
                    jobs.c.key.startswith(f"{SNOOZE_JOB}:{cursor}:"),
                )
            )

    async def _change(
        self,
        identity: Identity,
        ids: Sequence[str],
        values: dict[str, Any],
        keep_first: Sequence[str] = (),
        *,
        cancel_snoozes: bool = False,
    ) -> list[str]:
        if not ids:
            return []
        async with self._writing() as conn:
            found = await self._matching(conn, identity, ids)
            cursors = list(found.values())
            await self._set_states(conn, identity, cursors, values, keep_first)
            if cancel_snoozes:
                await self._cancel_snooze_jobs(conn, identity, cursors)
        return [i for i in dict.fromkeys(ids) if i in found]

    async def mark_read(self, identity: Identity, ids: Sequence[str]) -> list[str]:
        """Read (and seen) from now on; a snooze's return no longer overrides the watermark."""
        now = datetime.now(UTC)
        values = {"read_at": now, "seen_at": now, "returned_at": None}
        return await self._change(identity, ids, values, keep_first=("read_at", "seen_at"))

    async def mark_seen(self, identity: Identity, ids: Sequence[str]) -> list[str]:
        """Seen from now on (the first time is kept)."""
        values = {"seen_at": datetime.now(UTC)}
        return await self._change(identity, ids, values, keep_first=("seen_at",))

    async def archive(self, identity: Identity, ids: Sequence[str], archived: bool) -> list[str]:
        """Archiving ends a snooze (and cancels its wake-up); unarchiving restores the item."""
        if archived:
            values = {"archived_at": datetime.now(UTC), "snoozed_until": None}
            return await self._change(
                identity, ids, values, keep_first=("archived_at",), cancel_snoozes=True
            )
        return await self._change(identity, ids, {"archived_at": None})

    async def archive_all(
        self, identity: Identity, up_to: int | None, only_read: bool
    ) -> tuple[int, int]:
        """One INSERT … SELECT: archives every matching inbox row, whatever their number."""
        now = datetime.now(UTC)
        async with self._writing() as conn:
            top = int(
                await conn.scalar(
                    select(cursor_sequence.c.value).where(cursor_sequence.c.name == SEQUENCE_NAME)
                )
                or 0
            )
            target = top if up_to is None else min(up_to, top)
            read_cursor, cleared = await self._watermarks(conn, identity)
            chosen = select(
                literal(identity.tenant_id, String()).label("tenant_id"),
                literal(identity.user_id, String()).label("user_id"),
                n.cursor,
                literal(now, _UTC_DATETIME).label("archived_at"),
            ).select_from(_with_states(identity))
            chosen = chosen.where(
                visible_to(identity), n.cursor > cleared, n.cursor <= target, _IN_INBOX
            )
            if only_read:
                chosen = chosen.where(_is_read(read_cursor))
            count = int(await conn.scalar(select(func.count()).select_from(chosen.subquery())) or 0)
            if count:
                stmt = self._dialect_insert(item_states).from_select(
                    ["tenant_id", "user_id", "cursor", "archived_at"], chosen
                )
                stmt = stmt.on_conflict_do_update(
                    index_elements=[s.tenant_id, s.user_id, s.cursor],
                    set_={"archived_at": stmt.excluded.archived_at},
                )
                await conn.execute(stmt)
        return count, target

    async def snooze(
        self,
        identity: Identity,
        ids: Sequence[str],
        until: datetime,
        job: Callable[[int], NewJob],
    ) -> list[str]:
        """The states and their wake-up jobs in one transaction: a snooze is never without
        the job that ends it. An earlier snooze's pending wake-up is cancelled."""
        if not ids:
            return []
        async with self._writing() as conn:
            found = await self._matching(conn, identity, ids)
            cursors = list(found.values())
            await self._cancel_snooze_jobs(conn, identity, cursors)
            await self._set_states(
                conn, identity, cursors, {"snoozed_until": until, "archived_at": None}
            )
            await self._add_jobs(conn, [job(cursor) for cursor in cursors])
        return [i for i in dict.fromkeys(ids) if i in found]

    async def unsnooze(self, identity: Identity, ids: Sequence[str]) -> list[str]:
        """Only items that were snoozed count as changed."""
        if not ids:
            return []
        async with self._writing() as conn:
            found = await self._matching(conn, identity, ids)
            snoozed = {
                int(c)
                for c in (
                    await conn.execute(
                        select(s.cursor).where(
                            s.tenant_id == identity.tenant_id,
                            s.user_id == identity.user_id,
                            s.cursor.in_(list(found.values())),
                            s.snoozed_until.is_not(None),
                        )
                    )
                ).scalars()
            }
            if snoozed:
                await conn.execute(
                    update(item_states)
                    .where(
                        s.tenant_id == identity.tenant_id,
                        s.user_id == identity.user_id,
                        s.cursor.in_(snoozed),
                    )
                    .values(snoozed_until=None)
                )
                await self._cancel_snooze_jobs(conn, identity, sorted(snoozed))
        return [i for i in dict.fromkeys(ids) if found.get(i) in snoozed]

    async def wake(self, identity: Identity, cursor: int, until: datetime) -> InboxItem | None:
        """A conditional update: only the snooze that is still in place ends, once. An item
        the user cleared meanwhile stays gone (its snooze just ends)."""
        async with self._writing() as conn:
            _read, cleared = await self._watermarks(conn, identity)
            if cursor <= cleared:
                await conn.execute(
                    update(item_states)
                    .where(
                        s.tenant_id == identity.tenant_id,
                        s.user_id == identity.user_id,
                        s.cursor == cursor,
                    )
                    .values(snoozed_until=None)
                )
                return None
            result = await conn.execute(
                update(item_states)
                .where(
                    s.tenant_id == identity.tenant_id,
                    s.user_id == identity.user_id,
                    s.cursor == cursor,
                    s.snoozed_until == until,
                )
                .values(
                    snoozed_until=None, returned_at=datetime.now(UTC), read_at=None, seen_at=None
                )
            )
            if not result.rowcount:
                return None
            return await self._item(conn, identity, cursor)

    async def act(
        self, identity: Identity, notification_id: str, action: str, audit: AuditEntry
    ) -> Acted | None:
        """The first action wins, also between two nodes: the upsert keeps a stored one."""
        now = datetime.now(UTC)
        async with self._writing() as conn:
            row = (
                await conn.execute(
                    select(n.cursor, n.payload).where(
                        n.id_scope.in_((identity.tenant_id, "")),
                        n.public_id == notification_id,
                        visible_to(identity),
                    )
                )
            ).first()
            if row is None:
                return None
            offered = row.payload.get("actions") or []
            if not any(isinstance(a, dict) and a.get("id") == action for a in offered):
                return None
            cursor = int(row.cursor)
            values = {
                "action": action,
                "acted_at": now,
                "read_at": now,
                "seen_at": now,
                "returned_at": None,
            }
            await self._set_states(
                conn,
                identity,
                [cursor],
                values,
                keep_first=("action", "acted_at", "read_at", "seen_at"),
            )
            stored = (
                await conn.execute(
                    select(s.action, s.acted_at).where(
                        s.tenant_id == identity.tenant_id,
                        s.user_id == identity.user_id,
                        s.cursor == cursor,
                    )
                )
            ).one()
            acted_at = as_utc(stored.acted_at)
            assert acted_at is not None
            already = not (stored.action == action and acted_at == now)
            if not already:
                await conn.execute(audit_log.insert().values(**_audit_row(audit)))
        return Acted(notification_id, stored.action, acted_at, already)

    # -- preferences and audit ---------------------------------------------------------

    async def get_preferences(self, tenant_id: str, user_id: str) -> dict[str, Any] | None:
        """The stored overrides, or None."""
        p = preferences_table.c
        async with self.engine.connect() as conn:
            document = await conn.scalar(
                select(p.document).where(p.tenant_id == tenant_id, p.user_id == user_id)
            )
        return None if document is None else dict(document)

    async def put_preferences(
        self, tenant_id: str, user_id: str, document: dict[str, Any], audit: AuditEntry | None
    ) -> None:
        """Upsert the document (and the audit entry) in one transaction."""
        stmt = self._dialect_insert(preferences_table).values(
            tenant_id=tenant_id, user_id=user_id, document=document, updated_at=datetime.now(UTC)
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[preferences_table.c.tenant_id, preferences_table.c.user_id],
            set_={"document": stmt.excluded.document, "updated_at": stmt.excluded.updated_at},
        )
        async with self._writing() as conn:
            await conn.execute(stmt)
            if audit is not None:
                await conn.execute(audit_log.insert().values(**_audit_row(audit)))

    async def add_audit(self, entry: AuditEntry) -> None:
        """Insert one entry."""
        async with self._writing() as conn:
            await conn.execute(audit_log.insert().values(**_audit_row(entry)))

    async def list_audit(
        self, tenant_id: str | None, *, since: datetime | None, limit: int
    ) -> list[AuditEntry]:
        """Oldest first (by insertion order)."""
        a = audit_log.c
        query = select(audit_log).order_by(a.pk).limit(limit)
        if tenant_id is not None:
            query = query.where(a.tenant_id == tenant_id)
        if since is not None:
            query = query.where(a.at >= since)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AuditEntry(
                at=as_utc(row.at) or datetime.now(UTC),
                tenant_id=row.tenant_id,
                actor=row.actor,
                action=row.action,
                target=row.target,
                detail=dict(row.detail),
            )
            for row in rows
        ]

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
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            for job in (first_of_key[key] for key in dict.fromkeys(j.key for j in new_jobs))
        ]
        inserted = 0
        for row in rows:
            stmt = self._insert_ignoring_duplicates(jobs).values(**row).returning(jobs.c.key)
            inserted += len((await conn.execute(stmt)).all())
        return inserted


def _audit_row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "tenant_id": entry.tenant_id,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    }
