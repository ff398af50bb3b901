"""The use cases. HTTP routes, Socket.IO handlers, the CLI and the SDK all call these."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from tocsin import metrics
from tocsin.auth import apikeys
from tocsin.auth.apikeys import Publisher
from tocsin.auth.credentials import Credential
from tocsin.auth.identity import Authenticator, Session
from tocsin.bus.base import DOORBELL, Bus
from tocsin.channelcases import ChannelCases
from tocsin.config import Settings
from tocsin.cursors import parse_cursor
from tocsin.errors import (
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    TocsinError,
    Unauthorized,
    ValidationFailed,
    from_pydantic,
)
from tocsin.inboxstates import InboxStates
from tocsin.limits import KeyedLimiter, retry_after_seconds
from tocsin.models import (
    NOTIFICATION_EVENTS,
    SYSTEM_NOTIFICATION,
    Audience,
    Identity,
    StoredNotification,
    notification_adapter,
)
from tocsin.preferencecases import PreferenceCases
from tocsin.privacycases import PrivacyCases
from tocsin.store.base import ApiKeyRecord, AuditEntry, Draft, InboxItem, InboxView, Store
from tocsin.tenantcases import TenantCases

MAX_BATCH = 1000
MAX_INBOX_PAGE = 200
MAX_IDEMPOTENCY_KEY = 255
# The server's own once-only publishes (e-mail ingestion, deadline alerts) store their
# once-key as an idempotency key under this prefix, which a publisher's Idempotency-Key
# may not use: no tenant can claim, and so silence, an alert before the scheduler sends it.
ONCE_KEY_PREFIX = "tocsin:"
# The request hash of a once-key: the key alone names the notification, whatever its body.
ONCE_HASH = "once"


# Not frozen (but never changed): built for every published notification, and a frozen
# dataclass's __init__ costs five times as much (object.__setattr__ per field).
@dataclass(slots=True)
class Published:
    """The answer to a publish: the notification's id and cursor, and whether it is new."""

    id: str
    cursor: int
    created: bool

    def to_json(self) -> dict[str, Any]:
        """``{id, cursor}`` as the HTTP API answers."""
        return {"id": self.id, "cursor": self.cursor}


@dataclass(frozen=True, slots=True)
class InboxPage:
    """A page of the inbox, newest first; ``next_before`` is None on the last page."""

    items: list[InboxItem]
    next_before: int | None

    def to_json(self) -> dict[str, Any]:
        """``{items, nextBefore}`` with items in the socket events' format plus ``event``."""
        return {
            "items": [item.to_wire(with_event=True) for item in self.items],
            "nextBefore": self.next_before,
        }


def _request_hash(raw: Mapping[str, Any]) -> str:
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _item_key(idempotency_key: str, index: int) -> str:
    """The key of item ``index`` of a batch: ``<key>:<index>``, within the column's 255."""
    key = f"{idempotency_key}:{index}"
    if len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()
    return f"{digest}:{index}"


def _content_hash(
    event: str, source_id: str, fields: Mapping[str, Any], timestamp: datetime
) -> str:
    """What a publish with a source id said, as validated: equal hashes, equal publishes."""
    content = {"event": event, "sourceId": source_id, "fields": fields, "at": timestamp}
    return _request_hash(content)


