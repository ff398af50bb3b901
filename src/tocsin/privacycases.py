"""Erasing and exporting one user's data (DESIGN §9). Mixed into
:class:`tocsin.service.NotificationService`, so that HTTP and the CLI share it.

An erasure leaves the tenant's own notifications (to the whole firm, or to everyone) but
takes the user's state of them; it leaves an audit entry that names the user only by a
pseudonym, ``erased:<HMAC-SHA256 of tenant NUL user>`` under a key of the server, which
earlier audit entries that named them now carry too (rewritten in place: the one change an
audit entry ever gets): whoever holds the server's key and knows the id can still tie an
acknowledgement to it; a list of candidate ids alone cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from tocsin import metrics
from tocsin.auth.apikeys import Publisher
from tocsin.bus.base import ERASED, Bus
from tocsin.channelcases import profile_json
from tocsin.config import Settings
from tocsin.errors import ValidationFailed
from tocsin.models import Identity, iso_timestamp
from tocsin.preferencecases import may_manage
from tocsin.serverkeys import server_key
from tocsin.store.base import (
    AuditEntry,
    DeadlineRecord,
    Erased,
    ExportedItem,
    ItemState,
    JobRecord,
    Store,
)

log = logging.getLogger("tocsin.privacy")

# Rows deleted per transaction, and rows read per page of an export.
ERASE_BATCH = 1000
EXPORT_PAGE = 500

K = TypeVar("K")
R = TypeVar("R")


def pseudonym(identity: Identity, key: bytes | None) -> str:
    """``erased:<HMAC-SHA256 of tenant NUL user>``: what the audit log says instead of the
    id. Keyed by the server (:func:`tocsin.serverkeys.server_key`), so that a list of
    candidate ids cannot be hashed to find who it was; the operator, who has the key, can
    still tie an acknowledgement to a known id."""
    subject = f"{identity.tenant_id}\0{identity.user_id}".encode()
    digest = hmac.new(key or b"", subject, hashlib.sha256).hexdigest()
    return f"erased:{digest}"


def erased_json(erased: Erased) -> dict[str, int]:
    """The counts an erasure answers, by kind (camelCase)."""
    return {
        "notifications": erased.notifications,
        "states": erased.states,
        "deliveries": erased.deliveries,
        "jobs": erased.jobs,
        "preferences": erased.preferences,
        "profiles": erased.profiles,
        "pushSubscriptions": erased.push_subscriptions,
        "deadlines": erased.deadlines,
        "watermarks": erased.watermarks,
        "auditEntriesPseudonymised": erased.audit_pseudonymised,
        "outboxRows": erased.outbox_rows,
    }


def user_id_of(value: Any) -> str:
    """A user id from a path or an option.

    Raises:
        ValidationFailed: empty (that is where a tenant's defaults live), too long, or NUL.
    """
    if not isinstance(value, str) or not value or len(value) > 200 or "\x00" in value:
        raise ValidationFailed("userId: must be a user id (1..200 characters)", field="userId")
    return value


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else iso_timestamp(moment)


def _state_json(state: ItemState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "seenAt": _time(state.seen_at),
        "readAt": _time(state.read_at),
        "archivedAt": _time(state.archived_at),
        "snoozedUntil": _time(state.snoozed_until),
        "returnedAt": _time(state.returned_at),
        "action": state.action,
        "actedAt": _time(state.acted_at),
    }


def _item_json(exported: ExportedItem) -> dict[str, Any]:
    note = exported.item.notification
    return {
        **exported.item.to_wire(with_event=True),
        "audience": note.audience.value,
        "acceptedAt": _time(note.accepted_at),
        "state": _state_json(exported.state),
    }


def _job_json(job: JobRecord) -> dict[str, Any]:
    return {
        "key": job.key,
        "kind": job.kind,
        "status": job.status,
        "runAt": _time(job.run_at),
        "attempts": job.attempts,
        "payload": job.payload,
        "lastError": job.last_error,
    }


def _deadline_json(record: DeadlineRecord) -> dict[str, Any]:
    from tocsin.deadlines.service import deadline_to_json

    return deadline_to_json(record)


async def _pages(
    read: Callable[[K], Awaitable[list[R]]], start: K, key: Callable[[R], K]
) -> AsyncIterator[list[R]]:
    """Every page of a keyset-paged reader, until a short one."""
    after = start
    while True:
        page = await read(after)
        if page:
            yield page
        if len(page) < EXPORT_PAGE:
            return
        after = key(page[-1])


class PrivacyCases:
    """Erasure and export; the host provides ``settings``, ``store`` and ``bus``."""

    settings: Settings
    store: Store
    bus: Bus
    _emails_seen: OrderedDict[tuple[str, str], str]

    async def erase_user(
        self, publisher: Publisher, tenant_id: str, user_id: str
    ) -> dict[str, int]:
        """Erase everything of one user (tenant key or admin key) and disconnect their
        sockets on every node; answers the counts per kind, which the audit entry keeps.

        Raises:
            Forbidden: another tenant's key.
            ValidationFailed: not a user id.
        """
        may_manage(publisher, tenant_id)
        identity = Identity(tenant_id, user_id_of(user_id))
        subject = pseudonym(identity, server_key(self.settings, "pseudonym"))

        def audit(erased: Erased) -> AuditEntry:
            return AuditEntry(
                at=datetime.now(UTC),
                tenant_id=tenant_id,
                actor=f"key:{publisher.key_id}",
                action="user.erase",
                target=subject,
                detail={"erased": erased_json(erased)},
            )

        # Before (no live socket writes states while they are deleted) and after (one
        # that reconnected meanwhile).
        await self.end_sessions(identity)
        erased = await self.store.erase_user(identity, subject, audit, ERASE_BATCH)
        await self.end_sessions(identity)
        metrics.ERASURES.inc()
        counts = erased_json(erased)
        log.info("erased %s of tenant %r: %s", subject, tenant_id, counts)
        return counts

    async def end_sessions(self, identity: Identity) -> None:
        """Tell every node to disconnect the user's sockets and forget what it keeps of them."""
        self.forget_user(identity)
        await self.bus.publish(
            {"type": ERASED, "tenantId": identity.tenant_id, "userId": identity.user_id}
        )

    def forget_user(self, identity: Identity) -> None:
        """Drop what this process remembers of a user (the e-mail address seen on connect)."""
        self._emails_seen.pop((identity.tenant_id, identity.user_id), None)

    async def export_user(
        self, publisher: Publisher, tenant_id: str, user_id: str
    ) -> AsyncIterator[str]:
        """Everything of one user as a JSON document, in pieces (tenant key or admin key):
        profile, preferences, watermarks, push subscriptions, their notifications and their
        states of the firm's, deliveries, jobs, deadlines, and the audit entries by or about
        them. Read page by page, so that a large history is never held whole.

        Raises:
            Forbidden: another tenant's key (before any piece is produced).
            ValidationFailed: not a user id.
        """
        may_manage(publisher, tenant_id)
        return self._export(Identity(tenant_id, user_id_of(user_id)))

    async def _export(self, identity: Identity) -> AsyncIterator[str]:
        store = self.store
        read_up_to, cleared_up_to = await store.watermarks(identity)
        profile = await store.get_profile(identity.tenant_id, identity.user_id)
        subscriptions = await store.push_subscriptions(identity)
        head = {
            "tenantId": identity.tenant_id,
            "userId": identity.user_id,
            "exportedAt": iso_timestamp(datetime.now(UTC)),
            "profile": None if profile is None else profile_json(profile),
            "preferences": await store.get_preferences(identity.tenant_id, identity.user_id),
            "watermarks": {"readUpTo": read_up_to, "clearedUpTo": cleared_up_to},
            "pushSubscriptions": [
                {
                    "endpoint": sub.endpoint,
                    "keys": {"p256dh": sub.p256dh, "auth": sub.auth},
                    "createdAt": _time(sub.created_at),
                }
                for sub in subscriptions
            ],
        }
        yield _dumps(head)[:-1]

        def items(own: bool) -> AsyncIterator[list[dict[str, Any]]]:
            return _json_pages(
                lambda after: store.export_items(identity, own=own, after=after, limit=EXPORT_PAGE),
                0,
                lambda item: item.item.notification.cursor,
                _item_json,
            )

        sections: list[tuple[str, AsyncIterator[list[dict[str, Any]]]]] = [
            ("notifications", items(True)),
            ("states", items(False)),
            (
                "deliveries",
                _json_pages(
                    lambda after: store.user_deliveries(identity, after, EXPORT_PAGE),
                    0,
                    lambda row: row[0],
                    lambda row: {
                        "cursor": row[1].cursor,
                        "channel": row[1].channel,
                        "status": row[1].status,
                        "detail": row[1].detail,
                        "at": _time(row[1].at),
                    },
                ),
            ),
            (
                "jobs",
                _json_pages(
                    lambda after: store.user_jobs(identity, after, EXPORT_PAGE),
                    "",
                    lambda job: job.key,
                    _job_json,
                ),
            ),
            (
                "deadlines",
                _json_pages(
                    lambda after: store.user_deadlines(identity, after, EXPORT_PAGE),
                    "",
                    lambda record: record.id,
                    _deadline_json,
                ),
            ),
            (
                "audit",
                _json_pages(
                    lambda after: store.user_audit(identity, after, EXPORT_PAGE),
                    0,
                    lambda row: row[0],
                    lambda row: {
                        "at": _time(row[1].at),
                        "actor": row[1].actor,
                        "action": row[1].action,
                        "target": row[1].target,
                        "detail": row[1].detail,
                    },
                ),
            ),
        ]
        for name, pages in sections:
            yield f",{_dumps(name)}:["
            first = True
            async for page in pages:
                yield ("" if first else ",") + ",".join(_dumps(entry) for entry in page)
                first = False
            yield "]"
        yield "}"


async def _json_pages(
    read: Callable[[K], Awaitable[list[R]]],
    start: K,
    key: Callable[[R], K],
    shown: Callable[[R], dict[str, Any]],
) -> AsyncIterator[list[dict[str, Any]]]:
    async for page in _pages(read, start, key):
        yield [shown(row) for row in page]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
