"""Escalation to Web Push (DESIGN §8): a critical notification is pushed at once; any other
still unseen after ``TOCSIN_PUSH_AFTER`` is pushed then, if the user's preferences allow it,
and after their quiet hours. The planner also writes the e-mail jobs of :mod:`tocsin.mailing`.

All of it is durable work in the job queue, so it happens once across nodes and restarts:

- the **planner** reads the notifications after its stored progress (every node may run it:
  the jobs it writes have unique keys), and writes one ``push`` job per recipient and rule;
- a ``push`` job checks the user's state and preferences when it is due, and writes one
  ``pushto`` job per subscription of the user;
- a ``pushto`` job sends to one subscription, so that one failing endpoint (a 429, a dead
  service) is retried on its own and delays no one else.

Every outcome lands in the delivery log. A tenant-wide notification goes to the tenant's
users who subscribed to push; one to everyone is not pushed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx

from tocsin import preferences
from tocsin.jobrunner import MAX_ATTEMPTS, Handler, Reschedule, retry_delay
from tocsin.mailing import Mailing
from tocsin.models import Audience, Identity, StoredNotification
from tocsin.push.payload import topic_for
from tocsin.push.sender import new_push_client, send_push
from tocsin.push.vapid import VapidKey, load_private_key
from tocsin.service import NotificationService
from tocsin.store.base import (
    Delivery,
    InboxItem,
    NewJob,
    TenantSettings,
    endpoint_hash,
    identity_hash,
)

log = logging.getLogger("tocsin.escalation")

PLANNER = "escalation"
PUSH_JOB = "push"
PUSH_TO_JOB = "pushto"
PLAN_BATCH = 500
# Recipients of one tenant-wide notification; beyond, the rest is not pushed (logged).
MAX_TENANT_RECIPIENTS = 5000
RULE_NOW = "critical"
RULE_UNSEEN = "unseen"


def push_job_key(cursor: int, identity: Identity, rule: str) -> str:
    """``push:<cursor>:<identity hash>:<rule>``: one per notification, recipient and rule."""
    return f"{PUSH_JOB}:{cursor}:{identity_hash(identity)}:{rule}"


class Escalation:
    """Plans and runs the push jobs of one node."""

    def __init__(
        self,
        service: NotificationService,
        mailing: Mailing | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.service = service
        self.mailing = mailing
        # What quiet hours are checked against (the tests' own time).
        self.clock = clock or (lambda: datetime.now(UTC))
        self.settings = service.settings
        self.store = service.store
        key = self.settings.vapid_private_key
        self.vapid: VapidKey | None = load_private_key(key) if key else None
        self._client: httpx.AsyncClient | None = None

    @property
    def enabled(self) -> bool:
        """Whether this server pushes at all (a VAPID key is configured)."""
        return self.vapid is not None

    @property
    def planning(self) -> bool:
        """Whether there is anything to plan: push, or e-mail."""
        return self.enabled or (self.mailing is not None and self.mailing.enabled)

    def handlers(self) -> dict[str, Handler]:
        """The job kinds run here."""
        return {PUSH_JOB: self.run_push, PUSH_TO_JOB: self.run_push_to}

    async def close(self) -> None:
        """Close the HTTP client of the push services."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- planning ------------------------------------------------------------------------

    async def plan(self) -> int:
        """Write the push jobs of the notifications stored since the last run; returns how
        many notifications it went through. The first run starts at the newest one."""
        if not self.planning:
            return 0
        done = await self.store.get_progress(PLANNER)
        if done is None:
            await self.store.advance_progress(PLANNER, await self.store.max_cursor())
            return 0
        notes = await self.store.fetch_after(done, PLAN_BATCH)
        if not notes:
            return 0
        jobs: list[NewJob] = []
        firms: dict[str, TenantSettings] = {}
        for note in notes:
            firm = await self._firm(note.tenant_id or "", firms)
            push_after = _or(firm.push_after, self.settings.push_after)
            email_after = _or(firm.email_after, self.settings.email_after)
            for identity in await self._recipients(note):
                if self.enabled:
                    jobs.append(self._push_job(note, identity, push_after))
                if self.mailing is not None:
                    jobs.extend(self.mailing.jobs_for(note, identity, email_after))
        await self.store.enqueue_jobs(jobs)
        await self.store.advance_progress(PLANNER, notes[-1].cursor)
        return len(notes)

    async def _recipients(self, note: StoredNotification) -> list[Identity]:
        if note.audience is Audience.USER and note.tenant_id and note.user_id:
            return [Identity(note.tenant_id, note.user_id)]
        if note.audience is Audience.TENANT and note.tenant_id:
            found = await self.store.push_subscribers(note.tenant_id, MAX_TENANT_RECIPIENTS)
            if len(found) == MAX_TENANT_RECIPIENTS:
                log.warning("notification %s: pushed to the first %d users", note.id, len(found))
            return found
        return []

    async def _firm(self, tenant_id: str, known: dict[str, TenantSettings]) -> TenantSettings:
        """A tenant's settings (its escalation delays), read once per planning run."""
        if tenant_id not in known:
            known[tenant_id] = (
                await self.store.get_tenant_settings(tenant_id) if tenant_id else TenantSettings("")
            )
        return known[tenant_id]

    def _push_job(self, note: StoredNotification, identity: Identity, after: float) -> NewJob:
        critical = note.critical
        rule = RULE_NOW if critical else RULE_UNSEEN
        accepted = note.accepted_at or datetime.now(UTC)
        run_at = accepted if critical else accepted + timedelta(seconds=after)
        return NewJob(
            key=push_job_key(note.cursor, identity, rule),
            kind=PUSH_JOB,
            run_at=run_at,
            payload={"cursor": note.cursor, "rule": rule},
            tenant_id=identity.tenant_id,
            user_id=identity.user_id,
        )

    # -- running -------------------------------------------------------------------------

    async def _still_wanted(
        self, identity: Identity, cursor: int, rule: str, now: datetime
    ) -> tuple[InboxItem | None, str | None, datetime | None]:
        """The item, and why not to push it (None: push), or when to (quiet hours)."""
        item, refusal = await self._unseen_item(identity, cursor, rule)
        if item is None or refusal is not None:
            return item, refusal, None
        note = item.notification
        if note.critical:
            return item, None, None
        effective = await self.service.effective_preferences(identity)
        choice = cast(dict[str, preferences.ChannelChoice], effective.events).get(note.event)
        if choice is None or not choice.push:
            return item, "push is off for this event in the user's preferences", None
        return item, None, preferences.quiet_hours_end(effective.quietHours, now)

    async def _unseen_item(
        self, identity: Identity, cursor: int, rule: str
    ) -> tuple[InboxItem | None, str | None]:
        """The item, and why it no longer needs a push (None: it still does)."""
        item = await self.store.item(identity, cursor)
        if item is None:
            return None, "no longer in the inbox"
        if rule == RULE_UNSEEN and (item.seen or item.archived or item.action is not None):
            return item, "seen before the push delay"
        return item, None

    async def run_push(self, job: Any) -> None:
        """Check the state and preferences, then write one ``pushto`` job per subscription."""
        identity = Identity(str(job.tenant_id), str(job.user_id))
        cursor, rule = int(job.payload["cursor"]), str(job.payload["rule"])
        now = self.clock()
        item, refusal, later = await self._still_wanted(identity, cursor, rule, now)
        if refusal is not None:
            await self._cancelled(cursor, identity, item, refusal)
            return
        if later is not None:
            await self._log(cursor, identity, "deferred", f"quiet hours until {later.isoformat()}")
            raise Reschedule(later, "quiet hours")
        subscriptions = await self.store.push_subscriptions(identity)
        if not subscriptions:
            await self._log(cursor, identity, "cancelled", "no push subscription")
            return
        await self.store.enqueue_jobs(
            [
                NewJob(
                    key=f"{PUSH_TO_JOB}:{cursor}:{endpoint_hash(s.endpoint)}:{rule}",
                    kind=PUSH_TO_JOB,
                    run_at=now,
                    payload={"cursor": cursor, "rule": rule, "endpoint": endpoint_hash(s.endpoint)},
                    tenant_id=identity.tenant_id,
                    user_id=identity.user_id,
                )
                for s in subscriptions
            ]
        )

    async def run_push_to(self, job: Any) -> None:
        """Send to one subscription; handle the push service's answer (DESIGN §8)."""
        assert self.vapid is not None and self.settings.vapid_subject is not None
        identity = Identity(str(job.tenant_id), str(job.user_id))
        cursor, rule = int(job.payload["cursor"]), str(job.payload["rule"])
        subscription = await self.store.push_subscription(str(job.payload["endpoint"]))
        owner = None if subscription is None else (subscription.tenant_id, subscription.user_id)
        if subscription is None or owner != (identity.tenant_id, identity.user_id):
            await self._log(cursor, identity, "cancelled", "the subscription is gone")
            return
        now = self.clock()
        # Preferences and quiet hours were checked by the parent job a moment ago; the
        # state may have changed since (seen on another device).
        item, refusal = await self._unseen_item(identity, cursor, rule)
        if refusal is not None or item is None:
            await self._cancelled(cursor, identity, item, refusal or "gone")
            return
        note = item.notification
        badge = await self.service.badge(identity)
        payload = await self.push_payload(identity, item, badge.unread)
        if self._client is None:
            self._client = new_push_client()
        outcome = await send_push(
            {
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            payload,
            vapid=self.vapid,
            subject=self.settings.vapid_subject,
            ttl=self.settings.push_ttl,
            urgency="high" if note.critical else "normal",
            topic=topic_for(note.id),
            client=self._client,
        )
        if outcome.kind == "sent":
            await self._log(cursor, identity, "sent", None)
        elif outcome.kind == "gone":
            await self.store.delete_push_subscription(subscription.endpoint, None)
            await self._log(cursor, identity, "failed", f"subscription gone ({outcome.status})")
        elif outcome.kind == "rejected":
            log.error("push service refused a push (%s): %s", outcome.status, outcome.reason)
            await self._log(cursor, identity, "failed", f"refused ({outcome.status})")
        elif job.attempts >= MAX_ATTEMPTS:
            await self._log(cursor, identity, "failed", f"gave up ({outcome.status})")
        else:
            wait = (
                outcome.retry_after
                if outcome.retry_after is not None
                else retry_delay(job.attempts)
            )
            await self._log(cursor, identity, "deferred", f"retry in {wait:g} s ({outcome.status})")
            raise Reschedule(now + timedelta(seconds=wait), f"push service: {outcome.reason}")

    async def push_payload(
        self, identity: Identity, item: InboxItem, unread: int
    ) -> dict[str, Any]:
        """What a push of ``item`` carries (DESIGN §8): its id, event, title and body in the
        user's language, its link, whether it is critical, and the unread count."""
        from tocsin.mail.describe import describe
        from tocsin.mail.wording import words

        profile = await self.store.get_profile(identity.tenant_id, identity.user_id)
        locale = (profile.locale if profile else None) or self.settings.locale
        zone = ZoneInfo((profile.timezone if profile else None) or self.settings.timezone)
        view = describe(item.notification, words(locale), app_url="/", zone=zone)
        payload: dict[str, Any] = {
            "id": item.notification.id,
            "event": item.notification.event,
            "title": view.subject,
            "body": view.meta,
            "critical": item.notification.critical,
            "unreadCount": unread,
        }
        if view.action_link is not None:
            payload["url"] = view.action_link.url
        return payload

    async def _cancelled(
        self, cursor: int, identity: Identity, item: InboxItem | None, why: str
    ) -> None:
        # A notification gone from the user's inbox may be gone for good (retention, the
        # user's erasure): a log line would bring the user's id back into the store.
        if item is not None:
            await self._log(cursor, identity, "cancelled", why)

    async def _log(self, cursor: int, identity: Identity, status: str, detail: str | None) -> None:
        await self.store.add_deliveries(
            [
                Delivery(
                    cursor,
                    identity.tenant_id,
                    identity.user_id,
                    "push",
                    status,
                    detail,
                    datetime.now(UTC),
                )
            ]
        )


def _or(own: int | None, default: float) -> float:
    """A tenant's setting, else the server's."""
    return float(own) if own is not None else default
