"""A node's delivery loop: sends notifications to connected sockets in cursor order.

The bus only rings the doorbell; what is sent is what the store committed, oldest cursor
first. Cursors become visible in commit order (see ``store.tables.cursor_sequence``), so
reading "everything after the last cursor I sent" never skips a late commit. A periodic
poll covers doorbells that never arrived. What this process committed itself is handed
over from memory (``take_over``) and, when the loop is idle, sent at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engineio.packet import Packet

from tocsin import metrics
from tocsin.auth.claims import CLOCK_TOLERANCE
from tocsin.bus.base import CHANGED, DOORBELL, DUE, ERASED, PREFERENCES, PRESENCE, BusMessage
from tocsin.limits import TokenBucket
from tocsin.models import (
    CLIENTS_COUNT,
    NOTIFICATION_DUE,
    NOTIFICATIONS_CHANGED,
    NOTIFICATIONS_READ,
    PREFERENCES_CHANGED,
    RESYNC,
    SESSION_ENDED,
    Identity,
    StoredNotification,
)
from tocsin.realtime.engine import SocketServer, event_packet
from tocsin.realtime.presence import Presence
from tocsin.realtime.registry import Connection, Registry
from tocsin.realtime.timers import CoarseTimers
from tocsin.service import NotificationService

log = logging.getLogger("tocsin.realtime")

FETCH_BATCH = 500
FANOUT_CHUNK = 500
# Notifications this process stored, kept for its dispatcher (beyond this, it reads the store).
HANDOFF_LIMIT = 10_000
# A replay waits this long for its socket to take half a backlog before sending more.
_REPLAY_DRAIN_WAIT = 10.0


@dataclass(slots=True, eq=False)
class FanOut:
    """One notification on its way to a snapshot of its recipients."""

    note: StoredNotification
    recipients: list[Connection]
    # Recipients before this index have been gone through.
    position: int = 0
    packet: Packet | None = None
    sent: int = 0

    @property
    def done(self) -> bool:
        """Every recipient has been gone through."""
        return self.position >= len(self.recipients)


class Dispatcher:
    """Owns the registry of this node's sockets and everything emitted to them."""

    def __init__(self, service: NotificationService, sio: SocketServer) -> None:
        self.service = service
        self.sio = sio
        self.registry = Registry()
        # clients-count is the tenant's sockets on every node, not only this one's.
        self.presence = Presence(
            service.bus,
            self.registry.tenant_count,
            self.registry.tenants,
            self._others_changed,
            interval=service.settings.presence_interval,
            debounce=service.settings.clients_count_debounce,
        )
        self.cursor = 0
        self._wake = asyncio.Event()
        # Stored by this process, by cursor: sent without reading them back.
        self._handed: dict[int, StoredNotification] = {}
        # The highest cursor known to be committed (doorbells, hand-offs); inf: unknown.
        self._announced = 0.0
        self._announcements = 0
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._count_due: set[str] = set()
        # Sessions that end while connected, by sid (a second late at most).
        self._expiries: CoarseTimers[str] = CoarseTimers(1.0, self._expire_later)
        # The loop is inside ``drain``: hand-overs leave the sending to it.
        self._draining = False
        # A notification whose recipients were only partly sent at hand-over.
        self._unfinished: FanOut | None = None
        # The accepted_at of the last commit observed in PUBLISH_TO_EMIT.
        self._observed_commit: datetime | None = None
        sio.rooms.on_connected = self._connected

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Begin after the newest stored notification: history is replayed, not re-sent."""
        self.cursor = await self.service.max_cursor()
        self.service.on_stored(self.take_over)
        self._task = asyncio.create_task(self._run(), name="tocsin-dispatcher")
        self.presence.start()

    async def stop(self) -> None:
        """Stop the loop and any per-socket start-up tasks."""
        await self.presence.stop()
        self._expiries.close()
        tasks = [t for t in (self._task, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def on_bus_message(self, message: BusMessage) -> None:
        """Bus handler: a doorbell wakes the loop; state changes, snoozes that end and
        preference changes go to the user's (or tenant's) sockets; an erased user's sockets
        are ended."""
        kind = message.get("type")
        if kind == DOORBELL:
            cursor = message.get("cursor")
            self._announce(float(cursor) if isinstance(cursor, int) else math.inf)
            if message.get("reason") == "subscribed":
                self.presence.subscribed()
        elif kind == PRESENCE:
            self.presence.on_message(message)
        elif kind == CHANGED:
            self._emit_changed(message)
        elif kind == DUE:
            self._to_user(message, event_packet(NOTIFICATION_DUE, message["item"]), None)
        elif kind == PREFERENCES:
            self._emit_preferences(message)
        elif kind == ERASED:
            self._end_sessions(message)

    def take_over(self, notes: list[StoredNotification]) -> None:
        """Service hook: notifications this process just committed, to send as they are.

        When the loop is idle, sending starts here, before the publisher's answer is
        written; the loop finishes whatever goes beyond one chunk of recipients.
        """
        for note in notes:
            if note.cursor > self.cursor and len(self._handed) < HANDOFF_LIMIT:
                self._handed[note.cursor] = note
        if not self._draining and self._unfinished is None:
            try:
                self._send_handed_now()
            except Exception:
                # Stored is stored: the publisher still gets its answer.
                metrics.ERRORS.labels("dispatch").inc()
                log.exception("dispatch failed at cursor %s", self.cursor)
        self._announce(float(max(note.cursor for note in notes)))

    def _send_handed_now(self) -> None:
        budget = FANOUT_CHUNK
        while budget > 0 and (note := self._handed.pop(self.cursor + 1, None)) is not None:
            self.cursor = note.cursor
            job = FanOut(note, self.registry.recipients(note))
            budget -= max(1, self._advance(job, budget))
            if not job.done:
                self._unfinished = job
                return

    def _announce(self, cursor: float) -> None:
        self._announced = max(self._announced, cursor)
        self._announcements += 1
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        interval = self.service.settings.poll_interval
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            except TimeoutError:
                self._announce(math.inf)  # a doorbell may have been missed: read the store
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The store is unreachable: keep the position and retry on the next tick.
                metrics.ERRORS.labels("dispatch").inc()
                log.exception("dispatch failed at cursor %s; retrying", self.cursor)

    async def drain(self) -> None:
        """Send everything after ``self.cursor`` to its recipients, in cursor order.

        What this process stored is sent from memory as long as it follows the cursor
        without a gap; anything else (other nodes, a gap, a missed doorbell) is read from
        the store. Reading stops once every announced cursor has been sent.
        """
        self._draining = True
        try:
            if self._unfinished is not None:
                job, self._unfinished = self._unfinished, None
                await self._send_all(job)
            await self._drain_from_cursor()
        finally:
            self._draining = False

    async def _drain_from_cursor(self) -> None:
        while True:
            batch = self._next_handed()
            if not batch:
                if self.cursor >= self._announced:
                    return
                announcements = self._announcements
                batch = await self.service.fetch_after(self.cursor, FETCH_BATCH)
                if len(batch) < FETCH_BATCH and self._announcements == announcements:
                    # Nothing was announced during the read: the store holds no more.
                    last = batch[-1].cursor if batch else self.cursor
                    self._announced = min(self._announced, float(last))
            for note in batch:
                if note.cursor <= self.cursor:
                    continue
                self.cursor = note.cursor
                await self._send_all(FanOut(note, self.registry.recipients(note)))

    def _next_handed(self) -> list[StoredNotification]:
        """The handed-over notifications that follow the cursor without a gap."""
        handed = self._handed
        if not handed:
            return []
        batch: list[StoredNotification] = []
        cursor = self.cursor
        while len(batch) < FETCH_BATCH and (note := handed.pop(cursor + 1, None)) is not None:
            batch.append(note)
            cursor = note.cursor
        if not batch:
            # A gap: what is kept here comes after notifications only the store has.
            for stale in [c for c in handed if c <= self.cursor]:
                del handed[stale]
        return batch

    async def _send_all(self, job: FanOut) -> None:
        # The loop yields every FANOUT_CHUNK recipients, so that a 10,000-socket broadcast
        # does not hold up HTTP requests and heartbeats for its whole length.
        self._advance(job, FANOUT_CHUNK)
        while not job.done:
            await asyncio.sleep(0)
            self._advance(job, FANOUT_CHUNK)

    def _advance(self, job: FanOut, limit: int) -> int:
        """Send ``job``'s notification to up to ``limit`` more recipients; returns how many
        recipients it went through (sent, held as pending, or skipped as already sent)."""
        note = job.note
        recipients = job.recipients
        start = job.position
        stop = min(len(recipients), start + limit)
        for index in range(start, stop):
            connection = recipients[index]
            if not connection.live:
                connection.pending.append(note)
                continue
            if note.cursor <= connection.delivered:
                continue
            connection.delivered = note.cursor
            if job.packet is None:
                job.packet = event_packet(note.event, note.to_wire())
            job.sent += self._send(connection, job.packet)
        job.position = stop
        if job.done:
            if job.sent:
                metrics.emitted(note.event).inc(job.sent)
            accepted_at = note.accepted_at
            # One observation per commit: its notifications share one accepted_at.
            if accepted_at is not None and accepted_at is not self._observed_commit:
                self._observed_commit = accepted_at
                lag = datetime.now(UTC) - accepted_at
                metrics.PUBLISH_TO_EMIT.observe(max(0.0, lag.total_seconds()))
        return stop - start

    # -- sockets coming and going -----------------------------------------------------

    def attach(
        self, sid: str, identity: Identity, since: int | None, *, expires_at: float | None = None
    ) -> None:
        """Register an authenticated socket; it goes live once its replay is sent.

        A socket whose session expires is disconnected then, so that its client signs in
        again (a reconnect with the same token is refused as ``expired``).
        """
        settings = self.service.settings
        connection = Connection(
            sid=sid,
            identity=identity,
            delivered=since or 0,
            since=since,
            events=TokenBucket(settings.client_event_rate, settings.client_event_burst),
            strikes=TokenBucket(settings.client_event_rate, 10 * settings.client_event_burst),
        )
        if expires_at is not None:
            delay = max(0.0, expires_at + CLOCK_TOLERANCE - time.time())
            self._expiries.start(sid, delay)
        self.registry.add(connection)
        metrics.CONNECTIONS.inc()
        self._schedule_count(identity.tenant_id)
        self.presence.local_changed(identity.tenant_id)

    def detach(self, sid: str) -> None:
        """Forget a socket that disconnected."""
        connection = self.registry.remove(sid)
        if connection is not None:
            metrics.CONNECTIONS.dec()
            self._expiries.cancel(sid)
            self._schedule_count(connection.identity.tenant_id)
            self.presence.local_changed(connection.identity.tenant_id)

    def _expire_later(self, sid: str) -> None:
        self._spawn(self._expire(sid))

    async def _expire(self, sid: str) -> None:
        if sid in self.registry.by_sid:
            log.info("session of %s expired: disconnecting", sid)
            await self.sio.disconnect(sid)

    def _connected(self, sid: str) -> None:
        """RoomManager hook: ``sid``'s CONNECT is sent, so events may follow it now.

        A socket without ``since`` (and little pending) goes live at once, without a task;
        a replay runs in a task of its own, paced by the client's reading.
        """
        connection = self.registry.by_sid.get(sid)
        transport = self.sio.transport(sid)
        if connection is None or transport is None:
            return
        connection.transport = transport
        count = self.presence.total(connection.identity.tenant_id)
        self._send(connection, event_packet(CLIENTS_COUNT, {"count": count}))
        if connection.since is None and len(connection.pending) < self._pace_at:
            self._send_pending(connection)
            connection.live = True
        else:
            self._spawn(self._bring_live(connection))

    @property
    def _pace_at(self) -> int:
        return self.service.settings.max_backlog // 2

    def _send_pending(self, connection: Connection) -> None:
        pending, connection.pending = connection.pending, []
        for note in pending:
            if note.cursor > connection.delivered:
                connection.delivered = note.cursor
                self._send_one(connection, note.event, note.to_wire())

    async def _bring_live(self, connection: Connection) -> None:
        if connection.since is not None:
            await self._replay(connection, connection.since)
        # Flush what arrived meanwhile, then go live: no await between the last check of
        # ``pending`` and ``live``, so nothing can slip in between.
        while connection.pending:
            note = connection.pending.pop(0)
            if note.cursor > connection.delivered:
                if not await self._paced(connection):
                    return
                if note.cursor > connection.delivered:
                    connection.delivered = note.cursor
                    self._send_one(connection, note.event, note.to_wire())
        connection.live = True

    async def _paced(self, connection: Connection) -> bool:
        """Let a replaying socket's writer catch up before queueing more; False if it left.

        A replay may hold thousands of notifications; queued at once they would exceed the
        backlog of a client that reads perfectly well. One that does not read is dropped by
        ``_send`` once the wait is over.
        """
        transport = connection.transport
        if transport is None or not transport.open or connection.sid not in self.registry.by_sid:
            return False
        if transport.backlog() >= self._pace_at:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_REPLAY_DRAIN_WAIT):
                    await transport.drained()
        return transport.open and connection.sid in self.registry.by_sid

    def _send_one(self, connection: Connection, event: str, payload: dict[str, Any]) -> None:
        if self._send(connection, event_packet(event, payload)):
            metrics.emitted(event).inc()

    def _send(self, connection: Connection, packet: Packet) -> int:
        """Queue ``packet`` for one socket: 1 if queued, 0 if not (closing or dropped)."""
        transport = connection.transport
        if transport is None:
            return 0
        if transport.backlog() > self.service.settings.max_backlog:
            # A client that stopped reading: drop it rather than buffer without end. It
            # reconnects with its cursor and replays what it missed from the store.
            metrics.ERRORS.labels("slow_consumer").inc()
            log.warning(
                "socket %s is not reading (backlog over %d): disconnecting",
                connection.sid,
                self.service.settings.max_backlog,
            )
            self.detach(connection.sid)  # nothing more is queued for it
            self._spawn(self.sio.disconnect(connection.sid))
            return 0
        return int(transport.enqueue(packet))

    async def _replay(self, connection: Connection, since: int) -> None:
        sid = connection.sid
        metrics.REPLAYS.inc()
        try:
            items, truncated = await self.service.replay(connection.identity, since)
        except Exception:
            metrics.ERRORS.labels("replay").inc()
            log.exception("replay failed for %s", sid)
            failed = {"reason": "replay_failed", "since": since}
            self._send(connection, event_packet(RESYNC, failed))
            return
        if truncated:
            metrics.RESYNCS.inc()
            oldest = items[0].notification.cursor if items else since
            resync = {"reason": "too_many", "since": since, "before": oldest}
            self._send(connection, event_packet(RESYNC, resync))
        for item in items:
            note = item.notification
            if not await self._paced(connection):
                return
            if note.cursor > connection.delivered:
                connection.delivered = note.cursor
                metrics.REPLAYED.inc()
                self._send_one(connection, note.event, note.to_wire(read=item.read))

    # -- clients-count and read state -------------------------------------------------

    def _schedule_count(self, tenant_id: str) -> None:
        if tenant_id in self._count_due:
            return
        self._count_due.add(tenant_id)
        self._spawn(self._emit_count_later(tenant_id))

    async def _emit_count_later(self, tenant_id: str) -> None:
        await asyncio.sleep(self.service.settings.clients_count_debounce)
        self._count_due.discard(tenant_id)
        members = self.registry.of_tenant(tenant_id)
        packet = event_packet(CLIENTS_COUNT, {"count": self.presence.total(tenant_id)})
        for connection in members:
            self._send(connection, packet)

    def _others_changed(self, tenants: set[str]) -> None:
        """Presence hook: other nodes' sockets of these tenants changed."""
        for tenant in tenants:
            if self.registry.tenant_count(tenant):
                self._schedule_count(tenant)

    def _to_user(self, message: BusMessage, packet: Packet, origin: Any) -> None:
        """Send ``packet`` to every socket of the message's user but ``origin``."""
        tenant, user = str(message["tenantId"]), str(message["userId"])
        for connection in self.registry.of_user(tenant, user):
            if connection.sid != origin:
                self._send(connection, packet)

    def _emit_changed(self, message: BusMessage) -> None:
        change: dict[str, Any] = message["event"]
        origin = message.get("origin")
        self._to_user(message, event_packet(NOTIFICATIONS_CHANGED, change), origin)
        if change.get("change") in ("read", "cleared", "acted"):
            # The seed's clients know only this one (an action marks its item read).
            read: dict[str, Any] = {
                "ids": change.get("ids", []),
                "all": bool(change.get("all")),
                "unreadCount": change.get("unreadCount", 0),
            }
            if "upTo" in change:
                read["upTo"] = change["upTo"]
            if change.get("change") == "cleared":
                read["cleared"] = True
            self._to_user(message, event_packet(NOTIFICATIONS_READ, read), origin)

    def _end_sessions(self, message: BusMessage) -> None:
        """A user was erased: each of their sockets here is told why, then disconnected
        (socket.io-client does not reconnect after a server's disconnect)."""
        identity = Identity(str(message["tenantId"]), str(message["userId"]))
        self.service.forget_user(identity)
        packet = event_packet(SESSION_ENDED, {"reason": "erased"})
        for connection in self.registry.of_user(identity.tenant_id, identity.user_id):
            self._send(connection, packet)
            self.detach(connection.sid)  # nothing more is queued for it
            self._spawn(self.sio.disconnect(connection.sid))

    def _emit_preferences(self, message: BusMessage) -> None:
        if message.get("userId") is None:
            packet = event_packet(PREFERENCES_CHANGED, {"scope": "tenant"})
            for connection in self.registry.of_tenant(str(message["tenantId"])):
                self._send(connection, packet)
            return
        payload = {"scope": "user", "preferences": message.get("preferences")}
        self._to_user(message, event_packet(PREFERENCES_CHANGED, payload), message.get("origin"))
