"""The store interface: what the service layer needs from persistence, nothing more."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tocsin.models import Audience, Identity, StoredNotification


# Not frozen (but never changed): built for every published notification, and a frozen
# dataclass's __init__ costs five times as much (object.__setattr__ per field).
@dataclass(slots=True)
class Draft:
    """A validated notification about to be stored.

    ``id`` is Tocsin's own; ``source_id`` the publisher's (it may repeat). A draft is a
    retry of an earlier notification when its ``idempotency_key`` or its ``content_hash``
    (set only with a ``source_id``) is already stored in its scope.
    """

    id: str
    event: str
    audience: Audience
    tenant_id: str | None
    user_id: str | None
    fields: dict[str, Any]
    timestamp: datetime
    idempotency_key: str | None = None
    request_hash: str | None = None
    source_id: str | None = None
    content_hash: str | None = None

    @property
    def id_scope(self) -> str:
        """Ids, idempotency keys and content hashes are unique within this scope (the tenant)."""
        return self.tenant_id or ""

    def stored(self, cursor: int, accepted_at: datetime | None) -> StoredNotification:
        """This draft as the store now holds it under ``cursor``."""
        return StoredNotification(
            cursor=cursor,
            id=self.id,
            source_id=self.source_id,
            event=self.event,
            audience=self.audience,
            tenant_id=self.tenant_id,
            user_id=self.user_id,
            fields=self.fields,
            timestamp=self.timestamp.astimezone(UTC),
            accepted_at=accepted_at,
        )


# Not frozen (but never changed): built for every published notification, and a frozen
# dataclass's __init__ costs five times as much (object.__setattr__ per field).
@dataclass(slots=True)
class StoreResult:
    """What became of one draft: stored now (``created``) or found from an earlier publish."""

    id: str
    cursor: int
    created: bool
    # The idempotency key was already used for a different request.
    key_conflict: bool = False
    # When the store accepted it (set when ``created``): the ``accepted_at`` it stored.
    accepted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A notification with the reader's read flag."""

    notification: StoredNotification
    read: bool


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored API key (the secret itself is never stored, only its hash)."""

    key_id: str
    tenant_id: str
    name: str
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeadlineRecord:
    """A deadline the scheduler watches; ``due_date`` is its calendar day in its time zone."""

    tenant_id: str
    id: str
    user_id: str
    dossier_number: str
    deadline_type: str
    due_date: date
    due_at: str
    timezone: str | None
    status: str
    message: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MailboxPosition:
    """How far an IMAP watcher got in one mailbox."""

    mailbox: str
    uidvalidity: int
    last_uid: int


class Store(ABC):
    """Persistence for notifications, per-user read state and API keys."""

    @abstractmethod
    async def open(self, *, migrate: bool) -> None:
        """Connect, and bring the schema up to date when ``migrate`` is true."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the database cannot be reached."""

    @abstractmethod
    async def insert(self, drafts: Sequence[Draft]) -> list[StoreResult]:
        """Store drafts in one transaction, handing out cursors in commit order.

        A draft whose idempotency key or content hash already exists in its scope is not
        stored again: its result carries the first notification's id and cursor (and
        ``key_conflict`` when the key came with another request).
        """

    @abstractmethod
    async def max_cursor(self) -> int:
        """The highest committed cursor (0 when empty)."""

    @abstractmethod
    async def fetch_after(self, cursor: int, limit: int) -> list[StoredNotification]:
        """Every notification after ``cursor``, oldest first, at most ``limit``."""

    @abstractmethod
    async def replay(
        self, identity: Identity, since: int, limit: int
    ) -> tuple[list[InboxItem], bool]:
        """What ``identity`` can see after ``since``, oldest first.

        When more than ``limit`` match, the most recent ``limit`` are returned and the
        flag is true (the caller must tell the client to page its inbox).
        """

    @abstractmethod
    async def inbox(
        self,
        identity: Identity,
        *,
        limit: int,
        before: int | None,
        event: str | None,
        unread_only: bool,
    ) -> list[InboxItem]:
        """A page of ``identity``'s inbox, newest first (``limit`` + 1 rows tell of a next page)."""

    @abstractmethod
    async def unread_count(self, identity: Identity, up_to: int | None = None) -> int:
        """How many visible, not cleared notifications ``identity`` has not read.

        With ``up_to``, only those with a cursor up to it (a count that matches a page).
        """

    @abstractmethod
    async def mark_read(self, identity: Identity, ids: Sequence[str]) -> list[str]:
        """Mark visible notifications read by publisher id; returns the ids that matched."""

    @abstractmethod
    async def mark_all_read(self, identity: Identity, up_to: int | None) -> int:
        """Mark everything up to ``up_to`` (default: the newest) read; returns the watermark."""

    @abstractmethod
    async def clear(self, identity: Identity, up_to: int | None) -> int:
        """Hide everything up to ``up_to`` (default: the newest); returns the watermark."""

    @abstractmethod
    async def add_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new API key."""

    @abstractmethod
    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key with this id, revoked or not."""

    @abstractmethod
    async def list_api_keys(self, tenant_id: str | None) -> list[ApiKeyRecord]:
        """Keys of one tenant, or of all tenants."""

    @abstractmethod
    async def revoke_api_key(self, key_id: str, at: datetime) -> bool:
        """Revoke a key; false if no such key or already revoked."""

    @abstractmethod
    async def put_deadline(self, record: DeadlineRecord) -> bool:
        """Create or replace a deadline; true when it was created."""

    @abstractmethod
    async def delete_deadline(self, tenant_id: str, deadline_id: str) -> bool:
        """Delete; false if there was none."""

    @abstractmethod
    async def get_deadline(self, tenant_id: str, deadline_id: str) -> DeadlineRecord | None:
        """One deadline."""

    @abstractmethod
    async def list_deadlines(
        self,
        tenant_id: str | None,
        *,
        due_from: date | None = None,
        due_to: date | None = None,
        status: str | None = None,
    ) -> list[DeadlineRecord]:
        """Deadlines by tenant (None: all) and due window, soonest first."""

    @abstractmethod
    async def get_mailbox_position(self, mailbox: str) -> MailboxPosition | None:
        """Where the watcher of ``mailbox`` stopped."""

    @abstractmethod
    async def set_mailbox_position(self, position: MailboxPosition) -> None:
        """Record the watcher's progress."""
