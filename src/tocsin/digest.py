"""The daily digest (DESIGN §8): at each user's ``digest.at`` in their time zone, one e-mail
of their unread, unarchived, unsnoozed notifications since the last digest, grouped by
event; nothing unread, no e-mail.

Each digest is a durable job ``digest:<identity hash>:<local date>``, so a user gets at most
one per day across nodes and restarts. The job of one day writes the next day's before it
sends, so a digest that fails for good does not end the user's digests. A user's next
digest is planned when their preferences or profile change (best effort: a failure there is
logged, and repaired by the hourly planning); a tenant's defaults changing, and every hour
all users with an address, are planned by a job of their own (``digest-plan:…``, once
across nodes), never inside a request, nor ahead of every node's other jobs.

Sending is at least once, like the escalation e-mail: a node that dies between the SMTP
server's acceptance and the job's completion leaves it to another node after the lease,
which sends it again with the same ``Message-ID``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tocsin import preferences
from tocsin.errors import ValidationFailed
from tocsin.jobrunner import MAX_ATTEMPTS, Handler, Reschedule, retry_delay
from tocsin.mail import MailStatus, render_digest
from tocsin.mailing import Mailing
from tocsin.models import Identity
from tocsin.preferencecases import TENANT_DEFAULTS
from tocsin.service import NotificationService
from tocsin.store.base import Delivery, InboxItem, NewJob, UserProfile, identity_hash

log = logging.getLogger("tocsin.digest")

DIGEST_JOB = "digest"
PLAN_JOB = "digest-plan"
# The most unread items one digest reads (the e-mail shows 20 per event and counts them).
MAX_DIGEST_ITEMS = 500
PAGE = 200
# The unsubscribe "event" of the digest's one-click link.
DIGEST_UNSUBSCRIBE = "digest"


def digest_job_key(identity: Identity, day: date) -> str:
    """``digest:<identity hash>:<YYYY-MM-DD>``: one digest per user per local day."""
    return f"{DIGEST_JOB}:{identity_hash(identity)}:{day.isoformat()}"


def progress_name(identity: Identity) -> str:
    """Where the cursor of the user's last digest is kept (39 characters)."""
    return f"{DIGEST_JOB}:{identity_hash(identity)}"


def digest_time(digest: preferences.Digest, day: date) -> datetime:
    """When (UTC) ``day``'s digest is due: ``digest.at`` on the wall clock of its zone."""
    return preferences.wall_clock_instant(day, digest.at, ZoneInfo(digest.timezone))


def next_digest(digest: preferences.Digest, after: datetime) -> tuple[date, datetime]:
    """The first local day whose digest time is later than ``after``, and that time."""
    day = after.astimezone(ZoneInfo(digest.timezone)).date() - timedelta(days=1)
    while True:
        due = digest_time(digest, day)
        if due > after:
            return day, due
        day += timedelta(days=1)


