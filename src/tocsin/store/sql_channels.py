"""SQL queries of the channels beyond the socket (mixed into SqlStore): push subscriptions,
user profiles and the delivery log (DESIGN §8)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Table, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tocsin.models import Identity
from tocsin.store.base import (
    Delivery,
    PushSubscription,
    TenantSettings,
    UserProfile,
    endpoint_hash,
)
from tocsin.store.sql_records import as_utc
from tocsin.store.tables import (
    deliveries,
    progress,
    push_subscriptions,
    tenant_settings,
    user_profiles,
)

p = push_subscriptions.c


class ChannelQueries:
    """Push subscriptions, profiles, deliveries; needs the host's engine and writer."""

    @property
    def engine(self) -> AsyncEngine:
        """The host store's engine."""
        raise NotImplementedError

    def _writing(self) -> AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    def _upsert(self, table: Table, keys: list[str], values: dict[str, Any]) -> Insert:
        raise NotImplementedError

    def _insert_ignoring_duplicates(self, table: Table) -> Insert:
        raise NotImplementedError

    async def put_push_subscription(self, subscription: PushSubscription, limit: int) -> bool:
        """Upsert by endpoint, counting the user's others first."""
        key = endpoint_hash(subscription.endpoint)
        async with self._writing() as conn:
            others = await conn.scalar(
                select(func.count())
                .select_from(push_subscriptions)
                .where(
                    p.tenant_id == subscription.tenant_id,
                    p.user_id == subscription.user_id,
                    p.endpoint_hash != key,
                )
            )
            if int(others or 0) >= limit:
                return False
            values = {
                "endpoint_hash": key,
                "endpoint": subscription.endpoint,
                "tenant_id": subscription.tenant_id,
                "user_id": subscription.user_id,
                "p256dh": subscription.p256dh,
                "auth": subscription.auth,
                "created_at": subscription.created_at,
            }
            await conn.execute(self._upsert(push_subscriptions, ["endpoint_hash"], values))
        return True

    async def delete_push_subscription(self, endpoint: str, identity: Identity | None) -> bool:
        """Delete by endpoint (and owner, when given)."""
        query = delete(push_subscriptions).where(p.endpoint_hash == endpoint_hash(endpoint))
        if identity is not None:
            query = query.where(p.tenant_id == identity.tenant_id, p.user_id == identity.user_id)
        async with self._writing() as conn:
            result = await conn.execute(query)
        return bool(result.rowcount)

    async def push_subscriptions(self, identity: Identity) -> list[PushSubscription]:
        """Oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(push_subscriptions)
                .where(p.tenant_id == identity.tenant_id, p.user_id == identity.user_id)
                .order_by(p.created_at, p.endpoint_hash)
            )
            return [
                PushSubscription(
                    tenant_id=row.tenant_id,
                    user_id=row.user_id,
                    endpoint=row.endpoint,
                    p256dh=row.p256dh,
                    auth=row.auth,
                    created_at=as_utc(row.created_at) or datetime.now(UTC),
                )
                for row in rows
            ]

    async def push_subscription(self, endpoint_hash: str) -> PushSubscription | None:
        """By key."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(push_subscriptions).where(p.endpoint_hash == endpoint_hash)
                )
            ).first()
        if row is None:
            return None
        return PushSubscription(
            tenant_id=row.tenant_id,
            user_id=row.user_id,
            endpoint=row.endpoint,
            p256dh=row.p256dh,
            auth=row.auth,
            created_at=as_utc(row.created_at) or datetime.now(UTC),
        )

    async def push_subscribers(self, tenant_id: str, limit: int) -> list[Identity]:
        """Distinct users, by user id."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(p.user_id)
                .where(p.tenant_id == tenant_id)
                .group_by(p.user_id)
                .order_by(p.user_id)
                .limit(limit)
            )
            return [Identity(tenant_id, row.user_id) for row in rows]

    async def get_progress(self, name: str) -> int | None:
        """The stored cursor, if any."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(select(progress.c.cursor).where(progress.c.name == name))
        return None if value is None else int(value)

    async def advance_progress(self, name: str, cursor: int) -> None:
        """Insert, or raise the stored cursor if ``cursor`` is higher (two nodes at once:
        the insert of one is ignored, the update keeps the higher)."""
        async with self._writing() as conn:
            await conn.execute(
                self._insert_ignoring_duplicates(progress).values(name=name, cursor=cursor)
            )
            await conn.execute(
                update(progress)
                .where(progress.c.name == name, progress.c.cursor < cursor)
                .values(cursor=cursor)
            )

    async def put_profile(self, profile: UserProfile, *, only_email: bool = False) -> None:
        """Upsert; ``only_email`` leaves a stored locale and time zone as they are."""
        values: dict[str, Any] = {
            "tenant_id": profile.tenant_id,
            "user_id": profile.user_id,
            "email": profile.email,
            "updated_at": datetime.now(UTC),
        }
        if not only_email:
            values.update(locale=profile.locale, timezone=profile.timezone)
        async with self._writing() as conn:
            await conn.execute(self._upsert(user_profiles, ["tenant_id", "user_id"], values))

    async def get_profile(self, tenant_id: str, user_id: str) -> UserProfile | None:
        """By (tenant, user)."""
        u = user_profiles.c
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(user_profiles).where(u.tenant_id == tenant_id, u.user_id == user_id)
                )
            ).first()
        if row is None:
            return None
        return UserProfile(row.tenant_id, row.user_id, row.email, row.locale, row.timezone)

    async def profiles_with_email(
        self, tenant_id: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[UserProfile]:
        """Keyset paging on the primary key."""
        u = user_profiles.c
        query = select(user_profiles).where(u.email.is_not(None))
        if tenant_id is not None:
            query = query.where(u.tenant_id == tenant_id)
        if after is not None:
            query = query.where(tuple_(u.tenant_id, u.user_id) > tuple_(*after))
        query = query.order_by(u.tenant_id, u.user_id).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [UserProfile(r.tenant_id, r.user_id, r.email, r.locale, r.timezone) for r in rows]

    async def put_tenant_settings(self, settings: TenantSettings) -> None:
        """Upsert every column."""
        values: dict[str, Any] = {
            "tenant_id": settings.tenant_id,
            "name": settings.name,
            "retention_days": settings.retention_days,
            "push_after": settings.push_after,
            "email_after": settings.email_after,
            "updated_at": datetime.now(UTC),
        }
        async with self._writing() as conn:
            await conn.execute(self._upsert(tenant_settings, ["tenant_id"], values))

    async def get_tenant_settings(self, tenant_id: str) -> TenantSettings:
        """By tenant id; all None when absent."""
        t = tenant_settings.c
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(tenant_settings).where(t.tenant_id == tenant_id))
            ).first()
        if row is None:
            return TenantSettings(tenant_id)
        return TenantSettings(
            tenant_id, row.name, row.retention_days, row.push_after, row.email_after
        )

    async def add_deliveries(self, items: Sequence[Delivery]) -> None:
        """Insert log rows."""
        if not items:
            return
        rows = [
            {
                "cursor": d.cursor,
                "tenant_id": d.tenant_id,
                "user_id": d.user_id,
                "channel": d.channel,
                "status": d.status,
                "detail": d.detail,
                "at": d.at,
            }
            for d in items
        ]
        async with self._writing() as conn:
            await conn.execute(deliveries.insert(), rows)

    async def deliveries(self, cursor: int, limit: int) -> list[Delivery]:
        """Oldest first (insertion order)."""
        d = deliveries.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(deliveries).where(d.cursor == cursor).order_by(d.pk).limit(limit)
            )
            return [
                Delivery(
                    cursor=int(row.cursor),
                    tenant_id=row.tenant_id,
                    user_id=row.user_id,
                    channel=row.channel,
                    status=row.status,
                    detail=row.detail,
                    at=as_utc(row.at) or datetime.now(UTC),
                )
                for row in rows
            ]
