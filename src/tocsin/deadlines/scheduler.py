"""The in-server scheduler: the daily deadline check (and an optional interval)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tocsin import metrics
from tocsin.deadlines.service import DeadlineService
from tocsin.tasks import cancel_and_wait

log = logging.getLogger("tocsin.deadlines")


def next_daily_run(now: datetime, at: str, zone: str) -> datetime:
    """The next ``HH:MM`` wall-clock time in ``zone`` strictly after ``now`` (DST-aware)."""
    hour, minute = (int(part) for part in at.split(":"))
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    candidate = datetime.combine(local.date(), time(hour, minute), tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(
            local.date() + timedelta(days=1), time(hour, minute), tzinfo=tz
        )
    return candidate


class DeadlineScheduler:
    """Runs :meth:`DeadlineService.check` daily at ``TOCSIN_DEADLINES_TIME``.

    A node that starts after today's time checks at once (the check is idempotent: cron,
    other nodes and this one may all run it, and each alert is published once).
    """

    def __init__(
        self, deadlines: DeadlineService, at: str, zone: str, interval: float | None = None
    ) -> None:
        self.deadlines = deadlines
        self.at = at
        self.zone = zone
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the background loop."""
        self._task = asyncio.create_task(self._run(), name="tocsin-deadlines")

    async def stop(self) -> None:
        """Cancel the loop."""
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        now = datetime.now(UTC)
        todays = next_daily_run(now - timedelta(days=1), self.at, self.zone)
        if todays <= now:
            await self._check()
        while True:
            now = datetime.now(UTC)
            wake = next_daily_run(now, self.at, self.zone)
            if self.interval is not None:
                wake = min(wake, now + timedelta(seconds=self.interval))
            await asyncio.sleep(max(0.0, (wake - now).total_seconds()))
            await self._check()

    async def _check(self) -> None:
        try:
            report = await self.deadlines.check()
        except asyncio.CancelledError:
            raise
        except Exception:
            metrics.ERRORS.labels("deadlines").inc()
            log.exception("deadline check failed; next attempt at the next run")
            return
        log.info("deadline check: %s", report.to_json())