class Digests:
    """Plans and runs the digest jobs of one node."""

    def __init__(
        self,
        service: NotificationService,
        mailing: Mailing,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.service = service
        self.mailing = mailing
        self.store = service.store
        # The tests' and ``tocsin digest run --now``'s clock.
        self.clock = clock or (lambda: datetime.now(UTC))
        self.outcomes: Counter[str] = Counter()
        self._planned_hour: str | None = None

    @property
    def enabled(self) -> bool:
        """Whether digests are sent at all (this server sends e-mail)."""
        return self.mailing.enabled

    def handlers(self) -> dict[str, Handler]:
        """The job kinds run here."""
        return {DIGEST_JOB: self.run_digest, PLAN_JOB: self.run_plan}

    # -- planning ------------------------------------------------------------------------

    async def plan_for(self, identity: Identity, now: datetime | None = None) -> NewJob | None:
        """Write (or move) the user's next digest job; None if they get no digest."""
        prefs = await self.service.effective_preferences(identity)
        if prefs.digest.email != "daily":
            return None
        day, due = next_digest(prefs.digest, now or self.clock())
        job = self._job(identity, day, due)
        if not await self.store.enqueue_jobs([job]):
            # Already planned: the time may have changed since.
            await self.store.move_job(job.key, due)
        return job

    async def on_recipient_changed(self, identity: Identity | None, tenant_id: str) -> None:
        """A user's (``identity``) or a whole tenant's preferences or profile changed: plan
        the user's next digest now, or the tenant's users' in a job of its own."""
        if not self.enabled:
            return
        try:
            if identity is None:
                stamp = f"{self.clock().timestamp():.6f}"
                await self.store.enqueue_jobs([self._plan_job(f"{tenant_id}:{stamp}", tenant_id)])
                return
            profile = await self.store.get_profile(identity.tenant_id, identity.user_id)
            if profile is not None and profile.email:
                await self.plan_for(identity)
        except Exception:
            # The change itself is stored; the hourly planning repairs a missed plan.
            log.exception("digests of a user or tenant of %r not planned", tenant_id[:200])

    async def plan_all(self, tenant_id: str | None = None, now: datetime | None = None) -> int:
        """Write the next digest job of every user with an address (of one tenant, or
        all) who has none yet, one transaction per page of users; returns how many were
        new. (A job already planned keeps its time: :meth:`plan_for` moves it.)"""
        moment = now or self.clock()
        written = 0
        defaults: dict[str, dict[str, Any] | None] = {}
        async for page in self._profiles(tenant_id):
            jobs = []
            owns = await self._overrides_of(page)
            for profile in page:
                identity = Identity(profile.tenant_id, profile.user_id)
                if profile.tenant_id not in defaults:
                    defaults[profile.tenant_id] = await self.store.get_preferences(
                        profile.tenant_id, TENANT_DEFAULTS
                    )
                own = owns.get((profile.tenant_id, profile.user_id))
                zone = profile.timezone or self.service.settings.timezone
                try:
                    prefs = preferences.effective(defaults[profile.tenant_id], own, zone)
                except ValidationFailed:
                    # One user's stored document no longer valid must not stop the others.
                    log.exception("digest of %s not planned", identity_hash(identity))
                    continue
                if prefs.digest.email == "daily":
                    day, due = next_digest(prefs.digest, moment)
                    jobs.append(self._job(identity, day, due))
            written += await self.store.enqueue_jobs(jobs)
            # The other work of this node's loop goes on between pages.
            await asyncio.sleep(0)
        return written

    async def plan_hourly(self) -> None:
        """Write this hour's planning job (one across nodes; the job runner calls this
        before each claim: an insert per hour and node)."""
        if not self.enabled:
            return
        hour = self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H")
        if self._planned_hour == hour:
            return
        await self.store.enqueue_jobs([self._plan_job(hour, None)])
        self._planned_hour = hour

    async def run_plan(self, job: Any) -> None:
        """Plan the next digests of every user (of the payload's ``tenant`` only, if any)."""
        tenant = job.payload.get("tenant")
        planned = await self.plan_all(tenant if isinstance(tenant, str) else None)
        log.info("digests planned: %d new", planned)

    async def plan_today(self, now: datetime) -> int:
        """Write, for every user with an address whose digest hour has passed at ``now``,
        the job of their day (a no-op for one already written or sent); returns how many
        were new. What ``tocsin digest run`` does before running the due jobs."""
        written = 0
        async for page in self._profiles(None):
            jobs = []
            for profile in page:
                identity = Identity(profile.tenant_id, profile.user_id)
                prefs = await self.service.effective_preferences(identity)
                if prefs.digest.email != "daily":
                    continue
                day = now.astimezone(ZoneInfo(prefs.digest.timezone)).date()
                due = digest_time(prefs.digest, day)
                if due <= now:
                    jobs.append(self._job(identity, day, due))
            written += await self.store.enqueue_jobs(jobs)
        return written

    async def _overrides_of(self, page: list[UserProfile]) -> dict[tuple[str, str], dict[str, Any]]:
        """The page's users' own preferences, a query per tenant of the page."""
        by_tenant: dict[str, list[str]] = {}
        for profile in page:
            by_tenant.setdefault(profile.tenant_id, []).append(profile.user_id)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for tenant, users in by_tenant.items():
            for user, document in (await self.store.get_preferences_of(tenant, users)).items():
                found[(tenant, user)] = document
        return found

    async def _profiles(self, tenant_id: str | None) -> AsyncIterator[list[UserProfile]]:
        """The profiles with an address, a page at a time."""
        after: tuple[str, str] | None = None
        while True:
            page = await self.store.profiles_with_email(tenant_id, after, PAGE)
            if page:
                yield page
            if len(page) < PAGE:
                return
            after = (page[-1].tenant_id, page[-1].user_id)

    def _plan_job(self, name: str, tenant_id: str | None) -> NewJob:
        return NewJob(
            key=f"{PLAN_JOB}:{name}",
            kind=PLAN_JOB,
            run_at=self.clock(),
            payload={"tenant": tenant_id},
            tenant_id=tenant_id,
        )

    def _job(self, identity: Identity, day: date, due: datetime) -> NewJob:
        return NewJob(
            key=digest_job_key(identity, day),
            kind=DIGEST_JOB,
            run_at=due,
            payload={"day": day.isoformat()},
            tenant_id=identity.tenant_id,
            user_id=identity.user_id,
        )

    # -- running -------------------------------------------------------------------------

    async def run_digest(self, job: Any) -> None:
        """Send ``job``'s day's digest if it is still wanted and anything is unread."""
        identity = Identity(str(job.tenant_id), str(job.user_id))
        day = date.fromisoformat(str(job.payload["day"]))
        now = self.clock()
        prefs = await self.service.effective_preferences(identity)
        if prefs.digest.email != "daily":
            self.outcomes["off"] += 1
            return
        due = digest_time(prefs.digest, day)
        if due > now + timedelta(seconds=1):
            raise Reschedule(due, "the digest's time moved later")
        profile = await self.store.get_profile(identity.tenant_id, identity.user_id)
        if profile is None or not profile.email:
            # No next day either: an address given later plans again (an erased user's
            # jobs must not write themselves back).
            self.outcomes["no address"] += 1
            return
        following, at = next_digest(prefs.digest, max(now, due))
        await self.store.enqueue_jobs([self._job(identity, following, at)])
        since = await self.store.get_progress(progress_name(identity))
        items = await self._unread_since(identity, since or 0)
        if not items:
            self.outcomes["nothing unread"] += 1
            return
        link = self.mailing.unsubscribe_link(identity, DIGEST_UNSUBSCRIBE)
        content = render_digest(
            [item.notification for item in items],
            await self.mailing.context_for(profile),
            day=day,
            unsubscribe_url=link,
        )
        outcome = await self.mailing.send(content, profile.email, link, job.key)
        if outcome.status is MailStatus.SENT:
            await self.store.advance_progress(
                progress_name(identity), max(item.notification.cursor for item in items)
            )
            await self._log(items, identity, "sent", f"digest of {day.isoformat()}")
            self.outcomes["sent"] += 1
        elif outcome.status is MailStatus.REJECTED or job.attempts >= MAX_ATTEMPTS:
            await self._log(items, identity, "failed", f"digest: {outcome.reason[:200]}")
            self.outcomes["failed"] += 1
        else:
            wait = retry_delay(job.attempts)
            self.outcomes["deferred"] += 1
            raise Reschedule(now + timedelta(seconds=wait), outcome.reason)

    async def _unread_since(self, identity: Identity, since: int) -> list[InboxItem]:
        """The unread inbox items (not archived, not snoozed) stored after cursor
        ``since``, newest first, at most ``MAX_DIGEST_ITEMS``."""
        found: list[InboxItem] = []
        before: int | None = None
        while len(found) < MAX_DIGEST_ITEMS:
            page = await self.store.inbox(
                identity, limit=PAGE, before=before, event=None, unread_only=True
            )
            rows = page[:PAGE]
            found.extend(item for item in rows if item.notification.cursor > since)
            if len(page) <= PAGE or rows[-1].notification.cursor <= since:
                break
            before = rows[-1].notification.cursor
        return found[:MAX_DIGEST_ITEMS]

    async def _log(
        self, items: list[InboxItem], identity: Identity, status: str, detail: str
    ) -> None:
        at = datetime.now(UTC)
        await self.store.add_deliveries(
            [
                Delivery(
                    item.notification.cursor,
                    identity.tenant_id,
                    identity.user_id,
                    "digest",
                    status,
                    detail,
                    at,
                )
                for item in items
            ]
        )
