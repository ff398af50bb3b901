"""Deadline use cases: the registry and the check. HTTP, CLI and the scheduler call these."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator

from tocsin.auth.apikeys import Publisher
from tocsin.deadlines.rules import (
    Alert,
    Tiers,
    alert_on,
    due_date_of,
    evaluate,
    local_date,
)
from tocsin.errors import Forbidden, NotFound, ValidationFailed, from_pydantic
from tocsin.jobs import BatchJob, ItemFailed
from tocsin.models import (
    DEADLINE_ALERT,
    NO_NUL,
    Identifier,
    in_supported_years,
    notification_adapter,
)
from tocsin.service import NotificationService
from tocsin.store.base import DeadlineRecord

log = logging.getLogger("tocsin.deadlines")

ZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
SCHEDULER = Publisher(tenant_id=None, key_id="scheduler")
# The alert's once-key is ``deadline:<id>:<dueAt>:<day>`` and an idempotency key holds 255
# characters with its prefix: 128 leaves room for the longest dueAt a datetime gives (42)
# and the day. The alert's ``sourceId`` is the deadline's id.
MAX_ID_CHARS = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Where a field of the alert comes from in the deadline (for the 422 of an unpublishable one).
_ALERT_SOURCES = {"remainingDays": "dueAt", "urgency": "dueAt", "id": "id"}


class DeadlineIn(BaseModel):
    """``PUT /api/v1/deadlines/{id}``'s body."""

    model_config = ConfigDict(extra="forbid")

    dossierNumber: Identifier
    deadlineType: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=NO_NUL)]
    dueAt: date | datetime
    userId: Identifier
    tenantId: Identifier | None = None
    status: Literal["open", "closed"] = "open"
    message: (
        Annotated[str, StringConstraints(min_length=1, max_length=10_000, pattern=NO_NUL)] | None
    ) = None
    timezone: ZoneName | None = None

    @field_validator("dueAt")
    @classmethod
    def _plausible(cls, value: date | datetime) -> date | datetime:
        """A due date within the supported years (tiers add days to it)."""
        in_supported_years(value)
        return value


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What one check did: deadlines looked at, alerts published now, alerts already sent."""

    checked: int
    alerted: list[str]
    already: int
    # Deadlines whose alert failed (logged and counted; the others were published).
    failed: int = 0

    def to_json(self) -> dict[str, Any]:
        """``{checked, alerted, already, failed}``."""
        return {
            "checked": self.checked,
            "alerted": self.alerted,
            "already": self.already,
            "failed": self.failed,
        }


def deadline_to_json(record: DeadlineRecord) -> dict[str, Any]:
    """A deadline as the API shows it (camelCase, like the notification payloads)."""
    return {
        "id": record.id,
        "tenantId": record.tenant_id,
        "userId": record.user_id,
        "dossierNumber": record.dossier_number,
        "deadlineType": record.deadline_type,
        "dueAt": record.due_at,
        "dueDate": record.due_date.isoformat(),
        "timezone": record.timezone,
        "status": record.status,
        "message": record.message,
        "updatedAt": record.updated_at.isoformat(),
    }


# The action id of « Accuser réception » on critical alerts; `act` records who took it.
ACKNOWLEDGE = "acknowledge"
ACKNOWLEDGE_LABELS = {"fr": "Accuser réception", "en": "Acknowledge"}


class DeadlineService:
    """Deadlines the scheduler watches, and the check that turns them into alerts."""

    def __init__(self, notifications: NotificationService) -> None:
        self.notifications = notifications
        self.store = notifications.store
        settings = notifications.settings
        self.zone = settings.timezone
        self.locale = settings.locale
        self.tiers = Tiers(
            window=settings.deadline_window_days,
            critical=settings.deadline_critical_days,
            urgent=settings.deadline_urgent_days,
        )
        self.job = BatchJob("deadlines", log)
        # The « Accuser réception » button of critical alerts (None: none).
        self.ack_label = (
            (settings.deadline_ack_label or ACKNOWLEDGE_LABELS[self.locale])
            if settings.deadline_ack
            else None
        )

    @staticmethod
    def _tenant_for(publisher: Publisher, tenant_id: str | None) -> str:
        if publisher.tenant_id is not None:
            if tenant_id not in (None, publisher.tenant_id):
                raise Forbidden(
                    f"this key manages only tenant {publisher.tenant_id!r}", field="tenantId"
                )
            return publisher.tenant_id
        if tenant_id is None:
            raise ValidationFailed("tenantId: required with the admin key", field="tenantId")
        return tenant_id

    async def put(
        self, deadline_id: str, raw: Any, publisher: Publisher, now: datetime | None = None
    ) -> tuple[DeadlineRecord, bool, CheckReport]:
        """Create or replace a deadline, then evaluate it at once (a moved deadline alerts now).

        Returns the record, whether it was created, and what the immediate check published.
        Everything is checked before anything is stored, down to the alert the deadline will
        give: a refused deadline is not stored.

        Raises:
            ValidationFailed: a field is missing or wrong. Forbidden: another tenant.
        """
        if not deadline_id or len(deadline_id) > MAX_ID_CHARS:
            raise ValidationFailed(f"id: 1 to {MAX_ID_CHARS} characters", field="id")
        if _CONTROL.search(deadline_id):
            raise ValidationFailed("id: control characters are not allowed", field="id")
        try:
            body = DeadlineIn.model_validate(raw)
        except ValidationError as exc:
            raise from_pydantic(exc.errors()) from None
        tenant = self._tenant_for(publisher, body.tenantId)
        zone = body.timezone or self.zone
        if body.timezone is not None:
            try:
                ZoneInfo(body.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValidationFailed(
                    f"timezone: unknown time zone {body.timezone!r}", field="timezone"
                ) from None
        record = DeadlineRecord(
            tenant_id=tenant,
            id=deadline_id,
            user_id=body.userId,
            dossier_number=body.dossierNumber,
            deadline_type=body.deadlineType,
            due_date=due_date_of(body.dueAt, zone),
            due_at=body.dueAt.isoformat(),
            timezone=body.timezone,
            status=body.status,
            message=body.message,
            updated_at=datetime.now(UTC),
        )
        now = now or datetime.now(UTC)
        self._refuse_unpublishable(record, now)
        created = await self.store.put_deadline(record)
        report = await self._check([record], now)
        return record, created, report

    def _refuse_unpublishable(self, record: DeadlineRecord, now: datetime) -> None:
        """Raise the 422 the check would meet when publishing this deadline's alert.

        The alert is built as the check would build it, on the first day it is due (within
        the window, or today if already past). So a notification's limits are enforced
        here, before storing, rather than failing at every check.
        """
        today = local_date(now, record.timezone or self.zone)
        remaining = min((record.due_date - today).days, self.tiers.window)
        first_day = record.due_date - timedelta(days=remaining)
        alert = alert_on(record, first_day, self.tiers, self.locale)
        try:
            notification_adapter.validate_python(self._notification(record, alert))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = str(first["loc"][-1]) if first["loc"] else "id"
            field = _ALERT_SOURCES.get(where, where)
            raise ValidationFailed(
                f"{field}: its deadline-alert would be refused ({where}: {first['msg']})",
                field=field,
            ) from None

    async def delete(self, tenant_id: str | None, deadline_id: str, publisher: Publisher) -> None:
        """Delete a deadline (it never alerts again).

        Raises:
            NotFound: no such deadline in that tenant. Forbidden: another tenant.
        """
        tenant = self._tenant_for(publisher, tenant_id)
        if not await self.store.delete_deadline(tenant, deadline_id):
            raise NotFound(f"no deadline {deadline_id!r} in tenant {tenant!r}", field="id")

    async def list_deadlines(
        self,
        publisher: Publisher,
        tenant_id: str | None = None,
        *,
        due_from: date | None = None,
        due_to: date | None = None,
        status: str | None = None,
    ) -> list[DeadlineRecord]:
        """Deadlines of a tenant (the admin key may list all), soonest first."""
        tenant = publisher.tenant_id if publisher.tenant_id is not None else tenant_id
        if publisher.tenant_id is not None and tenant_id not in (None, publisher.tenant_id):
            raise Forbidden(
                f"this key manages only tenant {publisher.tenant_id!r}", field="tenantId"
            )
        return await self.store.list_deadlines(
            tenant, due_from=due_from, due_to=due_to, status=status
        )

    async def check(self, now: datetime | None = None) -> CheckReport:
        """Publish every alert due at ``now``: once per deadline per day, once ever if past.

        Safe to run from several processes at once: each alert is published with its
        once-key, and publishing a once-key that exists creates nothing.
        """
        now = now or datetime.now(UTC)
        # Zones differ by at most a day from UTC: fetch a day more, let evaluate() decide.
        horizon = now.astimezone(UTC).date() + timedelta(days=self.tiers.window + 1)
        due = await self.store.list_deadlines(None, due_to=horizon, status="open")
        return await self._check(due, now)

    def _notification(self, record: DeadlineRecord, alert: Alert) -> dict[str, Any]:
        notification: dict[str, Any] = {
            "event": DEADLINE_ALERT,
            "id": record.id,
            "dossierNumber": record.dossier_number,
            "message": alert.message,
            "urgency": alert.urgency,
            "deadlineType": record.deadline_type,
            "remainingDays": alert.remaining_days,
            "userId": record.user_id,
            "tenantId": record.tenant_id,
        }
        if alert.urgency == "critical" and self.ack_label is not None:
            notification["actions"] = [
                {"id": ACKNOWLEDGE, "label": self.ack_label, "primary": True}
            ]
        return notification

    async def _alert(self, record: DeadlineRecord, now: datetime) -> tuple[str, bool] | None:
        """Publish the alert ``record`` owes at ``now``: (its key, whether it is new), or None."""
        alert = evaluate(record, now, self.zone, self.tiers, self.locale)
        if alert is None:
            return None
        result = await self.notifications.publish(
            self._notification(record, alert), SCHEDULER, once_key=alert.key
        )
        return alert.key, result.created

    async def _check(self, records: list[DeadlineRecord], now: datetime) -> CheckReport:
        # Each deadline on its own: one that cannot be published (a row stored before
        # validation was complete, a bug) must not keep other tenants' alerts from going out.
        outcomes = await self.job.run_each(
            records,
            lambda record: f"{record.tenant_id}/{record.id}",
            lambda record: self._alert(record, now),
        )
        alerted = [o[0] for o in outcomes if isinstance(o, tuple) and o[1]]
        already = sum(1 for o in outcomes if isinstance(o, tuple) and not o[1])
        failed = sum(1 for o in outcomes if isinstance(o, ItemFailed))
        if alerted:
            log.info("deadline check at %s: %d alert(s)", now.isoformat(), len(alerted))
        return CheckReport(len(records), alerted, already, failed)
