"""What the operator page shows and does, as JSON: connections per tenant across the
cluster, publishes per minute, the latest notifications with their delivery log, pending
and failed jobs, and a test publish through the service layer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tocsin.auth.apikeys import Publisher
from tocsin.errors import ValidationFailed
from tocsin.models import (
    DEADLINE_ALERT,
    DOSSIER_UPDATED,
    EMAIL_RECEIVED,
    NOTIFICATION_EVENTS,
    SYSTEM_NOTIFICATION,
    StoredNotification,
    iso_timestamp,
)
from tocsin.realtime.presence import Presence
from tocsin.service import NotificationService, Published
from tocsin.store.base import AuditEntry, Delivery, JobRecord

# Minutes of publishes shown; and how many of the newest notifications are counted (the
# count is then "at least" that many: the work stays bounded on a busy server).
MINUTES = 10
PUBLISH_SCAN = 50_000
LATEST = 20
DELIVERIES_PER_NOTIFICATION = 20
JOBS = 50
# The operator publishes as the admin key would, under a name of its own in the logs.
OPERATOR = Publisher(tenant_id=None, key_id="admin-page")
LEVELS = ("info", "success", "warning", "error")
_URGENCY = {"info": "info", "success": "info", "warning": "warning", "error": "critical"}
_TEXT_LIMIT = 1000


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else iso_timestamp(moment)


def summary(note: StoredNotification) -> str:
    """One line saying what a notification is about (its title, subject or message)."""
    fields = note.fields
    for name in ("title", "subject", "dossierTitle", "message"):
        value = fields.get(name)
        if isinstance(value, str) and value:
            return value[:200]
    return note.event


@dataclass(frozen=True, slots=True)
class Operations:
    """The operator page's use cases over one node's service and its cluster presence."""

    service: NotificationService
    presence: Presence

    def connections(self) -> dict[str, Any]:
        """Sockets per tenant across the cluster (most first), and per node."""
        tenants = sorted(self.presence.by_tenant().items(), key=lambda kv: (-kv[1], kv[0]))
        nodes = [
            {"id": node, "connections": sum(counts.values()), "self": node == self.presence.node_id}
            for node, counts in sorted(self.presence.by_node().items())
        ]
        return {
            "tenants": [{"tenantId": tenant, "connections": count} for tenant, count in tenants],
            "total": sum(count for _, count in tenants),
            "nodes": nodes,
            "shared": self.presence.shared,
        }

    async def publishes(self, now: datetime | None = None) -> dict[str, Any]:
        """Notifications stored in the last 60 s and in each of the last whole minutes,
        counted from the store (so whichever node or process published them)."""
        now = now or datetime.now(UTC)
        this_minute = now.replace(second=0, microsecond=0)
        starts = [this_minute - timedelta(minutes=i) for i in range(MINUTES + 1)]
        counts = await self.service.store.accepted_since(
            [now - timedelta(minutes=1), *starts], PUBLISH_SCAN
        )
        last_minute, since = counts[0], counts[1:]
        minutes = [
            {"minute": iso_timestamp(starts[i]), "count": since[i] - since[i - 1]}
            for i in range(1, MINUTES + 1)
        ]
        return {
            "lastMinute": last_minute,
            "thisMinute": since[0],
            "minutes": minutes,
            # Every notification looked at was recent: there may be more than counted.
            "capped": since[-1] >= PUBLISH_SCAN,
        }

    async def notifications(self, limit: int = LATEST) -> dict[str, Any]:
        """The newest notifications, newest first, each with its delivery log."""
        store = self.service.store
        newest = await store.max_cursor()
        notes = await store.fetch_after(max(0, newest - limit), limit)
        items = []
        for note in reversed(notes):
            deliveries = await store.deliveries(note.cursor, DELIVERIES_PER_NOTIFICATION)
            items.append(
                {
                    "id": note.id,
                    "cursor": note.cursor,
                    "event": note.event,
                    "audience": note.audience.value,
                    "tenantId": note.tenant_id,
                    "userId": note.user_id,
                    "summary": summary(note),
                    "critical": note.critical,
                    "acceptedAt": _when(note.accepted_at),
                    "deliveries": [_delivery(d) for d in deliveries],
                }
            )
        return {"items": items}

    async def jobs(self, limit: int = JOBS) -> dict[str, Any]:
        """Pending jobs (soonest first) and failed ones."""
        store = self.service.store
        pending = await store.list_jobs(status="pending", limit=limit)
        failed = await store.list_jobs(status="failed", limit=limit)
        return {"pending": [_job(j) for j in pending], "failed": [_job(j) for j in failed]}

    async def publish(self, raw: Any) -> Published:
        """Publish the test form's notification through the service layer (validated and
        stored like any publish), and audit it.

        Raises:
            ValidationFailed: a field of the form is missing or wrong (``field`` names it).
        """
        notification = form_notification(raw)
        published = await self.service.publish(notification, OPERATOR)
        if published.created:
            entry = AuditEntry(
                at=datetime.now(UTC),
                tenant_id=notification["tenantId"],
                actor="admin-page",
                action="admin.publish",
                target=published.id,
                detail={"event": notification["event"], "userId": notification.get("userId")},
            )
            await self.service.store.add_audit(entry)
        return published


def _delivery(delivery: Delivery) -> dict[str, Any]:
    return {
        "channel": delivery.channel,
        "userId": delivery.user_id,
        "status": delivery.status,
        "detail": delivery.detail,
        "at": _when(delivery.at),
    }


def _job(job: JobRecord) -> dict[str, Any]:
    return {
        "key": job.key,
        "kind": job.kind,
        "tenantId": job.tenant_id,
        "userId": job.user_id,
        "runAt": _when(job.run_at),
        "attempts": job.attempts,
        "lastError": None if job.last_error is None else job.last_error[:500],
    }


def _text(raw: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed(f"{name}: required", field=name)
        return None
    if not isinstance(value, str) or len(value) > _TEXT_LIMIT:
        raise ValidationFailed(f"{name}: must be text of at most {_TEXT_LIMIT}", field=name)
    return value.strip()


def form_notification(raw: Any) -> dict[str, Any]:
    """The notification the test form describes (tenant, user or the whole tenant, event,
    title, message, level), in the HTTP API's format.

    Raises:
        ValidationFailed: a field is missing or wrong (``field`` names it).
    """
    if not isinstance(raw, dict):
        raise ValidationFailed("body: must be a JSON object", field="body")
    tenant = _text(raw, "tenantId")
    user = _text(raw, "userId", required=False)
    event = raw.get("event", SYSTEM_NOTIFICATION)
    if event not in NOTIFICATION_EVENTS:
        raise ValidationFailed(f"event: one of {', '.join(NOTIFICATION_EVENTS)}", field="event")
    title = _text(raw, "title")
    message = _text(raw, "message", required=event in (SYSTEM_NOTIFICATION, DEADLINE_ALERT))
    level = raw.get("level", "info")
    if level not in LEVELS:
        raise ValidationFailed(f"level: one of {', '.join(LEVELS)}", field="level")
    base: dict[str, Any] = {"event": event, "tenantId": tenant}
    if user is not None:
        base["userId"] = user
    if event == SYSTEM_NOTIFICATION:
        return {**base, "title": title, "message": message, "type": level}
    if event == EMAIL_RECEIVED:
        return {**base, "subject": title, "from": "Tocsin (test)"}
    if event == DOSSIER_UPDATED:
        return {**base, "dossierNumber": "TEST", "dossierTitle": title, "action": "updated"}
    return {
        **base,
        "dossierNumber": "TEST",
        "message": message,
        "urgency": _URGENCY[str(level)],
        "deadlineType": title,
        "remainingDays": 1,
    }
