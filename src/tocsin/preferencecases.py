"""The preference use cases of DESIGN §7: a user's own choices over their tenant's defaults.
Mixed into :class:`tocsin.service.NotificationService`; the document itself (validation,
merging, quiet hours) is :mod:`tocsin.preferences`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from tocsin import preferences
from tocsin.auth.apikeys import Publisher
from tocsin.bus.base import PREFERENCES, Bus
from tocsin.config import Settings
from tocsin.errors import Forbidden, ValidationFailed
from tocsin.models import Identity
from tocsin.store.base import AuditEntry, Store

# The user id under which a tenant's default preferences are stored.
TENANT_DEFAULTS = ""


class PreferenceCases:
    """Read and change preferences; the host provides ``settings``, ``store`` and ``bus``."""

    settings: Settings
    store: Store
    bus: Bus
    # Called with (user, tenant id) after a change of preferences or profile (user None:
    # the tenant's defaults changed).
    recipient_hooks: list[Callable[[Identity | None, str], Awaitable[None]]]

    async def effective_preferences(self, identity: Identity) -> preferences.Preferences:
        """The user's effective preferences: built-in ⊕ tenant defaults ⊕ their own, in
        their profile's time zone when it has one (else ``TOCSIN_TIMEZONE``)."""
        tenant = await self.store.get_preferences(identity.tenant_id, TENANT_DEFAULTS)
        own = await self.store.get_preferences(identity.tenant_id, identity.user_id)
        return preferences.effective(tenant, own, await self._zone_of(identity))

    async def preferences_of(self, identity: Identity) -> dict[str, Any]:
        """The user's effective preferences as the wire carries them."""
        return preferences.to_json(await self.effective_preferences(identity))

    async def _zone_of(self, identity: Identity) -> str:
        profile = await self.store.get_profile(identity.tenant_id, identity.user_id)
        return (profile.timezone if profile else None) or self.settings.timezone

    async def _recipient_changed(self, identity: Identity | None, tenant_id: str) -> None:
        """Tell the hooks (the digest's planner) that a user's (or, with ``identity`` None,
        a whole tenant's) preferences or profile changed."""
        for hook in self.recipient_hooks:
            await hook(identity, tenant_id)

    async def set_preferences(
        self, identity: Identity, raw: Any, *, origin: str | None = None
    ) -> dict[str, Any]:
        """Apply a (partial) document over the user's own choices; answers the effective
        preferences and tells the user's other sockets.

        Raises:
            ValidationFailed: naming the field at fault.
        """
        patch = preferences.parse_overrides(raw)
        tenant = await self.store.get_preferences(identity.tenant_id, TENANT_DEFAULTS)
        own = preferences.merge_overrides(
            await self.store.get_preferences(identity.tenant_id, identity.user_id), patch
        )
        result = preferences.to_json(
            preferences.effective(tenant, own, await self._zone_of(identity))
        )
        await self.store.put_preferences(identity.tenant_id, identity.user_id, own, None)
        await self._recipient_changed(identity, identity.tenant_id)
        await self.bus.publish(
            {
                "type": PREFERENCES,
                "tenantId": identity.tenant_id,
                "userId": identity.user_id,
                "origin": origin,
                "preferences": result,
            }
        )
        return result

    async def tenant_preferences(self, publisher: Publisher, tenant_id: str) -> dict[str, Any]:
        """A tenant's defaults as its users inherit them (tenant key or admin key)."""
        may_manage(publisher, tenant_id)
        tenant = await self.store.get_preferences(tenant_id, TENANT_DEFAULTS)
        return preferences.to_json(preferences.effective(tenant, None, self.settings.timezone))

    async def set_tenant_preferences(
        self, publisher: Publisher, tenant_id: str, raw: Any
    ) -> dict[str, Any]:
        """Apply a (partial) document over the tenant's defaults; audited; every socket of
        the tenant is told to fetch its preferences again."""
        may_manage(publisher, tenant_id)
        patch = preferences.parse_overrides(raw)
        stored = preferences.merge_overrides(
            await self.store.get_preferences(tenant_id, TENANT_DEFAULTS), patch
        )
        result = preferences.to_json(preferences.effective(stored, None, self.settings.timezone))
        audit = AuditEntry(
            at=datetime.now(UTC),
            tenant_id=tenant_id,
            actor=f"key:{publisher.key_id}",
            action="preferences.tenant",
            target=tenant_id,
            detail={"changed": patch},
        )
        await self.store.put_preferences(tenant_id, TENANT_DEFAULTS, stored, audit)
        await self._recipient_changed(None, tenant_id)
        await self.bus.publish(
            {"type": PREFERENCES, "tenantId": tenant_id, "userId": None, "origin": None}
        )
        return result


def may_manage(publisher: Publisher, tenant_id: str) -> None:
    """Refuse a tenant id that is none, or that the key may not manage (403)."""
    if not tenant_id or len(tenant_id) > 200 or "\x00" in tenant_id:
        raise ValidationFailed("tenantId: must be a tenant id", field="tenantId")
    if not publisher.is_admin and publisher.tenant_id != tenant_id:
        raise Forbidden(f"this key manages only tenant {publisher.tenant_id!r}", field="tenantId")
