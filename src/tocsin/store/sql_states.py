"""SQL statements that change a user's inbox state (mixed into SqlStore): seen, read,
archived, snoozed (with the durable job that ends the snooze), acted (with its audit entry).
See :mod:`tocsin.store.sql_inbox` for how the sparse state reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Insert, String, Table, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from tocsin.models import Identity
from tocsin.store.base import SNOOZE_JOB, Acted, AuditEntry, InboxItem, NewJob
from tocsin.store.sql_inbox import (
    IN_INBOX,
    InboxQueries,
    is_read,
    visible_to,
    with_states,
)
from tocsin.store.sql_insert import SEQUENCE_NAME
from tocsin.store.sql_jobs import JobQueries
from tocsin.store.sql_records import as_utc, audit_row
from tocsin.store.tables import audit_log, cursor_sequence, item_states, jobs, notifications

n = notifications.c
s = item_states.c
_UTC_DATETIME = DateTime(timezone=True)


class StateQueries(InboxQueries, JobQueries):
    """Every change of a user's state of their notifications; needs the host's writer."""

    is_sqlite: bool

    def _writing(self) -> AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    def _insert_ignoring_duplicates(self, table: Table) -> Insert:
        raise NotImplementedError

    def _dialect_insert(self, table: Table) -> Any:
        return (sqlite if self.is_sqlite else postgresql).insert(table)

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
            ).select_from(with_states(identity))
            chosen = chosen.where(
                visible_to(identity), n.cursor > cleared, n.cursor <= target, IN_INBOX
            )
            if only_read:
                chosen = chosen.where(is_read(read_cursor))
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
                await conn.execute(audit_log.insert().values(**audit_row(audit)))
        return Acted(notification_id, stored.action, acted_at, already)
