"""The four notification kinds of the seed, their event names and wire format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
)

EMAIL_RECEIVED = "email-received"
DOSSIER_UPDATED = "dossier-updated"
DEADLINE_ALERT = "deadline-alert"
SYSTEM_NOTIFICATION = "system-notification"
NOTIFICATION_EVENTS = (EMAIL_RECEIVED, DOSSIER_UPDATED, DEADLINE_ALERT, SYSTEM_NOTIFICATION)
EventName = Literal["email-received", "dossier-updated", "deadline-alert", "system-notification"]

CLIENTS_COUNT = "clients-count"
RESYNC = "resync"
NOTIFICATIONS_READ = "notifications-read"
NOTIFICATIONS_CHANGED = "notifications-changed"
NOTIFICATION_DUE = "notification-due"
PREFERENCES_CHANGED = "preferences-changed"
# Sent just before the server disconnects a socket for good: ``{reason}`` ("erased").
SESSION_ENDED = "session-ended"


class Audience(StrEnum):
    """Who may see a notification."""

    USER = "user"
    TENANT = "tenant"
    ALL = "all"


def _id_to_str(value: Any) -> Any:
    # Publishers often hold numeric database ids; the wire id is always a string.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
# The constraints come first so that pydantic checks them natively after the conversion
# (listed after a validator they run in Python, and the length is checked before stripping:
# "  " was accepted as an empty id).
Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True, pattern=NO_NUL),
    BeforeValidator(_id_to_str),
]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=NO_NUL)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=10_000, pattern=NO_NUL)]


# Dates far from now are typos or fuzz; near years 1 and 9999 converting zones overflows.
EARLIEST_YEAR = 1900
LATEST_YEAR = 9000


def in_supported_years(moment: date) -> None:
    """Raise ``ValueError`` (a 422 naming the field) for a date outside 1900..9000."""
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")


def utc_moment(value: datetime) -> datetime:
    """``value`` in UTC (naive is taken as UTC), within the supported years."""
    in_supported_years(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@lru_cache(maxsize=256)
def iso_timestamp(moment: datetime) -> str:
    """Format like JavaScript's ``Date.prototype.toISOString`` (UTC, milliseconds, ``Z``).

    Cached: the notifications of a batch share their time, and each is formatted once per
    fan-out.
    """
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


MAX_ACTIONS = 3
# A link the NotificationCenter opens: http(s) or a path of the app ("/dossiers/1"), never
# "javascript:" or a protocol-relative "//host" that would leave the app unnoticed.
_ACTION_URL = r"^(https?://[^\s\x00]+|/([^/\s\x00][^\s\x00]*)?)$"


class Action(BaseModel):
    """A button on a notification (« Accuser réception »); ``act`` records which was taken."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00\s]+$")]
    label: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]
    url: Annotated[str, StringConstraints(max_length=2000, pattern=_ACTION_URL)] | None = None
    primary: bool | None = None


