"""The store interface: what the service layer needs from persistence, nothing more."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
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
    """A notification with the reader's state of it (DESIGN §7)."""

    notification: StoredNotification
    read: bool
    seen: bool = False
    archived: bool = False
    snoozed_until: datetime | None = None
    action: str | None = None
    acted_at: datetime | None = None

    def to_wire(self, *, with_event: bool = False) -> dict[str, Any]:
        """The notification as clients receive it, with this reader's state."""
        return self.notification.to_wire(
            read=self.read,
            with_event=with_event,
            seen=self.seen,
            archived=self.archived,
            snoozed_until=self.snoozed_until,
            action=self.action,
            acted_at=self.acted_at,
        )


class InboxView(StrEnum):
    """Which part of the inbox a page lists."""

    # Neither archived nor snoozed: the seed's inbox.
    INBOX = "inbox"
    ARCHIVED = "archived"
    SNOOZED = "snoozed"


@dataclass(frozen=True, slots=True)
class Badge:
    """The two numbers a client shows: not read, and not even seen (inbox view only)."""

    unread: int
    unseen: int


@dataclass(frozen=True, slots=True)
class Counts:
    """Counts of a user's inbox: ``total``, ``unread`` and ``unseen`` cover the inbox view;
    ``by_event`` maps each event to (unread, total) in it."""

    unread: int
    unseen: int
    total: int
    archived: int
    snoozed: int
    by_event: dict[str, tuple[int, int]]

    def to_json(self) -> dict[str, Any]:
        """``{unread, unseen, total, archived, snoozed, byEvent: {event: {unread, total}}}``."""
        return {
            "unread": self.unread,
            "unseen": self.unseen,
            "total": self.total,
            "archived": self.archived,
            "snoozed": self.snoozed,
            "byEvent": {
                event: {"unread": unread, "total": total}
                for event, (unread, total) in self.by_event.items()
            },
        }


@dataclass(frozen=True, slots=True)
class Acted:
    """The action recorded on a notification: the first one taken, and when."""

    id: str
    action: str
    acted_at: datetime
    # False when this call recorded it; true when an earlier one had.
    already: bool


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the append-only audit log."""

    at: datetime
    tenant_id: str | None
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    # The row's position in the log (set once stored; the audit API pages on it).
    pk: int | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    """A durable job to run at ``run_at``; its ``key`` makes it unique."""

    key: str
    kind: str
    run_at: datetime
    payload: dict[str, Any]
    tenant_id: str | None = None
    user_id: str | None = None


# The kind of the job that ends a snooze; the store cancels pending ones by key prefix.
SNOOZE_JOB = "snooze"


def identity_hash(identity: Identity) -> str:
    """32 hex characters naming (tenant, user) in job keys, whatever the ids' lengths."""
    return hashlib.sha256(f"{identity.tenant_id}\0{identity.user_id}".encode()).hexdigest()[:32]


def snooze_job_key(identity: Identity, cursor: int, until: datetime) -> str:
    """``snooze:<cursor>:<until ms>:<identity hash>``: one wake-up per item per ``until``."""
    return f"{SNOOZE_JOB}:{cursor}:{int(until.timestamp() * 1000)}:{identity_hash(identity)}"


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as claimed by a node (``attempts`` counts this attempt)."""

    key: str
    kind: str
    run_at: datetime
    payload: dict[str, Any]
    tenant_id: str | None
    user_id: str | None
    attempts: int
    status: str
    last_error: str | None


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


def endpoint_hash(endpoint: str) -> str:
    """The key of a push subscription: the sha256 of its endpoint URL."""
    return hashlib.sha256(endpoint.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """A browser's Web Push subscription (its ``PushSubscription.toJSON()``), and whose."""

    tenant_id: str
    user_id: str
    endpoint: str
    p256dh: str
    auth: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UserProfile:
    """Where to e-mail a user, and in which language and time zone (None: not known)."""

    tenant_id: str
    user_id: str
    email: str | None
    locale: str | None
    timezone: str | None