class NotificationService(InboxStates, PreferenceCases, ChannelCases, TenantCases, PrivacyCases):
    """Publish, inbox, its states and API keys, over a :class:`Store` and a :class:`Bus`."""

    def __init__(self, settings: Settings, store: Store, bus: Bus) -> None:
        self.settings = settings
        self.store = store
        self.bus = bus
        self.authenticator = Authenticator(settings)
        self.publish_limiter = KeyedLimiter(settings.publish_rate, settings.publish_burst)
        self._stored_listeners: list[Callable[[list[StoredNotification]], None]] = []
        self._jobs_added = []
        self._emails_seen = OrderedDict()
        self.recipient_hooks = []

    def on_stored(self, listener: Callable[[list[StoredNotification]], None]) -> None:
        """Call ``listener`` with what this process stored, once it is committed.

        This node's dispatcher sends those notifications without reading them back; the
        store stays the truth (the bus still rings, other nodes read the store).
        """
        self._stored_listeners.append(listener)

    # -- publishing --------------------------------------------------------------------

    def prepare(
        self,
        raw: Any,
        publisher: Publisher,
        idempotency_key: str | None = None,
        now: datetime | None = None,
        *,
        once_key: str | None = None,
    ) -> Draft:
        """Validate one notification object and decide its audience.

        A notification without a ``timestamp`` gets ``now`` (default: the current time). Its
        ``id`` is Tocsin's own; the publisher's ``id`` is kept as its source id. A
        ``once_key`` (the server's own publishes only) makes it a notification stored once
        ever, whatever its content: a publish with the same once-key is a retry.

        Raises:
            ValidationFailed: a field is missing or wrong (the message names it).
            Forbidden: the publisher may not reach that audience.
        """
        if not isinstance(raw, Mapping):
            raise ValidationFailed("a notification must be a JSON object", field="body")
        body = dict(raw)
        event = body.get("event")
        if event not in NOTIFICATION_EVENTS:
            raise ValidationFailed(
                f"event: must be one of {', '.join(NOTIFICATION_EVENTS)} (got {event!r})",
                field="event",
            )
        if publisher.tenant_id is not None:
            # A tenant's key implies its tenant; naming another one is refused below.
            body.setdefault("tenantId", publisher.tenant_id)
        try:
            model = notification_adapter.validate_python(body)
        except ValidationError as exc:
            raise from_pydantic(exc.errors()) from None
        tenant, user = model.tenantId, model.userId
        if user is not None:
            if tenant is None:
                raise ValidationFailed("tenantId: required with userId", field="tenantId")
            audience = Audience.USER
        elif tenant is not None:
            audience = Audience.TENANT
        elif event == SYSTEM_NOTIFICATION:
            audience = Audience.ALL
        else:
            raise ValidationFailed("tenantId: required for this event", field="tenantId")
        if not publisher.is_admin:
            if audience is Audience.ALL:
                raise Forbidden("only the admin key may publish to everyone", field="tenantId")
            if tenant != publisher.tenant_id:
                raise Forbidden(
                    f"this key publishes only into tenant {publisher.tenant_id!r}",
                    field="tenantId",
                )
        timestamp = model.timestamp or now or datetime.now(UTC)
        fields = model.wire_fields()
        source_id = model.id
        request_hash = None
        if once_key is not None:
            idempotency_key, request_hash = ONCE_KEY_PREFIX + once_key, ONCE_HASH
        elif idempotency_key is not None:
            request_hash = _request_hash(raw)
        return Draft(
            id=uuid.uuid4().hex,
            event=event,
            audience=audience,
            tenant_id=tenant,
            user_id=user,
            fields=fields,
            timestamp=timestamp,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            source_id=source_id,
            content_hash=(
                None if source_id is None else _content_hash(event, source_id, fields, timestamp)
            ),
        )

    def check_publish_rate(self, publisher: Publisher, count: int = 1) -> None:
        """Spend ``count`` of the key's publish budget (``TOCSIN_PUBLISH_RATE``, per node).

        Raises:
            RateLimited: over budget; ``retry_after`` says when to try again.
        """
        # A batch larger than the burst costs the whole burst, not more: it can pass.
        cost = min(float(max(1, count)), self.settings.publish_burst)
        wait = self.publish_limiter.take(publisher.key_id, cost)
        if wait:
            raise RateLimited(
                f"this key may publish {self.settings.publish_rate:g} notifications a second",
                retry_after=retry_after_seconds(wait),
            )

    async def publish(
        self,
        raw: Any,
        publisher: Publisher,
        idempotency_key: str | None = None,
        *,
        once_key: str | None = None,
    ) -> Published:
        """Validate, store durably, then ring the bus.

        Raises:
            ValidationFailed, Forbidden: see :meth:`prepare`.
            Conflict: ``idempotency_key`` was already used for a different notification.
        """
        once_keys = None if once_key is None else [once_key]
        [outcome] = await self.publish_many([raw], publisher, idempotency_key, once_keys)
        if isinstance(outcome, TocsinError):
            raise outcome
        return outcome

    async def publish_many(
        self,
        raws: Sequence[Any],
        publisher: Publisher,
        idempotency_key: str | None = None,
        once_keys: Sequence[str | None] | None = None,
    ) -> list[Published | TocsinError]:
        """Publish several notifications in one transaction; each stands or falls alone.

        With an ``idempotency_key``, item *i* uses ``<key>`` (single) or ``<key>:<i>``.
        ``once_keys`` (the server's own publishes) gives item *i* its once-key (see
        :meth:`prepare`).
        """
        if len(raws) > MAX_BATCH:
            raise ValidationFailed(
                f"notifications: at most {MAX_BATCH} per batch (got {len(raws)})",
                field="notifications",
            )
        if idempotency_key is not None and idempotency_key.startswith(ONCE_KEY_PREFIX):
            raise ValidationFailed(
                f"Idempotency-Key: the prefix {ONCE_KEY_PREFIX!r} is reserved for the server",
                field="Idempotency-Key",
            )
        outcomes: list[Published | TocsinError | None] = [None] * len(raws)
        drafts: list[tuple[int, Draft]] = []
        # One time for the whole batch: the store then converts it once, not per row.
        now = datetime.now(UTC)
        for index, raw in enumerate(raws):
            key = None
            if idempotency_key is not None:
                key = idempotency_key if len(raws) == 1 else _item_key(idempotency_key, index)
            once = None if once_keys is None else once_keys[index]
            try:
                drafts.append((index, self.prepare(raw, publisher, key, now, once_key=once)))
            except TocsinError as exc:
                outcomes[index] = exc
        results = await self.store.insert([d for _, d in drafts])
        stored: list[StoredNotification] = []
        for (index, draft), result in zip(drafts, results, strict=True):
            if result.key_conflict:
                outcomes[index] = Conflict(
                    "Idempotency-Key was already used for a different notification",
                    code="idempotency_key_reused",
                    field="Idempotency-Key",
                )
                continue
            outcomes[index] = Published(result.id, result.cursor, result.created)
            if result.created:
                stored.append(draft.stored(result.cursor, result.accepted_at))
        if stored:
            for event, count in Counter(note.event for note in stored).items():
                metrics.published(event).inc(count)
            for listener in self._stored_listeners:
                listener(stored)
            newest = max(note.cursor for note in stored)
            await self.bus.publish({"type": DOORBELL, "cursor": newest, "at": time.time()})
        return [o for o in outcomes if o is not None]

    # -- reading -----------------------------------------------------------------------

    async def max_cursor(self) -> int:
        """The newest committed cursor."""
        return await self.store.max_cursor()

    async def fetch_after(self, cursor: int, limit: int) -> list[StoredNotification]:
        """Every notification after ``cursor`` (for a node's dispatcher)."""
        return await self.store.fetch_after(cursor, limit)

    async def replay(self, identity: Identity, since: int) -> tuple[list[InboxItem], bool]:
        """What a reconnecting client missed after ``since``, bounded by the replay limit."""
        return await self.store.replay(identity, since, self.settings.replay_limit)

    async def inbox(
        self,
        identity: Identity,
        *,
        limit: int = 50,
        before: int | None = None,
        event: str | None = None,
        unread_only: bool = False,
        view: InboxView = InboxView.INBOX,
    ) -> InboxPage:
        """A page of the user's inbox (or of its archive, or of what is snoozed), newest first.

        Raises:
            ValidationFailed: ``limit`` outside 1..200, or an unknown ``event``.
        """
        if not 1 <= limit <= MAX_INBOX_PAGE:
            raise ValidationFailed(f"limit: must be 1..{MAX_INBOX_PAGE}", field="limit")
        if event is not None and event not in NOTIFICATION_EVENTS:
            raise ValidationFailed(f"event: unknown event {event!r}", field="event")
        rows = await self.store.inbox(
            identity, limit=limit, before=before, event=event, unread_only=unread_only, view=view
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return InboxPage(rows, rows[-1].notification.cursor if more and rows else None)

    async def unread_count(self, identity: Identity, up_to: int | None = None) -> int:
        """How many notifications the user has not read (with cursors up to ``up_to``)."""
        return await self.store.unread_count(identity, up_to)

    # -- credentials -------------------------------------------------------------------

    async def authenticate_user(self, credential: Credential | None) -> Session:
        """The end user a session cookie or token belongs to, and until when.

        Raises:
            AuthError: with the documented reason and a message saying exactly why.
        """
        return await self.authenticator.authenticate(credential)

    async def authenticate_publisher(self, presented: str | None) -> Publisher:
        """The publisher an API key belongs to.

        Raises:
            Unauthorized: no key, unknown key, revoked key.
        """
        if not presented:
            raise Unauthorized(
                "missing API key: send Authorization: Bearer <key>", field="Authorization"
            )
        if apikeys.is_admin_key(presented, self.settings.admin_key):
            return Publisher(tenant_id=None, key_id="admin")
        parts = apikeys.split_key(presented)
        if parts is None:
            raise Unauthorized("not a Tocsin API key", field="Authorization")
        key_id, secret = parts
        record = await self.store.get_api_key(key_id)
        if record is None or not apikeys.matches(secret, record.secret_hash):
            raise Unauthorized("unknown API key", field="Authorization")
        if record.revoked_at is not None:
            raise Unauthorized(
                "this API key was revoked", field="Authorization", code="key_revoked"
            )
        return Publisher(tenant_id=record.tenant_id, key_id=key_id)

    async def create_api_key(
        self, tenant_id: str, name: str = "", *, actor: str = "operator"
    ) -> tuple[str, ApiKeyRecord]:
        """Create a tenant key; returns the full key (shown once) and its stored record.

        ``actor`` (who asked: ``cli:<user>``…) goes into the audit entry stored with it.
        """
        if not tenant_id.strip():
            raise ValidationFailed("tenant: must not be empty", field="tenant")
        full, key_id, secret_hash = apikeys.new_key()
        now = datetime.now(UTC)
        record = ApiKeyRecord(key_id, tenant_id, name, secret_hash, now, None)
        audit = AuditEntry(now, tenant_id, actor, "key.create", key_id, {"name": name})
        await self.store.add_api_key(record, audit)
        return full, record

    async def list_api_keys(self, tenant_id: str | None = None) -> list[ApiKeyRecord]:
        """Keys of one tenant, or all."""
        return await self.store.list_api_keys(tenant_id)

    async def revoke_api_key(self, key_id: str, *, actor: str = "operator") -> None:
        """Revoke a key by id (the part after ``tsk_``, before the second ``_``), with an
        audit entry naming ``actor``.

        Raises:
            NotFound: no such active key.
        """
        missing = NotFound(f"no active API key {key_id!r}", field="key_id")
        record = await self.store.get_api_key(key_id)
        if record is None:
            raise missing
        now = datetime.now(UTC)
        detail = {"name": record.name}
        audit = AuditEntry(now, record.tenant_id, actor, "key.revoke", key_id, detail)
        if not await self.store.revoke_api_key(key_id, now, audit):
            raise missing


__all__ = ["InboxPage", "NotificationService", "Published", "parse_cursor"]
