"""The inbox-state use cases of DESIGN §7: seen, read, archive, snooze, act, counts and
preferences. Mixed into :class:`tocsin.service.NotificationService`, so that the HTTP
routes, the Socket.IO handlers and the job runner call them the same way.

Every change answers the user's new badge (unread, unseen) and reaches their other
sockets, on every node, as ``notifications-changed`` (plus ``notifications-read`` for the
seed's clients when it is about reading).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tocsin import metrics
from tocsin.bus.base import CHANGED, DUE, Bus
from tocsin.config import Settings
from tocsin.cursors import cursor_or_none
from tocsin.errors import NotFound, ValidationFailed
from tocsin.models import Identity, utc_moment
from tocsin.store.base import (
    SNOOZE_JOB,
    AuditEntry,
    Badge,
    Counts,
    InboxView,
    JobRecord,
    NewJob,
    Store,
    snooze_job_key,
)

MAX_IDS = 1000
MAX_SNOOZE = timedelta(days=366)
MAX_ACTION_ID = 64


@dataclass(frozen=True, slots=True)
class Change:
    """What a state change did: the ids it changed (or ``everything`` up to ``up_to``), and
    the user's badge afterwards. ``extra`` goes on the wire as it is (``until``, ``count``…)."""

    kind: str
    ids: list[str]
    badge: Badge
    everything: bool = False
    up_to: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The answer of the HTTP route and the socket's acknowledgement (without ``ok``)."""
        data: dict[str, Any] = {
            "ids": self.ids,
            "unreadCount": self.badge.unread,
            "unseenCount": self.badge.unseen,
        }
        if self.up_to is not None:
            data["upTo"] = self.up_to
        data.update(self.extra)
        return data

    def event(self) -> dict[str, Any]:
        """The ``notifications-changed`` payload."""
        data = {"change": self.kind, **self.to_json()}
        if self.everything:
            data["all"] = True
        return data


def parse_ids(ids: Any) -> list[str]:
    """The ``ids`` of a request: a list of at most 1,000 ids.

    Raises:
        ValidationFailed: anything else.
    """
    if not isinstance(ids, list) or not all(
        isinstance(i, str | int) and not isinstance(i, bool) and "\x00" not in str(i) for i in ids
    ):
        raise ValidationFailed("ids: must be a list of notification ids", field="ids")
    if len(ids) > MAX_IDS:
        raise ValidationFailed(f"ids: at most {MAX_IDS} at once", field="ids")
    return [str(i) for i in ids]


