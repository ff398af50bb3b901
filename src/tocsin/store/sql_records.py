"""SQL queries for API keys, deadlines, mailbox positions, preferences and the audit log
(mixed into :class:`SqlStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Insert, Table, delete, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tocsin.store.base import ApiKeyRecord, AuditEntry, DeadlineRecord, MailboxPosition
from tocsin.store.tables import api_keys, audit_log, deadlines, mailbox_state
from tocsin.store.tables import preferences as preferences_table

d = deadlines.c


def as_utc(value: datetime | None) -> datetime | None:
    """A stored datetime as aware UTC (SQLite hands back naive ones; all are UTC)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _deadline(row: Row[*tuple[Any, ...]]) -> DeadlineRecord:
    updated = as_utc(row.updated_at)
    assert updated is not None  # column is NOT NULL
    return DeadlineRecord(
        tenant_id=row.tenant_id,
        id=row.id,
        user_id=row.user_id,
        dossier_number=row.dossier_number,
        deadline_type=row.deadline_type,
        due_date=row.due_date,
        due_at=row.due_at,
        timezone=row.timezone,
        status=row.status,
        message=row.message,
        updated_at=updated,
    )


def _as_key(row: Row[*tuple[Any, ...]]) -> ApiKeyRecord:
    created = as_utc(row.created_at)
    assert created is not None  # column is NOT NULL
    return ApiKeyRecord(
        key_id=row.key_id,
        tenant_id=row.tenant_id,
        name=row.name,
        secret_hash=row.secret_hash,
        created_at=created,
        revoked_at=as_utc(row.revoked_at),
    )