@dataclass(frozen=True, slots=True)
class TenantSettings:
    """A firm's own settings; None means the server's default (DESIGN §8, §9)."""

    tenant_id: str
    name: str | None = None
    retention_days: int | None = None
    push_after: int | None = None
    email_after: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One push or e-mail outcome for one recipient of a notification."""

    cursor: int
    tenant_id: str
    user_id: str
    channel: str
    status: str
    detail: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Purged:
    """What a purge batch removed: notifications, and every state, delivery line and job
    of theirs (DESIGN §9)."""

    notifications: int = 0
    states: int = 0
    deliveries: int = 0
    jobs: int = 0
    outbox_rows: int = 0

    def __add__(self, other: Purged) -> Purged:
        return Purged(
            self.notifications + other.notifications,
            self.states + other.states,
            self.deliveries + other.deliveries,
            self.jobs + other.jobs,
            self.outbox_rows + other.outbox_rows,
        )


@dataclass(frozen=True, slots=True)
class Erased:
    """What erasing a user removed (``audit_pseudonymised``: earlier audit entries whose
    mention of the user became the pseudonym)."""

    notifications: int = 0
    states: int = 0
    deliveries: int = 0
    jobs: int = 0
    preferences: int = 0
    profiles: int = 0
    push_subscriptions: int = 0
    deadlines: int = 0
    watermarks: int = 0
    audit_pseudonymised: int = 0
    outbox_rows: int = 0


@dataclass(frozen=True, slots=True)
class ItemState:
    """A user's state row of one notification, as stored (DESIGN §7)."""

    seen_at: datetime | None
    read_at: datetime | None
    archived_at: datetime | None
    snoozed_until: datetime | None
    returned_at: datetime | None
    action: str | None
    acted_at: datetime | None


