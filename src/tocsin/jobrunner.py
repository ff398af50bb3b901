"""A node's runner of durable jobs (snooze wake-ups now; push, e-mail and digests next).

Jobs live in the store with a unique key, so each is done once across nodes and restarts:
a node claims due jobs under a lease, runs each through its kind's handler, and marks it
done. A handler that fails is retried with exponential backoff (``RETRY_BASE`` doubling up
to ``RETRY_MAX``) and given up after ``MAX_ATTEMPTS``; one job's failure never stops the
others. A node that dies holding a job lets it go when the lease ends. Handlers must be
idempotent against a second run after such a death: the snooze wake-up is a conditional
update of the state it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from tocsin import metrics
from tocsin.jobs import dependency_down
from tocsin.store.base import JobRecord, Store

log = logging.getLogger("tocsin.jobs")

Handler = Callable[[JobRecord], Awaitable[None]]

CLAIM_BATCH = 50
MAX_ATTEMPTS = 8
RETRY_BASE = 2.0
RETRY_MAX = 600.0
MIN_WAIT = 0.02


class Reschedule(Exception):
    """A handler's answer: run this job again at ``run_at`` (quiet hours, a push service's
    Retry-After). Not counted as a failure."""

    def __init__(self, run_at: datetime, reason: str) -> None:
        super().__init__(reason)
        self.run_at = run_at
        self.reason = reason


def retry_delay(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: 2, 4, 8… up to ten minutes."""
    return float(min(RETRY_MAX, RETRY_BASE ** max(1, attempts)))


def worker_name() -> str:
    """This process's name in the jobs it holds (host, pid and a random part)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobRunner:
    """Claims and runs this node's share of the due jobs."""

    def __init__(
        self,
        store: Store,
        handlers: dict[str, Handler],
        *,
        poll_interval: float,
        lease: float,
        before_claim: list[Callable[[], Awaitable[object]]] | None = None,
        only_kinds: bool = False,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.poll_interval = poll_interval
        self.lease = lease
        # Run before each claim (the escalation planner writes the jobs due now).
        self.before_claim = before_claim or []
        # Claim only the kinds of ``handlers`` (a one-off runner: ``tocsin digest run``).
        self.kinds = list(handlers) if only_kinds else None
        self.worker = worker_name()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run in the background until :meth:`stop`."""
        self._task = asyncio.create_task(self._run(), name="tocsin-jobs")

    async def stop(self) -> None:
        """Stop; a job being run is left to its lease (another node, or the next start)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Look for due jobs now (a job was just stored with an early time)."""
        self._wake.set()

    async def run_due(self, now: datetime | None = None) -> int:
        """Claim and run what is due at ``now`` (default: the current time); returns how
        many jobs were run. Also what the loop does on each tick."""
        for step in self.before_claim:
            await step()
        ran = 0
        while True:
            # In UTC: SQLite compares stored times as text.
            moment = now.astimezone(UTC) if now is not None else datetime.now(UTC)
            claimed = await self.store.claim_jobs(
                self.worker, moment, self.lease, CLAIM_BATCH, self.kinds
            )
            for job in claimed:
                await self._run_one(job, moment if now is not None else None)
            ran += len(claimed)
            if len(claimed) < CLAIM_BATCH:
                return ran

    async def _run_one(self, job: JobRecord, now: datetime | None) -> None:
        # A batch's jobs run one after another: each gets a full lease as it starts, so a
        # slow batch does not outlast the claim's lease and let another node run its tail.
        # (On the caller's clock, if it gave one: its claims are on that clock too.)
        start = now or datetime.now(UTC)
        if not await self.store.renew_job(job.key, self.worker, start, self.lease):
            metrics.JOBS.labels(job.kind, "lost").inc()
            return
        handler = self.handlers.get(job.kind)
        if handler is None:
            # A newer node's kind, or a bug: keep it for a node that knows it.
            await self.store.retry_job(
                job.key, self.worker, _later(RETRY_MAX), f"no handler for {job.kind!r}"
            )
            return
        # Renewed while the handler runs, however long it takes (an SMTP server may take
        # minutes to answer the end of DATA): only a dead node's jobs go to another.
        keeper = asyncio.create_task(self._keep_lease(job.key, start), name="tocsin-lease")
        try:
            await handler(job)
        except asyncio.CancelledError:
            raise
        except Reschedule as again:
            await self.store.retry_job(job.key, self.worker, again.run_at, again.reason)
            metrics.JOBS.labels(job.kind, "rescheduled").inc()
            return
        except Exception as exc:
            if dependency_down(exc):
                raise
            await self._failed(job, exc)
            return
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        await self.store.finish_job(job.key, self.worker, "done", None)
        metrics.JOBS.labels(job.kind, "done").inc()

    async def _keep_lease(self, key: str, start: datetime) -> None:
        """Renew a running job's lease every third of it, on the clock it started on,
        until the job is no longer this node's."""
        began = time.monotonic()
        while True:
            await asyncio.sleep(self.lease / 3)
            moment = start + timedelta(seconds=time.monotonic() - began)
            try:
                if not await self.store.renew_job(key, self.worker, moment, self.lease):
                    return
            except Exception:
                # The store is away a moment: the next renewal may do, before the lease ends.
                log.warning("could not renew the lease of job %s", key, exc_info=True)

    async def _failed(self, job: JobRecord, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if job.attempts >= MAX_ATTEMPTS:
            log.error("job %s failed %d times, given up: %s", job.key, job.attempts, error)
            await self.store.finish_job(job.key, self.worker, "failed", error)
            metrics.JOBS.labels(job.kind, "failed").inc()
            return
        delay = retry_delay(job.attempts)
        log.warning(
            "job %s failed (attempt %d), retry in %gs: %s", job.key, job.attempts, delay, error
        )
        await self.store.retry_job(job.key, self.worker, _later(delay), error)
        metrics.JOBS.labels(job.kind, "retried").inc()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_due()
                wait = await self._until_next()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The store is down: try again on the next tick.
                metrics.ERRORS.labels("jobs").inc()
                log.exception("job runner failed; retrying")
                wait = self.poll_interval
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _until_next(self) -> float:
        soonest = await self.store.next_job_at()
        if soonest is None:
            return self.poll_interval
        delay = (soonest - datetime.now(UTC)).total_seconds()
        # A floor: a job due now but still held elsewhere must not make this loop spin.
        return min(self.poll_interval, max(MIN_WAIT, delay))


def _later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
