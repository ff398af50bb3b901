"""SQL queries for deadlines and mailbox positions (mixed into :class:`SqlStore`)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Insert, Table, delete, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tocsin.store.base import DeadlineRecord, MailboxPosition
from tocsin.store.tables import deadlines, mailbox_state

d = deadlines.c


def _deadline(row: Row[*tuple[Any, ...]]) -> DeadlineRecord:
    updated = row.updated_at
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)
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


class RecordQueries:
    """Deadlines and mailbox positions; needs the host's engine and write transaction."""

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
