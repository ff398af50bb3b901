"""A firm's own settings (DESIGN §8, §9): its name in e-mails, how long its notifications are
kept, and its escalation delays, each null for the server's default. Mixed into
:class:`tocsin.service.NotificationService`, so that HTTP and the CLI share it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tocsin.auth.apikeys import Publisher
from tocsin.config import Settings
from tocsin.errors import ValidationFailed
from tocsin.preferencecases import may_manage
from tocsin.store.base import AuditEntry, Store, TenantSettings

MAX_NAME = 200
MAX_RETENTION_DAYS = 36_500
MAX_DELAY_SECONDS = 604_800  # a week
# A name goes into e-mail headers: no line breaks or other control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Wire name → (TenantSettings field, lowest, highest); the name is checked apart.
_NUMBERS = {
    "retentionDays": ("retention_days", 1, MAX_RETENTION_DAYS),
    "pushAfter": ("push_after", 0, MAX_DELAY_SECONDS),
    "emailAfter": ("email_after", 0, MAX_DELAY_SECONDS),
}
FIELDS = ("name", *_NUMBERS)


def parse_settings_patch(raw: Any) -> dict[str, Any]:
    """The changes a ``PUT`` asks for, by :class:`TenantSettings` field name.

    Raises:
        ValidationFailed: not an object, an unknown field, or a value out of range; the
            error names the field.
    """
    if not isinstance(raw, dict):
        raise ValidationFailed("settings must be a JSON object", field="body")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        name = str(unknown[0])[:64]
        raise ValidationFailed(f"{name}: unknown field (known: {', '.join(FIELDS)})", field=name)
    changes: dict[str, Any] = {}
    if "name" in raw:
        name = raw["name"]
        if name is not None and (
            not isinstance(name, str)
            or not name.strip()
            or len(name) > MAX_NAME
            or _CONTROL.search(name)
        ):
            raise ValidationFailed(
                f"name: must be null or 1..{MAX_NAME} characters without line breaks",
                field="name",
            )
        changes["name"] = name
    for wire, (column, lowest, highest) in _NUMBERS.items():
        if wire not in raw:
            continue
        value = raw[wire]
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not lowest <= value <= highest
        ):
            raise ValidationFailed(
                f"{wire}: must be null or a whole number from {lowest} to {highest}", field=wire
            )
        changes[column] = value
    return changes


def settings_json(stored: TenantSettings, defaults: Settings) -> dict[str, Any]:
    """``{tenantId, name, retentionDays, pushAfter, emailAfter, effective: {…}}``: what the
    firm set (null: the server's default), and what applies."""
    return {
        "tenantId": stored.tenant_id,
        "name": stored.name,
        "retentionDays": stored.retention_days,
        "pushAfter": stored.push_after,
        "emailAfter": stored.email_after,
        "effective": {
            "name": stored.name or stored.tenant_id,
            "retentionDays": stored.retention_days or defaults.retention_days,
            "pushAfter": defaults.push_after if stored.push_after is None else stored.push_after,
            "emailAfter": (
                defaults.email_after if stored.email_after is None else stored.email_after
            ),
        },
    }


class TenantCases:
    """Read and change a firm's settings; the host provides ``settings`` and ``store``."""

    settings: Settings
    store: Store

    async def tenant_settings_of(self, publisher: Publisher, tenant_id: str) -> dict[str, Any]:
        """A firm's settings (tenant key or admin key).

        Raises:
            Forbidden: another tenant's key.
        """
        may_manage(publisher, tenant_id)
        return settings_json(await self.store.get_tenant_settings(tenant_id), self.settings)

    async def set_tenant_settings(
        self, publisher: Publisher, tenant_id: str, raw: Any
    ) -> dict[str, Any]:
        """Apply a partial document over a firm's settings (null restores a default); a
        change leaves an audit entry with the fields and their new values.

        Raises:
            Forbidden: another tenant's key.
            ValidationFailed: naming the field at fault.
        """
        may_manage(publisher, tenant_id)
        changes = parse_settings_patch(raw)
        before = await self.store.get_tenant_settings(tenant_id)
        changed = {k: v for k, v in changes.items() if getattr(before, k) != v}
        if not changed:
            return settings_json(before, self.settings)
        wire = {column: name for name, (column, _, _) in _NUMBERS.items()} | {"name": "name"}
        audit = AuditEntry(
            at=datetime.now(UTC),
            tenant_id=tenant_id,
            actor=f"key:{publisher.key_id}",
            action="tenant.settings",
            target=tenant_id,
            detail={"changed": {wire[k]: v for k, v in changed.items()}},
        )
        stored = await self.store.patch_tenant_settings(tenant_id, changed, audit)
        return settings_json(stored, self.settings)
