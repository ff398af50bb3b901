"""The retention purge (DESIGN §9): notifications older than their tenant's retention
(``retentionDays`` of its settings, else ``TOCSIN_RETENTION_DAYS``; the notifications to
everyone: the server's) go, with every state, delivery line and job of theirs.

It runs as a durable job, ``purge:<UTC date>``, which every node plans as the day begins
(the key makes it one across nodes); the node that claims it deletes in transactions of at
most :data:`BATCH` notifications, tenant by tenant in order, and after :data:`RUN_BATCHES`
of them (or a third of its lease) writes the rest as the day's next part, a job of its own
that goes on from the last tenant done: no lock is held for long, other jobs are not held
up, every tenant is reached however many there are, and a node that dies mid-purge leaves
the rest to another after its lease. Failed outbox rows older than the server's retention
go too.
Deleting what is already gone deletes nothing, so a run repeated after such a death is
harmless. Finished jobs about no notification (digests, past purges) go after the
server's retention (and at least a week).
``tocsin retention purge`` runs the same purge at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from typing import Any

from tocsin import metrics
from tocsin.jobrunner import Handler
from tocsin.service import NotificationService
from tocsin.store.base import JobRecord, NewJob, Purged

log = logging.getLogger("tocsin.retention")

PURGE_JOB = "purge"
# Notifications deleted per transaction.
BATCH = 1000
# Transactions that delete something, per run of the job; the rest goes to a next part.
RUN_BATCHES = 50
# Tenants read per query of the tenant list.
SCOPES_PAGE = 1000
# Finished jobs are kept at least this long, whatever the retention (their keys keep a
# job from being planned twice).
MIN_JOB_AGE = timedelta(days=7)


def purge_job_key(day: date, part: int = 1) -> str:
    """``purge:<YYYY-MM-DD>`` (then ``:<part>`` for its continuations): one purge per UTC
    day across nodes."""
    key = f"{PURGE_JOB}:{day.isoformat()}"
    return key if part == 1 else f"{key}:{part}"


@dataclass(frozen=True, slots=True)
class Resume:
    """Where a purge stopped: the last tenant it finished (None: none yet), and whether
    every tenant, and the notifications to everyone, are done."""

    after: str | None = None
    tenants_done: bool = False
    everyone_done: bool = False

    def to_json(self) -> dict[str, Any]:
        """As a job's payload."""
        return {
            "after": self.after,
            "tenantsDone": self.tenants_done,
            "everyoneDone": self.everyone_done,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Resume:
        """From a job's payload (an empty one: from the start)."""
        after = payload.get("after")
        return cls(
            after if isinstance(after, str) else None,
            payload.get("tenantsDone") is True,
            payload.get("everyoneDone") is True,
        )


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a purge removed, in how many transactions, and, if it stopped at its budget,
    where to go on from (``resume``; None: complete)."""

    purged: Purged
    batches: int
    resume: Resume | None

    @property
    def more(self) -> bool:
        """Whether a next part must go on."""
        return self.resume is not None

    def to_json(self) -> dict[str, Any]:
        """``{notifications, states, deliveries, jobs, outboxRows, batches, complete}``."""
        return {
            "notifications": self.purged.notifications,
            "states": self.purged.states,
            "deliveries": self.purged.deliveries,
            "jobs": self.purged.jobs,
            "outboxRows": self.purged.outbox_rows,
            "batches": self.batches,
            "complete": not self.more,
        }


class Retention:
    """Plans and runs the purge of one node."""

    def __init__(self, service: NotificationService) -> None:
        self.store = service.store
        self.settings = service.settings
        self._planned: date | None = None

    def handlers(self) -> dict[str, Handler]:
        """The job kinds run here."""
        return {PURGE_JOB: self.run_job}

    async def plan(self) -> None:
        """Store today's purge job, once a day per node (a step before each claim)."""
        today = datetime.now(UTC).date()
        if self._planned == today:
            return
        start = datetime.combine(today, day_time(0), UTC)
        await self.store.enqueue_jobs([NewJob(purge_job_key(today), PURGE_JOB, start, {})])
        self._planned = today

    async def run_job(self, job: JobRecord) -> None:
        """One part of the day's purge: a bounded share from where the previous part
        stopped; the rest is the next part, a job of its own (``purge:<day>:<part>``)."""
        report = await self.purge(
            max_batches=RUN_BATCHES,
            max_seconds=self.settings.jobs_lease / 3,
            resume=Resume.from_json(job.payload),
        )
        if report.resume is None:
            return
        part = int(job.payload.get("part", 1)) + 1
        day = date.fromisoformat(job.key.split(":")[1])
        await self.store.enqueue_jobs(
            [
                NewJob(
                    purge_job_key(day, part),
                    PURGE_JOB,
                    datetime.now(UTC),
                    {**report.resume.to_json(), "part": part},
                )
            ]
        )

    async def purge(
        self,
        now: datetime | None = None,
        *,
        max_batches: int | None = None,
        max_seconds: float | None = None,
        resume: Resume | None = None,
    ) -> PurgeReport:
        """Delete what is older than its retention at ``now`` (default: the current time),
        tenant by tenant in order, then the notifications to everyone, :data:`BATCH`
        notifications per transaction, then old failed outbox rows and finished jobs; stop
        after ``max_batches`` transactions that deleted something, or ``max_seconds``, and
        say where to resume."""
        moment = now or datetime.now(UTC)
        default = self.settings.retention_days
        at = resume or Resume()
        budget = _Budget(max_batches, max_seconds)
        total = Purged()
        if not at.tenants_done:
            overrides = await self.store.retention_overrides()
            while True:
                scopes = await self.store.retention_scopes(SCOPES_PAGE, at.after)
                for scope in scopes:
                    cutoff = moment - timedelta(days=overrides.get(scope, default))
                    total, stopped = await self._purge_scope(scope, cutoff, budget, total)
                    if stopped:
                        return self._report(total, budget, at)
                    at = Resume(after=scope)
                if len(scopes) < SCOPES_PAGE:
                    break
            at = Resume(tenants_done=True)
        if not at.everyone_done:
            cutoff = moment - timedelta(days=default)
            total, stopped = await self._purge_scope(None, cutoff, budget, total)
            if stopped:
                return self._report(total, budget, at)
            at = Resume(tenants_done=True, everyone_done=True)
        old = moment - timedelta(days=default)
        while True:
            if budget.spent():
                return self._report(total, budget, at)
            rows = await self.store.purge_failed_outbox(old, BATCH)
            gone = await self.store.purge_finished_jobs(min(old, moment - MIN_JOB_AGE), BATCH)
            budget.take(rows + gone)
            total += Purged(jobs=gone, outbox_rows=rows)
            if rows < BATCH and gone < BATCH:
                return self._report(total, budget, None)

    async def _purge_scope(
        self, scope: str | None, cutoff: datetime, budget: _Budget, total: Purged
    ) -> tuple[Purged, bool]:
        """One scope's old notifications, batch by batch; (the new total, whether the
        budget stopped it before it was done)."""
        while True:
            if budget.spent():
                return total, True
            batch = await self.store.purge_notifications(scope, cutoff, BATCH)
            budget.take(batch.notifications)
            total += batch
            if batch.notifications < BATCH:
                return total, False
            # Let the requests waiting for the database in before the next batch.
            await asyncio.sleep(0)

    def _report(self, total: Purged, budget: _Budget, resume: Resume | None) -> PurgeReport:
        report = PurgeReport(total, budget.batches, resume)
        for kind, count in (
            ("notifications", total.notifications),
            ("states", total.states),
            ("deliveries", total.deliveries),
            ("jobs", total.jobs),
            ("outbox", total.outbox_rows),
        ):
            if count:
                metrics.RETENTION_PURGED.labels(kind).inc(count)
        metrics.RETENTION_BATCHES.inc(budget.batches)
        if total != Purged():
            log.info("retention purge: %s", report.to_json())
        return report


class _Budget:
    """How many more transactions a purge may run, and until when."""

    def __init__(self, batches: int | None, seconds: float | None) -> None:
        self.batches = 0
        self._max = batches
        self._until = None if seconds is None else time.monotonic() + seconds

    def take(self, deleted: int) -> None:
        # Only a transaction that deleted something counts: looking at a tenant with
        # nothing to purge is one indexed read (the time budget still bounds a run).
        if deleted:
            self.batches += 1

    def spent(self) -> bool:
        if self._max is not None and self.batches >= self._max:
            return True
        return self._until is not None and time.monotonic() >= self._until
