"""SQL queries of data protection (DESIGN §9), mixed into :class:`SqlStore`: a firm's
settings, purging old notifications, erasing a user, and reading all of a user's data.

Whatever deletes works in transactions of a bounded number of rows: neither SQLite's single
writer nor PostgreSQL's row locks are held for long, however large the tables, and other
writers (publishes, inbox changes) get their turn between two batches.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Table,
    Text,
    and_,
    cast,
    delete,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tocsin.models import Identity
from tocsin.store.base import (
    AuditEntry,
    DeadlineRecord,
    Delivery,
    Erased,
    ExportedItem,
    ItemState,
    JobRecord,
    Purged,
    TenantSettings,
    identity_hash,
)
from tocsin.store.sql_inbox import item_query, row_to_item, visible_to
from tocsin.store.sql_jobs import _record as job_record
from tocsin.store.sql_records import _deadline as deadline_record
from tocsin.store.sql_records import as_utc, audit_row
from tocsin.store.tables import (
    audit_log,
    deadlines,
    deliveries,
    item_states,
    jobs,
    notifications,
    outbox,
    preferences,
    progress,
    push_subscriptions,
    tenant_settings,
    user_profiles,
    user_state,
)

n = notifications.c
s = item_states.c
a = audit_log.c
SETTING_COLUMNS = frozenset({"name", "retention_days", "push_after", "email_after"})
FINISHED = ("done", "failed", "cancelled")

# The tenants that have notifications, one index probe each (a "loose index scan"): no pass
# over the notifications, however many there are.
_TENANTS = text(
    """
    WITH RECURSIVE scopes(tenant_id) AS (
        SELECT MIN(tenant_id) FROM notifications WHERE tenant_id > :after
        UNION ALL
        SELECT (SELECT MIN(tenant_id) FROM notifications WHERE tenant_id > scopes.tenant_id)
        FROM scopes WHERE scopes.tenant_id IS NOT NULL
    )
    SELECT tenant_id FROM scopes WHERE tenant_id IS NOT NULL LIMIT :limit
    """
)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pseudonymise(value: Any, user_id: str, pseudonym: str) -> Any:
    """``value`` (an audit entry's detail) with every string equal to ``user_id`` replaced."""
    if isinstance(value, str):
        return pseudonym if value == user_id else value
    if isinstance(value, dict):
        return {k: _pseudonymise(v, user_id, pseudonym) for k, v in value.items()}
    if isinstance(value, list):
        return [_pseudonymise(v, user_id, pseudonym) for v in value]
    return value


def _settings(row: Any, tenant_id: str) -> TenantSettings:
    if row is None:
        return TenantSettings(tenant_id)
    return TenantSettings(tenant_id, row.name, row.retention_days, row.push_after, row.email_after)


class PrivacyQueries:
    """Settings, retention, erasure and export; needs the host's engine and writer."""

    @property
    def engine(self) -> AsyncEngine:
        """The host store's engine."""
        raise NotImplementedError

    def _writing(self) -> AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    def _upsert(self, table: Table, keys: list[str], values: dict[str, Any]) -> Insert:
        raise NotImplementedError

    # -- a firm's settings -----------------------------------------------------------------

    async def patch_tenant_settings(
        self, tenant_id: str, changes: Mapping[str, Any], audit: AuditEntry | None
    ) -> TenantSettings:
        """An upsert of the given columns only: two changes of different settings at once
        both stay (no read-modify-write)."""
        unknown = set(changes) - SETTING_COLUMNS
        if unknown:
            raise ValueError(f"not tenant settings: {sorted(unknown)}")
        values = {"tenant_id": tenant_id, **changes, "updated_at": datetime.now(UTC)}
        t = tenant_settings.c
        async with self._writing() as conn:
            await conn.execute(self._upsert(tenant_settings, ["tenant_id"], values))
            if audit is not None:
                await conn.execute(audit_log.insert().values(**audit_row(audit)))
            row = (
                await conn.execute(select(tenant_settings).where(t.tenant_id == tenant_id))
            ).first()
        return _settings(row, tenant_id)

    # -- retention -------------------------------------------------------------------------

    async def retention_overrides(self) -> dict[str, int]:
        """From ``tenant_settings``."""
        t = tenant_settings.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.tenant_id, t.retention_days).where(t.retention_days.is_not(None))
            )
            return {row.tenant_id: int(row.retention_days) for row in rows}

    async def retention_scopes(self, limit: int, after: str | None = None) -> list[str]:
        """A loose index scan of the notifications' tenants ("" sorts before every id)."""
        async with self.engine.connect() as conn:
            found = (await conn.execute(_TENANTS, {"limit": limit, "after": after or ""})).scalars()
            return [str(tenant) for tenant in found]

    async def purge_failed_outbox(self, older_than: datetime, limit: int) -> int:
        """By primary key, in one transaction."""
        o = outbox.c
        old = and_(o.failed_at.is_not(None), o.failed_at < older_than.astimezone(UTC))
        async with self._writing() as conn:
            ids = list((await conn.execute(select(o.id).where(old).limit(limit))).scalars())
            if not ids:
                return 0
            return int((await conn.execute(delete(outbox).where(o.id.in_(ids)))).rowcount)

    async def purge_notifications(
        self, tenant_id: str | None, older_than: datetime, limit: int
    ) -> Purged:
        """The oldest by ``accepted_at`` (index ``ix_notifications_retention``); rows
        stored before that column existed by their ``created_at``."""
        # SQLite keeps datetimes as naive UTC text: compare in UTC.
        before = older_than.astimezone(UTC)
        scope = n.tenant_id.is_(None) if tenant_id is None else n.tenant_id == tenant_id
        async with self._writing() as conn:
            cursors = list(
                (
                    await conn.execute(
                        select(n.cursor).where(scope, n.accepted_at < before).limit(limit)
                    )
                ).scalars()
            )
            if len(cursors) < limit:
                cursors += (
                    await conn.execute(
                        select(n.cursor)
                        .where(scope, n.accepted_at.is_(None), n.created_at < before)
                        .limit(limit - len(cursors))
                    )
                ).scalars()
            return await self._delete_notifications(conn, cursors)

    async def _delete_notifications(self, conn: AsyncConnection, cursors: Sequence[int]) -> Purged:
        """Notifications by cursor, with everyone's states, deliveries and jobs of them."""
        if not cursors:
            return Purged()
        found = list(cursors)
        states = await conn.execute(delete(item_states).where(s.cursor.in_(found)))
        lines = await conn.execute(delete(deliveries).where(deliveries.c.cursor.in_(found)))
        their_jobs = await conn.execute(delete(jobs).where(jobs.c.cursor.in_(found)))
        notes = await conn.execute(delete(notifications).where(n.cursor.in_(found)))
        return Purged(notes.rowcount, states.rowcount, lines.rowcount, their_jobs.rowcount)

    async def purge_finished_jobs(self, older_than: datetime, limit: int) -> int:
        """By ``ix_jobs_due`` (status, run_at); a job about a notification goes with it."""
        j = jobs.c
        old = and_(
            j.status.in_(FINISHED), j.run_at < older_than.astimezone(UTC), j.cursor.is_(None)
        )
        async with self._writing() as conn:
            keys = list((await conn.execute(select(j.key).where(old).limit(limit))).scalars())
            if not keys:
                return 0
            return int((await conn.execute(delete(jobs).where(old, j.key.in_(keys)))).rowcount)

    # -- erasure ---------------------------------------------------------------------------

    async def erase_user(
        self, identity: Identity, pseudonym: str, audit: Callable[[Erased], AuditEntry], batch: int
    ) -> Erased:
        """First what planners read (profile, preferences, subscriptions, positions,
        deadlines), then batch by batch their notifications, states, deliveries, jobs,
        outbox rows and audit mentions, then the audit entry of the erasure."""
        tenant, user = identity.tenant_id, identity.user_id
        if not user:
            raise ValueError('a user id is required ("" holds the tenant\'s defaults)')
        # First what planners read (profile, preferences, subscriptions, positions): no
        # node plans a job for the user while the rest goes.
        async with self._writing() as conn:
            counts = []
            for table in (user_state, preferences, user_profiles, push_subscriptions):
                c = table.c
                result = await conn.execute(
                    delete(table).where(c.tenant_id == tenant, c.user_id == user)
                )
                counts.append(result.rowcount)
            # Readers of one user's notifications (the digest) are named after its hash.
            readers = await conn.execute(
                delete(progress).where(progress.c.name.like(f"%:{identity_hash(identity)}"))
            )
            counts[0] += readers.rowcount
        # The deadlines that would alert the user again.
        dl = deadlines.c
        their_deadlines = await self._delete_batches(
            deadlines, dl.id, and_(dl.tenant_id == tenant, dl.user_id == user), batch
        )
        own = Purged()
        while True:
            async with self._writing() as conn:
                cursors = (
                    await conn.execute(
                        select(n.cursor)
                        .where(n.tenant_id == tenant, n.user_id == user)
                        .limit(batch)
                    )
                ).scalars()
                done = await self._delete_notifications(conn, list(cursors))
            own += done
            if done.notifications < batch:
                break
        states = await self._delete_batches(
            item_states, s.cursor, and_(s.tenant_id == tenant, s.user_id == user), batch
        )
        d = deliveries.c
        lines = await self._delete_batches(
            deliveries, d.pk, and_(d.tenant_id == tenant, d.user_id == user), batch
        )
        j = jobs.c
        their_jobs = await self._delete_batches(
            jobs, j.key, and_(j.tenant_id == tenant, j.user_id == user), batch
        )
        # Outbox rows not yet published (or failed) to the user: the app's own writes.
        o = outbox.c
        document_tenant = o.notification["tenantId"].as_string()
        outbox_rows = await self._delete_batches(
            outbox,
            o.id,
            and_(
                o.notification["userId"].as_string() == user,
                or_(
                    o.tenant_id == tenant,
                    and_(o.tenant_id.is_(None), document_tenant == tenant),
                ),
            ),
            batch,
        )
        mentions = await self._pseudonymise_audit(identity, pseudonym, batch)
        async with self._writing() as conn:
            erased = Erased(
                notifications=own.notifications,
                states=own.states + states,
                deliveries=own.deliveries + lines,
                jobs=own.jobs + their_jobs,
                preferences=counts[1],
                profiles=counts[2],
                push_subscriptions=counts[3],
                deadlines=their_deadlines,
                watermarks=counts[0],
                audit_pseudonymised=mentions,
                outbox_rows=outbox_rows,
            )
            await conn.execute(audit_log.insert().values(**audit_row(audit(erased))))
        return erased

    async def _delete_batches(
        self, table: Table, key: Any, where: ColumnElement[bool], batch: int
    ) -> int:
        """Delete the rows matching ``where``, ``batch`` keys per transaction."""
        total = 0
        while True:
            async with self._writing() as conn:
                keys = list((await conn.execute(select(key).where(where).limit(batch))).scalars())
                if keys:
                    result = await conn.execute(delete(table).where(where, key.in_(keys)))
                    total += result.rowcount
            if len(keys) < batch:
                return total

    async def _pseudonymise_audit(self, identity: Identity, pseudonym: str, batch: int) -> int:
        """The tenant's audit entries that name the user (as actor ``user:<id>``, as target,
        or in their detail) name ``pseudonym`` instead; the rest of each entry stays."""
        user = identity.user_id
        actor, new_actor = f"user:{user}", f"user:{pseudonym}"
        # The detail is JSON text: a user id with quotes or non-ASCII letters is escaped there.
        spelt = {user, json.dumps(user)[1:-1]}
        detail = cast(a.detail, Text)
        mentions = or_(
            a.actor == actor,
            a.target.in_((user, actor)),
            *(detail.like(f"%{_like_escape(form)}%", escape="\\") for form in spelt),
        )
        changed, after = 0, 0
        while True:
            async with self._writing() as conn:
                rows = (
                    await conn.execute(
                        select(a.pk, a.actor, a.target, a.detail)
                        .where(a.tenant_id == identity.tenant_id, a.pk > after, mentions)
                        .order_by(a.pk)
                        .limit(batch)
                    )
                ).all()
                for row in rows:
                    values = {
                        "actor": new_actor if row.actor == actor else row.actor,
                        "target": {user: pseudonym, actor: new_actor}.get(row.target, row.target),
                        "detail": _pseudonymise(row.detail, user, pseudonym),
                    }
                    if values != {"actor": row.actor, "target": row.target, "detail": row.detail}:
                        await conn.execute(update(audit_log).where(a.pk == row.pk).values(values))
                        changed += 1
            if len(rows) < batch:
                return changed
            after = int(rows[-1].pk)

    # -- export ----------------------------------------------------------------------------

    async def watermarks(self, identity: Identity) -> tuple[int, int]:
        """From ``user_state``."""
        async with self.engine.connect() as conn:
            return await self._watermarks_of(conn, identity)

    async def _watermarks_of(self, conn: AsyncConnection, identity: Identity) -> tuple[int, int]:
        u = user_state.c
        row = (
            await conn.execute(
                select(u.read_cursor, u.cleared_cursor).where(
                    u.tenant_id == identity.tenant_id, u.user_id == identity.user_id
                )
            )
        ).first()
        return (0, 0) if row is None else (int(row.read_cursor), int(row.cleared_cursor))

    async def export_items(
        self, identity: Identity, *, own: bool, after: int, limit: int
    ) -> list[ExportedItem]:
        """With the raw state row beside the read/seen flags the inbox shows."""
        async with self.engine.connect() as conn:
            read_cursor, _cleared = await self._watermarks_of(conn, identity)
            query = item_query(identity, read_cursor).add_columns(
                s.seen_at, s.read_at, s.returned_at, s.cursor.label("state_cursor")
            )
            if own:
                query = query.where(
                    n.tenant_id == identity.tenant_id, n.user_id == identity.user_id
                )
            else:
                query = query.where(
                    s.tenant_id == identity.tenant_id,
                    s.user_id == identity.user_id,
                    n.user_id.is_(None),
                    visible_to(identity),
                )
            rows = (
                await conn.execute(query.where(n.cursor > after).order_by(n.cursor).limit(limit))
            ).all()
        return [
            ExportedItem(
                row_to_item(row),
                None
                if row.state_cursor is None
                else ItemState(
                    seen_at=as_utc(row.seen_at),
                    read_at=as_utc(row.read_at),
                    archived_at=as_utc(row.archived_at),
                    snoozed_until=as_utc(row.snoozed_until),
                    returned_at=as_utc(row.returned_at),
                    action=row.action,
                    acted_at=as_utc(row.acted_at),
                ),
            )
            for row in rows
        ]

    async def user_deliveries(
        self, identity: Identity, after: int, limit: int
    ) -> list[tuple[int, Delivery]]:
        """By key (insertion order)."""
        d = deliveries.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(deliveries)
                .where(
                    d.tenant_id == identity.tenant_id, d.user_id == identity.user_id, d.pk > after
                )
                .order_by(d.pk)
                .limit(limit)
            )
            return [
                (
                    int(row.pk),
                    Delivery(
                        cursor=int(row.cursor),
                        tenant_id=row.tenant_id,
                        user_id=row.user_id,
                        channel=row.channel,
                        status=row.status,
                        detail=row.detail,
                        at=as_utc(row.at) or datetime.now(UTC),
                    ),
                )
                for row in rows
            ]

    async def user_jobs(self, identity: Identity, after: str, limit: int) -> list[JobRecord]:
        """By key."""
        j = jobs.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(jobs)
                .where(
                    j.tenant_id == identity.tenant_id, j.user_id == identity.user_id, j.key > after
                )
                .order_by(j.key)
                .limit(limit)
            )
            return [job_record(row) for row in rows]

    async def user_deadlines(
        self, identity: Identity, after: str, limit: int
    ) -> list[DeadlineRecord]:
        """By id, within the tenant."""
        dl = deadlines.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(deadlines)
                .where(
                    dl.tenant_id == identity.tenant_id,
                    dl.user_id == identity.user_id,
                    dl.id > after,
                )
                .order_by(dl.id)
                .limit(limit)
            )
            return [deadline_record(row) for row in rows]

    async def user_audit(
        self, identity: Identity, after: int, limit: int
    ) -> list[tuple[int, AuditEntry]]:
        """By key (insertion order), within the tenant."""
        actor = f"user:{identity.user_id}"
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(audit_log)
                .where(
                    a.tenant_id == identity.tenant_id,
                    a.pk > after,
                    or_(a.actor == actor, a.target.in_((identity.user_id, actor))),
                )
                .order_by(a.pk)
                .limit(limit)
            )
            return [
                (
                    int(row.pk),
                    AuditEntry(
                        at=as_utc(row.at) or datetime.now(UTC),
                        tenant_id=row.tenant_id,
                        actor=row.actor,
                        action=row.action,
                        target=row.target,
                        detail=dict(row.detail),
                    ),
                )
                for row in rows
            ]