def parse_until(value: Any, now: datetime, shortest: float) -> datetime:
    """The end of a snooze: an ISO 8601 time at least ``shortest`` seconds and at most a
    year ahead, to the millisecond (naive times are UTC).

    Raises:
        ValidationFailed: naming ``until``.
    """
    if not isinstance(value, str) or len(value) > 64:
        raise ValidationFailed("until: must be an ISO 8601 date and time", field="until")
    try:
        until = utc_moment(datetime.fromisoformat(value))
    except ValueError:
        raise ValidationFailed(
            f"until: not an ISO 8601 date and time: {value[:64]!r}", field="until"
        ) from None
    until = until.replace(microsecond=until.microsecond // 1000 * 1000)
    if until < now + timedelta(seconds=shortest):
        raise ValidationFailed(f"until: must be at least {shortest:g} seconds ahead", field="until")
    if until > now + MAX_SNOOZE:
        raise ValidationFailed("until: must be within a year", field="until")
    return until


def _flag(data: Any, name: str) -> bool:
    value = data.get(name, False) if isinstance(data, dict) else False
    if not isinstance(value, bool):
        raise ValidationFailed(f"{name}: must be true or false", field=name)
    return value


class InboxStates:
    """The §7 use cases; the host provides ``settings``, ``store`` and ``bus``."""

    settings: Settings
    store: Store
    bus: Bus

    _jobs_added: list[Callable[[], None]]

    def on_jobs_added(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when this process stores a job (the job runner looks sooner)."""
        self._jobs_added.append(listener)

    def job_handlers(self) -> dict[str, Callable[[JobRecord], Awaitable[None]]]:
        """The durable job kinds this service runs, by kind."""
        return {SNOOZE_JOB: self.run_snooze_job}

    # -- reading -------------------------------------------------------------------------

    async def badge(self, identity: Identity, up_to: int | None = None) -> Badge:
        """Unread and unseen counts of the inbox view (of cursors up to ``up_to``)."""
        return await self.store.badge(identity, up_to)

    async def counts(self, identity: Identity) -> Counts:
        """Every count of ``GET /api/v1/inbox/counts``."""
        return await self.store.counts(identity)

    # -- changes -------------------------------------------------------------------------

    async def mark_seen(self, identity: Identity, ids: Any, *, origin: str | None = None) -> Change:
        """Mark notifications seen (shown in an open list)."""
        changed = await self.store.mark_seen(identity, parse_ids(ids))
        return await self._changed(identity, "seen", changed, origin)

    async def mark_read(self, identity: Identity, ids: Any, *, origin: str | None = None) -> Change:
        """Mark notifications read (and seen)."""
        changed = await self.store.mark_read(identity, parse_ids(ids))
        return await self._changed(identity, "read", changed, origin)

    async def mark_all_read(
        self, identity: Identity, up_to: Any = None, *, origin: str | None = None
    ) -> Change:
        """Mark everything (up to a cursor) read."""
        watermark = await self.store.mark_all_read(identity, cursor_or_none(up_to, "upTo"))
        return await self._changed(identity, "read", [], origin, everything=True, up_to=watermark)

    async def clear(
        self, identity: Identity, up_to: Any = None, *, origin: str | None = None
    ) -> Change:
        """Remove everything (up to a cursor) from every view of the inbox."""
        watermark = await self.store.clear(identity, cursor_or_none(up_to, "upTo"))
        return await self._changed(
            identity, "cleared", [], origin, everything=True, up_to=watermark
        )

    async def archive(self, identity: Identity, ids: Any, *, origin: str | None = None) -> Change:
        """Move notifications to the archive (ending any snooze of theirs)."""
        changed = await self.store.archive(identity, parse_ids(ids), True)
        return await self._changed(identity, "archived", changed, origin)

    async def unarchive(self, identity: Identity, ids: Any, *, origin: str | None = None) -> Change:
        """Bring archived notifications back to the inbox."""
        changed = await self.store.archive(identity, parse_ids(ids), False)
        return await self._changed(identity, "unarchived", changed, origin)

    async def archive_all(
        self, identity: Identity, data: Any, *, origin: str | None = None
    ) -> Change:
        """Archive the inbox up to ``upTo`` (default: everything), or only what is read."""
        up_to = cursor_or_none(data.get("upTo") if isinstance(data, dict) else None, "upTo")
        only_read = _flag(data, "onlyRead")
        count, watermark = await self.store.archive_all(identity, up_to, only_read)
        return await self._changed(
            identity,
            "archived",
            [],
            origin,
            everything=True,
            up_to=watermark,
            extra={"count": count, "onlyRead": only_read},
        )

    async def snooze(
        self, identity: Identity, ids: Any, until: Any, *, origin: str | None = None
    ) -> Change:
        """Hide notifications until ``until``; a durable job brings them back then."""
        now = datetime.now(UTC)
        end = parse_until(until, now, self.settings.snooze_min_seconds)
        wanted = parse_ids(ids)

        def wake_up(cursor: int) -> NewJob:
            return NewJob(
                key=snooze_job_key(identity, cursor, end),
                kind=SNOOZE_JOB,
                run_at=end,
                payload={
                    "tenantId": identity.tenant_id,
                    "userId": identity.user_id,
                    "cursor": cursor,
                    "until": end.isoformat(),
                },
                tenant_id=identity.tenant_id,
                user_id=identity.user_id,
            )

        changed = await self.store.snooze(identity, wanted, end, wake_up)
        for listener in self._jobs_added:
            listener()
        until_text = end.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return await self._changed(
            identity, "snoozed", changed, origin, extra={"until": until_text}
        )

    async def unsnooze(self, identity: Identity, ids: Any, *, origin: str | None = None) -> Change:
        """End snoozes now (the items are back as they were, without a due event)."""
        changed = await self.store.unsnooze(identity, parse_ids(ids))
        return await self._changed(identity, "unsnoozed", changed, origin)

    async def act(
        self, identity: Identity, notification_id: Any, action: Any, *, origin: str | None = None
    ) -> Change:
        """Take one of a notification's actions: recorded once (a later call answers the
        first), marks it read, and leaves an audit entry.

        Raises:
            ValidationFailed: ``id`` or ``action`` is not a string.
            NotFound: no such notification for this user, or it offers no such action.
        """
        if not isinstance(notification_id, str | int) or isinstance(notification_id, bool):
            raise ValidationFailed("id: must be a notification id", field="id")
        if not isinstance(action, str) or not 0 < len(action) <= MAX_ACTION_ID:
            raise ValidationFailed(
                f"action: must be an action id of at most {MAX_ACTION_ID} characters",
                field="action",
            )
        note_id = str(notification_id)
        audit = AuditEntry(
            at=datetime.now(UTC),
            tenant_id=identity.tenant_id,
            actor=f"user:{identity.user_id}",
            action="act",
            target=note_id,
            detail={"action": action, "userId": identity.user_id},
        )
        acted = await self.store.act(identity, note_id, action, audit)
        if acted is None:
            raise NotFound(
                f"no notification {note_id[:200]!r} offering the action {action!r}",
                field="action",
            )
        extra = {
            "id": acted.id,
            "action": acted.action,
            "actedAt": acted.acted_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "alreadyActed": acted.already,
        }
        if not acted.already:
            metrics.ACTIONS.inc()
        return await self._changed(identity, "acted", [acted.id], origin, extra=extra)

    async def _changed(
        self,
        identity: Identity,
        kind: str,
        ids: list[str],
        origin: str | None,
        *,
        everything: bool = False,
        up_to: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Change:
        change = Change(kind, ids, await self.store.badge(identity), everything, up_to, extra or {})
        if ids or everything:
            await self.bus.publish(
                {
                    "type": CHANGED,
                    "tenantId": identity.tenant_id,
                    "userId": identity.user_id,
                    "origin": origin,
                    "event": change.event(),
                }
            )
        return change

    # -- snooze wake-ups -----------------------------------------------------------------

    async def run_snooze_job(self, job: JobRecord) -> None:
        """Bring a snoozed notification back, unread, with ``notification-due`` on every
        socket of its user; a job run twice (a lease that ran out) wakes it once."""
        payload = job.payload
        identity = Identity(str(payload["tenantId"]), str(payload["userId"]))
        until = datetime.fromisoformat(str(payload["until"]))
        item = await self.store.wake(identity, int(payload["cursor"]), until)
        if item is None:
            return
        metrics.SNOOZES_DUE.inc()
        badge = await self.store.badge(identity)
        due = {
            **item.to_wire(with_event=True),
            "unreadCount": badge.unread,
            "unseenCount": badge.unseen,
        }
        await self.bus.publish(
            {"type": DUE, "tenantId": identity.tenant_id, "userId": identity.user_id, "item": due}
        )


def parse_view(archived: Any, snoozed: Any) -> InboxView:
    """The inbox view asked for by the ``archived`` / ``snoozed`` flags.

    Raises:
        ValidationFailed: both at once, or not booleans.
    """
    flags = {"archived": archived, "snoozed": snoozed}
    for name, value in flags.items():
        if value is not None and not isinstance(value, bool):
            raise ValidationFailed(f"{name}: must be true or false", field=name)
    if archived and snoozed:
        raise ValidationFailed("archived, snoozed: ask for one view at a time", field="archived")
    if archived:
        return InboxView.ARCHIVED
    if snoozed:
        return InboxView.SNOOZED
    return InboxView.INBOX


__all__ = [
    "Change",
    "InboxStates",
    "parse_ids",
    "parse_until",
    "parse_view",
]