@dataclass(frozen=True, slots=True)
class ExportedItem:
    """A notification as its reader sees it, and the reader's state row (None: nothing
    happened to it yet)."""

    item: InboxItem
    state: ItemState | None


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
        view: InboxView = InboxView.INBOX,
    ) -> list[InboxItem]:
        """A page of ``identity``'s inbox, newest first (``limit`` + 1 rows tell of a next page)."""

    @abstractmethod
    async def unread_count(self, identity: Identity, up_to: int | None = None) -> int:
        """How many visible, not cleared notifications ``identity`` has not read.

        With ``up_to``, only those with a cursor up to it (a count that matches a page).
        """

    @abstractmethod
    async def badge(self, identity: Identity, up_to: int | None = None) -> Badge:
        """Unread and unseen counts of the inbox view (not archived, not snoozed), of the
        notifications with cursors up to ``up_to`` (a count that matches a page)."""

    @abstractmethod
    async def counts(self, identity: Identity) -> Counts:
        """Every count of the user's inbox (see :class:`Counts`)."""

    @abstractmethod
    async def mark_read(self, identity: Identity, ids: Sequence[str]) -> list[str]:
        """Mark visible notifications read by id; returns the ids that matched."""

    @abstractmethod
    async def mark_seen(self, identity: Identity, ids: Sequence[str]) -> list[str]:
        """Mark visible notifications seen by id; returns the ids that matched."""

    @abstractmethod
    async def archive(self, identity: Identity, ids: Sequence[str], archived: bool) -> list[str]:
        """Archive (or unarchive) by id; archiving ends a snooze. Returns the ids matched."""

    @abstractmethod
    async def archive_all(
        self, identity: Identity, up_to: int | None, only_read: bool
    ) -> tuple[int, int]:
        """Archive every inbox notification up to ``up_to`` (default: the newest), or only
        the read ones; returns (how many were archived now, the cursor it went up to)."""

    @abstractmethod
    async def snooze(
        self, identity: Identity, ids: Sequence[str], until: datetime, job: Callable[[int], NewJob]
    ) -> list[str]:
        """Snooze by id until ``until`` (unarchiving them), and store ``job(cursor)`` for
        each in the same transaction. Returns the ids that matched."""

    @abstractmethod
    async def unsnooze(self, identity: Identity, ids: Sequence[str]) -> list[str]:
        """End snoozes by id (the item is back, as it was); returns the ids that were snoozed."""

    @abstractmethod
    async def wake(self, identity: Identity, cursor: int, until: datetime) -> InboxItem | None:
        """End the snooze of one notification if it is still snoozed until ``until``: it
        comes back unread and unseen. None when it was unsnoozed, re-snoozed or woken already
        (so a job run twice wakes it once)."""

    @abstractmethod
    async def act(
        self, identity: Identity, notification_id: str, action: str, audit: AuditEntry
    ) -> Acted | None:
        """Record ``action`` once (a later call answers the first), mark the notification
        read, and append ``audit`` in the same transaction. None: no such notification or
        it has no such action."""

    @abstractmethod
    async def get_preferences(self, tenant_id: str, user_id: str) -> dict[str, Any] | None:
        """The stored overrides of a user (``user_id`` "": the tenant's defaults)."""

    @abstractmethod
    async def get_preferences_of(
        self, tenant_id: str, user_ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """The stored overrides of several users of a tenant (those who have some)."""

    @abstractmethod
    async def put_preferences(
        self, tenant_id: str, user_id: str, document: dict[str, Any], audit: AuditEntry | None
    ) -> None:
        """Replace a user's (or tenant's) overrides, appending ``audit`` if given."""

    @abstractmethod
    async def add_audit(self, entry: AuditEntry) -> None:
        """Append an audit entry."""

    @abstractmethod
    async def list_audit(
        self,
        tenant_id: str | None,
        *,
        since: datetime | None,
        limit: int,
        until: datetime | None = None,
        after: int | None = None,
    ) -> list[AuditEntry]:
        """Audit entries of a tenant (None: all), oldest first (by ``pk``): at or after
        ``since``, before ``until``, with a ``pk`` above ``after``."""

    @abstractmethod
    async def enqueue_jobs(self, new_jobs: Sequence[NewJob]) -> int:
        """Store jobs whose keys are new; returns how many were new."""

    @abstractmethod
    async def claim_jobs(
        self,
        worker: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        kinds: Sequence[str] | None = None,
    ) -> list[JobRecord]:
        """Claim up to ``limit`` pending jobs due at ``now`` (of ``kinds`` only, if given)
        that nobody holds (or whose holder's lease ran out): each is held by ``worker``
        until the lease ends."""

    @abstractmethod
    async def renew_job(self, key: str, worker: str, now: datetime, lease_seconds: float) -> bool:
        """Extend ``worker``'s lease of a claimed job from ``now``; false when it no longer
        holds it (its lease ran out and another node claimed it)."""

    @abstractmethod
    async def finish_job(self, key: str, worker: str, status: str, error: str | None) -> bool:
        """Mark a held job ``done`` or ``failed``; false if ``worker`` no longer holds it."""

    @abstractmethod
    async def retry_job(self, key: str, worker: str, run_at: datetime, error: str) -> bool:
        """Release a held job to run again at ``run_at``; false if no longer held."""

    @abstractmethod
    async def move_job(self, key: str, run_at: datetime) -> bool:
        """Move a pending job that no node holds to ``run_at``; False if there is none."""

    @abstractmethod
    async def next_job_at(self) -> datetime | None:
        """When the soonest pending job is due (None: none pending)."""

    @abstractmethod
    async def list_jobs(
        self, *, status: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """Jobs, soonest first (for operators and tests)."""

    @abstractmethod
    async def mark_all_read(self, identity: Identity, up_to: int | None) -> int:
        """Mark everything up to ``up_to`` (default: the newest) read; returns the watermark."""

    @abstractmethod
    async def clear(self, identity: Identity, up_to: int | None) -> int:
        """Hide everything up to ``up_to`` (default: the newest); returns the watermark."""

    @abstractmethod
    async def add_api_key(self, record: ApiKeyRecord, audit: AuditEntry | None = None) -> None:
        """Store a new API key (and ``audit``, in the same transaction)."""

    @abstractmethod
    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key with this id, revoked or not."""

    @abstractmethod
    async def list_api_keys(self, tenant_id: str | None) -> list[ApiKeyRecord]:
        """Keys of one tenant, or of all tenants."""

    @abstractmethod
    async def revoke_api_key(
        self, key_id: str, at: datetime, audit: AuditEntry | None = None
    ) -> bool:
        """Revoke a key, appending ``audit`` in the same transaction if it was revoked now;
        false if no such key or already revoked."""

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

    @abstractmethod
    async def item(self, identity: Identity, cursor: int) -> InboxItem | None:
        """One notification with ``identity``'s state of it, if visible."""

    @abstractmethod
    async def notification_by_id(
        self, notification_id: str, tenant_id: str | None
    ) -> StoredNotification | None:
        """A notification by its id, in ``tenant_id``'s scope (None: any scope)."""

    @abstractmethod
    async def put_push_subscription(self, subscription: PushSubscription, limit: int) -> bool:
        """Store a subscription (an endpoint already known changes owner). False, storing
        nothing, when its user already has ``limit`` others."""

    @abstractmethod
    async def delete_push_subscription(self, endpoint: str, identity: Identity | None) -> bool:
        """Forget an endpoint (only the user's own, unless ``identity`` is None)."""

    @abstractmethod
    async def push_subscriptions(self, identity: Identity) -> list[PushSubscription]:
        """The user's subscriptions, oldest first."""

    @abstractmethod
    async def push_subscription(self, endpoint_hash: str) -> PushSubscription | None:
        """One subscription by the sha256 of its endpoint."""

    @abstractmethod
    async def push_subscribers(self, tenant_id: str, limit: int) -> list[Identity]:
        """Users of a tenant with at least one push subscription."""

    @abstractmethod
    async def get_progress(self, name: str) -> int | None:
        """The cursor a named reader got to (None: it never ran)."""

    @abstractmethod
    async def advance_progress(self, name: str, cursor: int) -> None:
        """Move a named reader forward to ``cursor`` (never back)."""

    @abstractmethod
    async def put_profile(self, profile: UserProfile, *, only_email: bool = False) -> None:
        """Store a profile (``only_email``: change the e-mail address, keep the rest)."""

    @abstractmethod
    async def get_profile(self, tenant_id: str, user_id: str) -> UserProfile | None:
        """A user's profile, if any."""

    @abstractmethod
    async def profiles_with_email(
        self, tenant_id: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[UserProfile]:
        """Profiles that have an e-mail address (of one tenant, or all), in (tenant, user)
        order after ``after``."""

    @abstractmethod
    async def put_tenant_settings(self, settings: TenantSettings) -> None:
        """Store a firm's settings (all of them: a None is the server's default)."""

    @abstractmethod
    async def get_tenant_settings(self, tenant_id: str) -> TenantSettings:
        """A firm's settings (all None when it never set any)."""

    @abstractmethod
    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Append to the delivery log."""

    @abstractmethod
    async def deliveries(self, cursor: int, limit: int) -> list[Delivery]:
        """The delivery log of one notification, oldest first."""

    @abstractmethod
    async def accepted_since(self, moments: Sequence[datetime], scan: int) -> list[int]:
        """For each of ``moments``, how many of the newest ``scan`` notifications the store
        accepted at or after it (publishes per minute on the operator page)."""

    # -- data protection (DESIGN §9: tocsin.retention, tocsin.privacycases) ---------------

    @abstractmethod
    async def patch_tenant_settings(
        self, tenant_id: str, changes: Mapping[str, Any], audit: AuditEntry | None
    ) -> TenantSettings:
        """Set the given settings (keys: :class:`TenantSettings` field names), keep the
        others, and append ``audit``, in one transaction; returns them all."""

    @abstractmethod
    async def retention_overrides(self) -> dict[str, int]:
        """The tenants that set their own retention, and its days."""

    @abstractmethod
    async def retention_scopes(self, limit: int, after: str | None = None) -> list[str]:
        """The tenants that have notifications, in order, after ``after`` (at most
        ``limit``); the notifications to everyone are the purge's last scope, not listed."""

    @abstractmethod
    async def purge_notifications(
        self, tenant_id: str | None, older_than: datetime, limit: int
    ) -> Purged:
        """Delete up to ``limit`` notifications of one tenant (None: those to everyone)
        accepted before ``older_than`` (stored without that time: published before it),
        with every state, delivery line and job of theirs, in one transaction."""

    @abstractmethod
    async def purge_failed_outbox(self, older_than: datetime, limit: int) -> int:
        """Delete up to ``limit`` outbox rows that failed before ``older_than`` (they hold
        whole notifications); returns how many."""

    @abstractmethod
    async def purge_finished_jobs(self, older_than: datetime, limit: int) -> int:
        """Delete up to ``limit`` jobs done, failed or cancelled that were due before
        ``older_than`` and are about no notification (those go with it), in one
        transaction; returns how many."""

    @abstractmethod
    async def erase_user(
        self, identity: Identity, pseudonym: str, audit: Callable[[Erased], AuditEntry], batch: int
    ) -> Erased:
        """Delete everything of one user: their own notifications (with everyone's states,
        deliveries and jobs of them), their states, watermarks, preferences, profile, push
        subscriptions, deliveries, jobs, deadlines and the positions of readers named after
        them (``<reader>:<identity hash>``), in transactions of at most ``batch`` rows each;
        earlier audit entries that name them name ``pseudonym`` instead. The last
        transaction appends ``audit(what was erased)``."""

    @abstractmethod
    async def export_items(
        self, identity: Identity, *, own: bool, after: int, limit: int
    ) -> list[ExportedItem]:
        """A page of the user's notifications (``own``: those to them alone; else those to
        their tenant or everyone that they have a state of), by cursor after ``after``."""

    @abstractmethod
    async def watermarks(self, identity: Identity) -> tuple[int, int]:
        """The user's read and cleared watermarks (0, 0 when none)."""

    @abstractmethod
    async def user_deliveries(
        self, identity: Identity, after: int, limit: int
    ) -> list[tuple[int, Delivery]]:
        """A page of the user's delivery log lines with their keys, after key ``after``."""

    @abstractmethod
    async def user_jobs(self, identity: Identity, after: str, limit: int) -> list[JobRecord]:
        """A page of the user's jobs (any status) by key, after ``after``."""

    @abstractmethod
    async def user_deadlines(
        self, identity: Identity, after: str, limit: int
    ) -> list[DeadlineRecord]:
        """A page of the deadlines that alert the user, by id, after ``after``."""

    @abstractmethod
    async def user_audit(
        self, identity: Identity, after: int, limit: int
    ) -> list[tuple[int, AuditEntry]]:
        """A page of the audit entries by or about the user (actor ``user:<id>``, or target
        the user id) with their keys, after key ``after``."""
