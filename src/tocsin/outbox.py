"""The transactional outbox's consumer (DESIGN §9, docs/outbox.md; PostgreSQL stores only).

The host app inserts notifications into ``tocsin_outbox`` in its own transaction: a change
and its notification commit, or roll back, together. Each node runs an
:class:`OutboxConsumer`, which publishes the committed rows through the service layer, as
``POST /api/v1/notifications`` does, and deletes them:

- **Woken by NOTIFY.** The table's trigger NOTIFYs ``tocsin_outbox`` at commit; the
  consumer LISTENs on a connection of its own, and also looks every ``TOCSIN_OUTBOX_POLL``
  seconds (a NOTIFY lost with a connection, a node started after the commit).
- **Once.** A batch is claimed with ``FOR UPDATE SKIP LOCKED`` in a transaction that also
  takes an advisory lock, so one node consumes at a time, and is deleted in that same
  transaction after its notifications are stored. Each notification is stored under the
  server's once-key ``outbox:key:<key>`` (the row's key) or ``outbox:row:<id>``: a row
  published by a node that died before deleting it is a no-op the second time.
- **In order.** Rows are published in id order among the rows committed when a batch is
  claimed, and a row committed later comes in a later batch: a notification whose
  transaction committed before another's began is always published first. A row with a
  lower id that commits after a higher one was published is published when it commits,
  never skipped.
- **A bad row stops nothing.** A row Tocsin refuses (unknown event, missing field, tenant
  mismatch, too large) is kept with ``failed_at`` and ``error``, and the rows after it go on.
  A store that is down is not the row's fault: the batch is rolled back and tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from tocsin import metrics
from tocsin.auth.apikeys import Publisher
from tocsin.errors import TocsinError
from tocsin.jobs import dependency_down
from tocsin.service import NotificationService, Published
from tocsin.store import pg_outbox
from tocsin.store.pg_outbox import OutboxRow

log = logging.getLogger("tocsin.outbox")

BATCH = 200
# Seconds any statement of the consumer may take: a connection that silently died is
# found at the next poll, not never.
COMMAND_TIMEOUT = 30.0
# The longest a batch may hold the consumer's turn (ms): far above a batch's publish.
HELD_TURN_MS = 60_000
RECONNECT_MIN = 0.5
MAX_ERROR = 2000
# The app writes into Tocsin's own database: it is trusted as the admin key is. A row's
# ``tenant_id`` (when given) still confines its notification to that tenant.
PUBLISHER = Publisher(tenant_id=None, key_id="outbox")


@dataclass(slots=True)
class BatchOutcome:
    """What one claimed batch became: rows published (or replayed), and rows failed."""

    claimed: int
    done: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def once_key(row: OutboxRow) -> str:
    """The server's once-key of a row's notification: its key, else its id."""
    return f"outbox:key:{row.key}" if row.key else f"outbox:row:{row.id}"


def notification_of(row: OutboxRow, max_bytes: int) -> dict[str, Any]:
    """The notification object a row holds, its tenant and time filled in from the row.

    Raises:
        TocsinError: the row cannot be a notification (the message says why).
    """
    if row.document is None:
        raise TocsinError(f"notification: larger than {max_bytes} bytes", field="notification")
    raw = json.loads(row.document)
    if not isinstance(raw, dict):
        raise TocsinError("notification: must be a JSON object", field="notification")
    if row.tenant_id is not None:
        given = raw.get("tenantId")
        if given is None:
            raw["tenantId"] = row.tenant_id
        elif given != row.tenant_id:
            raise TocsinError(
                f"tenantId: {given!r} is not the row's tenant {row.tenant_id!r}",
                field="tenantId",
            )
    if raw.get("timestamp") is None:
        # When the app wrote it, not when Tocsin got to it (Tocsin may have been down).
        raw["timestamp"] = row.created_at
    return raw


def row_fault(exc: BaseException) -> bool:
    """Whether a publish that raised ``exc`` failed because of what a row holds (a value the
    store refuses), rather than because the store is down or busy (then try again)."""
    if dependency_down(exc):
        return False
    return not isinstance(exc, DBAPIError) or isinstance(exc, IntegrityError | DataError)


def _describe(error: BaseException) -> str:
    if isinstance(error, TocsinError):
        text = f"{error.code}: {error.message}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:MAX_ERROR]


class OutboxConsumer:
    """Publishes the outbox's committed rows, woken by NOTIFY and by a poll."""

    def __init__(
        self,
        service: NotificationService,
        database_url: str,
        *,
        poll_interval: float,
        max_bytes: int,
        batch: int = BATCH,
    ) -> None:
        self.service = service
        self.connect_args = pg_outbox.connect_args(database_url)
        self.poll_interval = poll_interval
        self.max_bytes = max_bytes
        self.batch = batch
        self._wake = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run in the background until :meth:`stop`."""
        self._task = asyncio.create_task(self._run(), name="tocsin-outbox")

    async def stop(self) -> None:
        """Stop. A batch being published is rolled back with the connection; its rows are
        published again later, as no-ops for what was already stored."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._disconnect()

    async def drain(self) -> int:
        """Publish pending rows until none is left; returns how many rows were consumed.

        Returns early (0 more) when another node is consuming: it sees the same rows.
        """
        total = 0
        while True:
            # Cleared before the claim: a NOTIFY from here on is for a row it may not see.
            self._wake.clear()
            outcome = await self._one_batch()
            if outcome is None:
                return total
            total += outcome.claimed
            if outcome.claimed < self.batch and not self._wake.is_set():
                return total

    async def _one_batch(self) -> BatchOutcome | None:
        conn = await self._connection()
        async with conn.transaction():
            if not await pg_outbox.take_turn(conn):
                return None
            rows = await pg_outbox.claim(conn, self.batch, self.max_bytes)
            # Bounded too on this side: a publish that hangs rolls the batch back.
            async with asyncio.timeout(HELD_TURN_MS / 1000):
                outcome = await self._publish(rows)
            await pg_outbox.finish(conn, outcome.done, outcome.failed)
        for row_id, error in outcome.failed:
            log.warning("outbox row %d failed: %s", row_id, error)
        return outcome

    async def _publish(self, rows: Sequence[OutboxRow]) -> BatchOutcome:
        outcome = BatchOutcome(claimed=len(rows))
        valid: list[OutboxRow] = []
        raws: list[dict[str, Any]] = []
        for row in rows:
            try:
                raws.append(notification_of(row, self.max_bytes))
            except (TocsinError, ValueError) as exc:
                outcome.failed.append((row.id, _describe(exc)))
                continue
            valid.append(row)
        if not valid:
            return outcome
        results: Sequence[Published | Exception]
        try:
            results = await self.service.publish_many(
                raws, PUBLISHER, once_keys=[once_key(row) for row in valid]
            )
        except Exception as exc:
            if not row_fault(exc):
                raise
            # Something in the batch breaks the whole publish: find it, one row at a time.
            results = [
                await self._publish_alone(row, raw) for row, raw in zip(valid, raws, strict=True)
            ]
        for row, result in zip(valid, results, strict=True):
            if isinstance(result, Published):
                outcome.done.append(row.id)
                metrics.OUTBOX_ROWS.labels("published" if result.created else "replayed").inc()
            else:
                outcome.failed.append((row.id, _describe(result)))
        if outcome.failed:
            outcome.failed.sort()
            metrics.OUTBOX_ROWS.labels("failed").inc(len(outcome.failed))
        return outcome

    async def _publish_alone(self, row: OutboxRow, raw: dict[str, Any]) -> Published | Exception:
        try:
            [result] = await self.service.publish_many([raw], PUBLISHER, once_keys=[once_key(row)])
        except Exception as exc:
            if not row_fault(exc):
                raise
            return exc
        return result

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        await self._disconnect()
        conn = await asyncpg.connect(
            **self.connect_args,
            command_timeout=COMMAND_TIMEOUT,
            # A node frozen mid-batch (stopped, swapping) holds the one consumer's turn: the
            # server ends its transaction, and another node takes over.
            server_settings={"idle_in_transaction_session_timeout": str(HELD_TURN_MS)},
        )
        try:
            await conn.add_listener(pg_outbox.CHANNEL, self._notified)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        return conn

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self.drain()
                failures = 0
                wait = self.poll_interval
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database (or the store) is down: roll back, reconnect, try again.
                failures += 1
                metrics.ERRORS.labels("outbox").inc()
                log.exception("outbox consumer failed; retrying")
                await self._disconnect()
                wait = min(self.poll_interval, RECONNECT_MIN * 2 ** min(failures, 8))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