class _Notification(BaseModel):
    """Fields shared by every kind. Unknown fields are refused so typos surface at once."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_max_length=10_000)

    id: Identifier | None = None
    userId: Identifier | None = None
    tenantId: Identifier | None = None
    timestamp: datetime | None = None
    # DESIGN §7: buttons (at most 3, ids unique) and "critical" (never muted).
    actions: Annotated[list[Action], Field(max_length=MAX_ACTIONS)] | None = None
    critical: bool | None = None

    @field_validator("actions")
    @classmethod
    def _unique_action_ids(cls, value: list[Action] | None) -> list[Action] | None:
        """Two buttons with one id could not be told apart by ``act``."""
        if value is not None and len({a.id for a in value}) != len(value):
            raise ValueError("action ids must be unique")
        return value or None

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """Normalise to UTC (a timestamp without offset is taken as UTC)."""
        return None if value is None else utc_moment(value)

    def wire_fields(self) -> dict[str, Any]:
        """The payload as sent to clients, camelCase, without ``event``/``id``/``timestamp``."""
        data = self.model_dump(by_alias=True, exclude_none=True, exclude={"event"})
        data.pop("id", None)
        data.pop("timestamp", None)
        return data


class EmailReceived(_Notification):
    """``email-received``: a new e-mail for a user."""

    event: Literal["email-received"]
    subject: ShortText
    sender: ShortText = Field(alias="from")
    dossierNumber: Identifier | None = None


class DossierUpdated(_Notification):
    """``dossier-updated``: a dossier was created, updated, changed status or got a document."""

    event: Literal["dossier-updated"]
    dossierNumber: Identifier
    dossierTitle: ShortText
    action: Literal["created", "updated", "status_changed", "document_added"]
    status: ShortText | None = None


class DeadlineAlert(_Notification):
    """``deadline-alert``: a legal deadline is close or past."""

    event: Literal["deadline-alert"]
    dossierNumber: Identifier
    message: LongText
    urgency: Literal["critical", "urgent", "warning", "info"]
    deadlineType: ShortText
    remainingDays: int = Field(ge=-100_000, le=100_000)


class SystemNotification(_Notification):
    """``system-notification``: an announcement to a user, a tenant or everyone."""

    event: Literal["system-notification"]
    title: ShortText
    message: LongText
    type: Literal["info", "success", "warning", "error"]


NotificationIn = Annotated[
    EmailReceived | DossierUpdated | DeadlineAlert | SystemNotification,
    Field(discriminator="event"),
]
notification_adapter: TypeAdapter[NotificationIn] = TypeAdapter(NotificationIn)


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified end user: always the pair (tenant, user)."""

    tenant_id: str
    user_id: str
    role: str | None = None


# Not frozen (but never changed): built for every published notification, and a frozen
# dataclass's __init__ costs five times as much (object.__setattr__ per field).
@dataclass(slots=True)
class StoredNotification:
    """A notification as the store keeps it, ready to be sent."""

    cursor: int
    id: str
    event: str
    audience: Audience
    tenant_id: str | None
    user_id: str | None
    fields: dict[str, Any]
    timestamp: datetime
    accepted_at: datetime | None = None
    # The publisher's own id (the subject of the notification: it may repeat).
    source_id: str | None = None

    def visible_to(self, identity: Identity) -> bool:
        """Whether this notification belongs in ``identity``'s inbox."""
        if self.audience is Audience.ALL:
            return True
        if self.tenant_id != identity.tenant_id:
            return False
        return self.audience is Audience.TENANT or self.user_id == identity.user_id

    @property
    def critical(self) -> bool:
        """Critical (DESIGN §7): it cannot be muted and ignores quiet hours."""
        return is_critical(self.event, self.fields)

    def to_wire(
        self,
        *,
        read: bool = False,
        with_event: bool = False,
        seen: bool = False,
        archived: bool = False,
        snoozed_until: datetime | None = None,
        action: str | None = None,
        acted_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The seed's payload plus ``sourceId`` (when the publisher gave an id), ``cursor``,
        ``critical`` and the reader's state: ``seen``, ``read``, ``archived``,
        ``snoozedUntil``, ``actionTaken`` (and ``actedAt``); ``event`` for inbox items."""
        data: dict[str, Any] = {"id": self.id}
        if self.source_id is not None:
            data["sourceId"] = self.source_id
        data.update(self.fields)
        data["timestamp"] = iso_timestamp(self.timestamp)
        data["cursor"] = self.cursor
        data["critical"] = is_critical(self.event, self.fields)
        data["seen"] = seen or read
        data["read"] = read
        data["archived"] = archived
        data["snoozedUntil"] = None if snoozed_until is None else iso_timestamp(snoozed_until)
        # Not "action": the seed's dossier-updated already has a field of that name.
        data["actionTaken"] = action
        if acted_at is not None:
            data["actedAt"] = iso_timestamp(acted_at)
        if with_event:
            data["event"] = self.event
        return data


def is_critical(event: str, fields: dict[str, Any]) -> bool:
    """A ``deadline-alert`` of urgency ``critical``, a ``system-notification`` of type
    ``error``, or anything published with ``"critical": true`` (DESIGN §7)."""
    if fields.get("critical") is True:
        return True
    if event == DEADLINE_ALERT:
        return fields.get("urgency") == "critical"
    return event == SYSTEM_NOTIFICATION and fields.get("type") == "error"