class RecordQueries:
    """API keys, deadlines, mailbox positions, preferences and the audit log; needs the
    host's engine and writer."""

    @property
    def engine(self) -> AsyncEngine:
        """The host store's engine."""
        raise NotImplementedError

    def _writing(self) -> AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    def _upsert(self, table: Table, keys: list[str], values: dict[str, Any]) -> Insert:
        raise NotImplementedError

    async def put_deadline(self, record: DeadlineRecord) -> bool:
        """Insert or replace by (tenant, id)."""
        values = {
            "tenant_id": record.tenant_id,
            "id": record.id,
            "user_id": record.user_id,
            "dossier_number": record.dossier_number,
            "deadline_type": record.deadline_type,
            "due_date": record.due_date,
            "due_at": record.due_at,
            "timezone": record.timezone,
            "status": record.status,
            "message": record.message,
            "updated_at": record.updated_at,
        }
        async with self._writing() as conn:
            existed = await conn.scalar(
                select(d.id).where(d.tenant_id == record.tenant_id, d.id == record.id)
            )
            await conn.execute(self._upsert(deadlines, ["tenant_id", "id"], values))
        return existed is None

    async def delete_deadline(self, tenant_id: str, deadline_id: str) -> bool:
        """Delete by (tenant, id)."""
        async with self._writing() as conn:
            result = await conn.execute(
                delete(deadlines).where(d.tenant_id == tenant_id, d.id == deadline_id)
            )
        return bool(result.rowcount)

    async def get_deadline(self, tenant_id: str, deadline_id: str) -> DeadlineRecord | None:
        """By (tenant, id)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(deadlines).where(d.tenant_id == tenant_id, d.id == deadline_id)
                )
            ).first()
        return None if row is None else _deadline(row)

    async def list_deadlines(
        self,
        tenant_id: str | None,
        *,
        due_from: date | None = None,
        due_to: date | None = None,
        status: str | None = None,
    ) -> list[DeadlineRecord]:
        """Soonest first."""
        query = select(deadlines).order_by(d.due_date, d.tenant_id, d.id)
        if tenant_id is not None:
            query = query.where(d.tenant_id == tenant_id)
        if due_from is not None:
            query = query.where(d.due_date >= due_from)
        if due_to is not None:
            query = query.where(d.due_date <= due_to)
        if status is not None:
            query = query.where(d.status == status)
        async with self.engine.connect() as conn:
            return [_deadline(row) for row in await conn.execute(query)]

    async def get_mailbox_position(self, mailbox: str) -> MailboxPosition | None:
        """Where the watcher stopped."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(mailbox_state).where(mailbox_state.c.mailbox == mailbox))
            ).first()
        if row is None:
            return None
        return MailboxPosition(row.mailbox, int(row.uidvalidity), int(row.last_uid))

    async def set_mailbox_position(self, position: MailboxPosition) -> None:
        """Upsert by mailbox name."""
        values = {
            "mailbox": position.mailbox,
            "uidvalidity": position.uidvalidity,
            "last_uid": position.last_uid,
            "updated_at": datetime.now(UTC),
        }
        async with self._writing() as conn:
            await conn.execute(self._upsert(mailbox_state, ["mailbox"], values))

    async def add_api_key(self, record: ApiKeyRecord, audit: AuditEntry | None = None) -> None:
        """Insert the key row (and its audit entry)."""
        async with self._writing() as conn:
            await conn.execute(
                api_keys.insert().values(
                    key_id=record.key_id,
                    tenant_id=record.tenant_id,
                    name=record.name,
                    secret_hash=record.secret_hash,
                    created_at=record.created_at,
                    revoked_at=record.revoked_at,
                )
            )
            if audit is not None:
                await conn.execute(audit_log.insert().values(**audit_row(audit)))

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """Look a key up by its public id."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.key_id == key_id))).first()
        return None if row is None else _as_key(row)

    async def list_api_keys(self, tenant_id: str | None) -> list[ApiKeyRecord]:
        """Oldest first."""
        query = select(api_keys).order_by(api_keys.c.created_at)
        if tenant_id is not None:
            query = query.where(api_keys.c.tenant_id == tenant_id)
        async with self.engine.connect() as conn:
            return [_as_key(row) for row in await conn.execute(query)]

    async def revoke_api_key(
        self, key_id: str, at: datetime, audit: AuditEntry | None = None
    ) -> bool:
        """Set ``revoked_at`` once (appending ``audit`` only then)."""
        async with self._writing() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            revoked = bool(result.rowcount)
            if revoked and audit is not None:
                await conn.execute(audit_log.insert().values(**audit_row(audit)))
        return revoked

    async def get_preferences(self, tenant_id: str, user_id: str) -> dict[str, Any] | None:
        """The stored overrides, or None."""
        p = preferences_table.c
        async with self.engine.connect() as conn:
            document = await conn.scalar(
                select(p.document).where(p.tenant_id == tenant_id, p.user_id == user_id)
            )
        return None if document is None else dict(document)

    async def get_preferences_of(
        self, tenant_id: str, user_ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """In one query."""
        if not user_ids:
            return {}
        p = preferences_table.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(p.user_id, p.document).where(
                    p.tenant_id == tenant_id, p.user_id.in_(list(user_ids))
                )
            )
            return {row.user_id: dict(row.document) for row in rows}

    async def put_preferences(
        self, tenant_id: str, user_id: str, document: dict[str, Any], audit: AuditEntry | None
    ) -> None:
        """Upsert the document (and the audit entry) in one transaction."""
        values = {
            "tenant_id": tenant_id,
            "user_id": user_id,
            "document": document,
            "updated_at": datetime.now(UTC),
        }
        stmt = self._upsert(preferences_table, ["tenant_id", "user_id"], values)
        async with self._writing() as conn:
            await conn.execute(stmt)
            if audit is not None:
                await conn.execute(audit_log.insert().values(**audit_row(audit)))

    async def add_audit(self, entry: AuditEntry) -> None:
        """Insert one entry."""
        async with self._writing() as conn:
            await conn.execute(audit_log.insert().values(**audit_row(entry)))

    async def list_audit(
        self,
        tenant_id: str | None,
        *,
        since: datetime | None,
        limit: int,
        until: datetime | None = None,
        after: int | None = None,
    ) -> list[AuditEntry]:
        """Oldest first (by insertion order)."""
        a = audit_log.c
        query = select(audit_log).order_by(a.pk).limit(limit)
        if tenant_id is not None:
            query = query.where(a.tenant_id == tenant_id)
        if since is not None:
            query = query.where(a.at >= since)
        if until is not None:
            query = query.where(a.at < until)
        if after is not None:
            query = query.where(a.pk > after)
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
                pk=int(row.pk),
            )
            for row in rows
        ]


def audit_row(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as the row ``audit_log`` stores."""
    return {
        "at": entry.at,
        "tenant_id": entry.tenant_id,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    }
