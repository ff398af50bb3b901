"""The seed's helper names, shared by every publisher (HTTP, synchronous, embedded)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from tocsin.errors import TocsinError
from tocsin.models import (
    DEADLINE_ALERT,
    DOSSIER_UPDATED,
    EMAIL_RECEIVED,
    SYSTEM_NOTIFICATION,
    iso_timestamp,
)

NOTIFICATIONS_PATH = "/api/v1/notifications"
BATCH_PATH = "/api/v1/notifications/batch"
MAX_RETRY_DELAY = 30.0

Notification = Mapping[str, Any]
Result = dict[str, Any]
R = TypeVar("R")


class TocsinAPIError(Exception):
    """Tocsin refused a notification: ``status`` (HTTP), ``code``, ``message``, ``field``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    @classmethod
    def from_error(cls, error: TocsinError) -> TocsinAPIError:
        """The same error as the HTTP API would have answered for ``error``."""
        return cls(error.status, error.code, error.message, error.field)


def _wire(notification: Notification) -> dict[str, Any]:
    if not isinstance(notification, Mapping):
        raise TypeError(f"a notification is a mapping, not {type(notification).__name__}")
    return {key: _json_value(value) for key, value in notification.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # Like JavaScript's Date: an instant. A naive datetime is local time, as in Python.
        return iso_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class _Helpers(ABC, Generic[R]):
    """The seed's helpers over one ``publish``; ``R`` is its result (or an awaitable of it)."""

    @abstractmethod
    def publish(self, notification: Notification, *, idempotency_key: str | None = None) -> R:
        """Publish one notification object (the seed's fields plus ``event``)."""

    @abstractmethod
    def publish_batch(
        self, notifications: Sequence[Notification], *, idempotency_key: str | None = None
    ) -> Any:
        """Publish up to 1,000 notifications; each result is ``{id, cursor}`` or an error."""

    def emit_to_user(
        self, user_id: str, event: str, data: Notification, *, tenant_id: str | None = None
    ) -> R:
        """Send ``event`` to one user; their tenant is ``tenant_id`` or ``data["tenantId"]``.

        Raises:
            ValueError: no tenant: user ids are unique only within a tenant.
        """
        tenant = tenant_id if tenant_id is not None else data.get("tenantId")
        if tenant is None:
            raise ValueError(
                "emit_to_user needs the user's tenant: pass tenant_id=… or data['tenantId']"
            )
        return self.publish({**data, "event": event, "userId": user_id, "tenantId": tenant})

    def emit_to_tenant(self, tenant_id: str, event: str, data: Notification) -> R:
        """Send ``event`` to every user of a tenant (a ``userId`` in ``data`` is dropped)."""
        body = {k: v for k, v in data.items() if k != "userId"}
        return self.publish({**body, "event": event, "tenantId": tenant_id})

    def emit_to_all(self, event: str, data: Notification) -> R:
        """Send ``event`` to everyone (``system-notification`` only; needs the admin key)."""
        body = {k: v for k, v in data.items() if k not in ("userId", "tenantId")}
        return self.publish({**body, "event": event})

    def notify_email_received(self, data: Notification) -> R:
        """``email-received`` {id, subject, from, dossierNumber?, userId, tenantId, timestamp}."""
        return self.publish({**data, "event": EMAIL_RECEIVED})

    def notify_dossier_updated(self, data: Notification) -> R:
        """``dossier-updated`` {id, dossierNumber, dossierTitle, action, status?, userId, …}."""
        return self.publish({**data, "event": DOSSIER_UPDATED})

    def notify_deadline_alert(self, data: Notification) -> R:
        """``deadline-alert`` {id, dossierNumber, message, urgency, deadlineType, …}."""
        return self.publish({**data, "event": DEADLINE_ALERT})

    def notify_system(self, data: Notification) -> R:
        """``system-notification`` to ``userId``, else ``tenantId``, else everyone."""
        return self.publish({**data, "event": SYSTEM_NOTIFICATION})
