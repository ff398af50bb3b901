"""An Engine.IO socket that writes to its WebSocket without a writer task.

python-engineio gives every WebSocket a queue, a writer task woken once per packet, a
reader that creates a task and a ``wait_for`` per received frame, and a sleeping task per
heartbeat. With 10,000 sockets that is the bulk of the server's objects (memory, garbage
collection pauses) and of a broadcast's cost (10,000 writer wake-ups).

:class:`EngineSocket`, on a connection whose ASGI server offers a link
(:mod:`tocsin.realtime.wsprotocol`), writes each packet to the WebSocket at once; only when
the client stops reading (the transport pauses writing) are packets held, and a flusher
task exists just for that time. Heartbeats are entries in the server's shared ping timers,
not tasks. Once open, the socket detaches from its ASGI call (when the app allows it, see
``engine.SocketIOApp``): the link hands it each received message, a PONG is handled at once
and other packets by a task that exists while some wait; otherwise received frames are read
in one loop. A client that stops answering pings is found by the server's service scan.
Without a link (long-polling, another ASGI server) it is python-engineio's socket.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from typing import Any, cast

from engineio import exceptions
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket

from tocsin import metrics
from tocsin.realtime.wsprotocol import LinkedWebSocketProtocol, text_frame

log = logging.getLogger("tocsin.realtime")

# Packets (other than PONGs) a detached socket holds before it stops reading its client.
_INBOUND_LIMIT = 16


class _NoQueue:
    """python-engineio's queue of a socket that writes to its link: never holds anything.

    (An asyncio.Queue is seven objects, kept for the connection's life, unused.)
    """

    def qsize(self) -> int:
        return 0

    def empty(self) -> bool:
        return True

    async def join(self) -> None:
        return None

    def get_nowait(self) -> object:
        raise asyncio.QueueEmpty

    def task_done(self) -> None:
        return None

    def put_nowait(self, item: object) -> None:
        raise RuntimeError("a socket on a link writes at once; it queues nothing")


_NO_QUEUE = _NoQueue()


# Engine.IO packet types a client may send over a WebSocket as text: PING..UPGRADE
# ("2".."5"); "1" is CLOSE. A binary frame is a MESSAGE (Engine.IO v4). What a MESSAGE
# carries is Socket.IO's to check (``engine.SocketServer``, which bounds binary attachments).
_CLIENT_EIO_TYPES = frozenset("12345")


def frame_refusal(data: object) -> str | None:
    """Why a WebSocket frame from a client is refused (the connection is then closed)."""
    if isinstance(data, bytes | bytearray):
        return None
    if not isinstance(data, str) or not data:
        return "empty_frame"
    if data[0] not in _CLIENT_EIO_TYPES:
        return "unknown_packet_type"
    return None


def received_message(message: dict[str, Any]) -> str | bytes | None:
    """The text (or, for a binary frame, the bytes) of a ``websocket.receive`` ASGI
    message; None (counted and logged) for a frame no Engine.IO client sends, whose
    connection is then closed."""
    data = message.get("text")
    if data is None:
        data = message.get("bytes")
    reason = frame_refusal(data)
    if reason is not None:
        metrics.ERRORS.labels(f"frame_{reason}").inc()
        log.info("closing a socket that sent a refused frame (%s)", reason)
        return None
    return cast(str | bytes, data)  # frame_refusal lets only text or bytes through


def packet_size(pkt: eio_packet.Packet) -> int:
    """About the bytes ``pkt`` takes on the wire (characters for a text packet)."""
    frame = getattr(pkt, "frame", None)
    if frame is not None:
        return len(frame)
    if pkt.binary:
        # Not encode(): it caches one encoding, and long-polling needs the base64 one.
        return len(pkt.data) + 1
    return len(pkt.encode())


class SharedPacket(eio_packet.Packet):  # type: ignore[misc]
    """An Engine.IO MESSAGE encoded and framed once, written as is to many sockets."""

    def __init__(self, data: str) -> None:
        super().__init__(eio_packet.MESSAGE, data)
        self.frame: bytes = text_frame(self.encode())  # encode() caches the text too


class EngineSocket(AsyncSocket):  # type: ignore[misc]
    """python-engineio's socket, writing straight to a linked WebSocket."""

    last_ping: float | None
    connected: bool
    # When the next PING is due (time.time()), set by schedule_ping.
    _ping_due: float = 0.0
    # Whether a long-polling GET is waiting for packets.
    _polling = False

    def __init__(self, server: Any, sid: str) -> None:
        super().__init__(server, sid)
        self.link: LinkedWebSocketProtocol | None = None
        self._ws: Any = None
        # Created when first needed: an empty deque is 624 bytes, and most sockets never
        # hold anything.
        self._held: deque[eio_packet.Packet] | None = None
        self._flusher: asyncio.Task[None] | None = None
        # On a detached link: packets received and not yet handled, and their handler.
        self._inbound: list[eio_packet.Packet] | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        # Bytes of the packets waiting for this client (held here, or in python-engineio's
        # queue for long-polling), bounded by the server's ``send_buffer_limit``.
        self._buffered = 0

    # -- what the dispatcher uses -------------------------------------------------------

    @property
    def open(self) -> bool:
        """False once Engine.IO started closing the socket."""
        return not (self.closed or self.closing)

    def backlog(self) -> int:
        """Packets waiting because the client is not reading fast enough."""
        if self.link is None:
            size: int = self.queue.qsize()
            return size
        return len(self._held) if self._held is not None else 0

    async def drained(self) -> None:
        """Return once every waiting packet has been written."""
        if self.link is None:
            await self.queue.join()
            return
        while self._held and self._flusher is not None:
            await asyncio.shield(self._flusher)

    def enqueue(self, pkt: eio_packet.Packet) -> bool:
        """Send ``pkt`` without awaiting; False if the socket is closing."""
        if not self.open:
            return False
        self._write(pkt)
        return True

    # -- python-engineio's interface ----------------------------------------------------

    async def send(self, pkt: eio_packet.Packet) -> None:
        """Send a packet (CONNECT, acks, heartbeats, CLOSE: Engine.IO's own path)."""
        if self.link is None:
            if self._buffer(pkt):
                await super().send(pkt)
            return
        if self.closed:
            raise exceptions.SocketIsClosedError()
        self._write(pkt)

    async def poll(self) -> list[eio_packet.Packet]:
        """Wait for packets to send to a long-polling client (as python-engineio)."""
        packets: list[eio_packet.Packet] = await super().poll()
        self._buffered = max(0, self._buffered - sum(map(packet_size, packets)))
        return packets

    async def receive(self, pkt: eio_packet.Packet) -> None:
        """Handle a packet from the client as python-engineio does, except UPGRADE.

        python-engineio answers an UPGRADE outside an upgrade with a NOOP: a packet a
        client can make the server write forever without reading. An upgrade's own
        UPGRADE packet is read by the upgrade itself (``_upgrade``), never here.
        """
        if pkt.packet_type == eio_packet.UPGRADE:
            metrics.ERRORS.labels("unexpected_upgrade").inc()
            return
        await super().receive(pkt)

    async def handle_get_request(self, environ: dict[str, Any]) -> Any:
        """A long-polling GET (or this session's WebSocket upgrade), as python-engineio,
        except where Engine.IO asks otherwise: a poll after a missed PONG deadline, or one
        while another poll waits, closes the session (the waiting poll gets CLOSE).

        Raises:
            EngineIOError: the session is closed (python-engineio answers 400).
        """
        scope = environ.get("asgi.scope")
        if self.upgrading or self.upgraded or (scope is not None and scope["type"] != "http"):
            return await super().handle_get_request(environ)
        if not await self.check_ping_timeout():
            raise exceptions.EngineIOError("ping timeout")
        if self._polling:
            await self.close(wait=False, reason=self.server.reason.TRANSPORT_ERROR)
            raise exceptions.EngineIOError("a poll while another one waits")
        self._polling = True
        try:
            return await super().handle_get_request(environ)
        finally:
            self._polling = False

    async def handle_post_request(self, environ: dict[str, Any]) -> None:
        """A long-polling POST, as python-engineio, except that a payload that is not
        Engine.IO closes the session, and a CLOSE from the client ends a waiting poll with
        a NOOP (python-engineio leaves it waiting, then answers 400).

        Raises:
            EngineIOError: the session is closed (python-engineio answers 400).
        """
        try:
            await super().handle_post_request(environ)
        except (ValueError, KeyError, RecursionError, exceptions.EngineIOError):
            # Undecodable (ValueError covers UnicodeDecodeError and binascii.Error), too
            # long, or a packet type a client never sends.
            await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR)
            raise exceptions.EngineIOError("invalid payload") from None
        if self.closed and self._polling:
            self.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))

    def schedule_ping(self) -> None:
        """Ping after the interval, once the previous ping was answered (a timer, no task)."""
        if self.last_ping:
            self.last_ping = None
            self._ping_due = time.time() + self.server.ping_interval
            self.server.ping_timers.start(self.sid, self.server.ping_interval)

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        """Close as python-engineio does; on a link, also end the WebSocket itself.

        Without this a server-side close (ping timeout, disconnect) would wait for the
        client to close the WebSocket, which a vanished client never does.
        """
        link = self.link
        if link is None:
            await super().close(wait=wait, abort=abort, reason=reason)
            self._stop_ping()
            return
        closing_now = self.open
        await super().close(wait=False, abort=abort, reason=reason)
        self._stop_ping()
        if not closing_now:
            return
        if self._held or not link.writable.is_set():
            # The client is not reading: a close frame would wait behind the rest, and
            # the transport would never finish flushing.
            link.abort()
        elif abort:
            # The client sent CLOSE, or its transport failed: nothing more to say to it.
            link.end()
        elif self._ws is not None:
            await self._ws.close()

    async def _websocket_handler(self, ws: Any) -> None:
        await self.websocket_handler(ws)

    async def websocket_handler(self, ws: Any) -> None:
        """Serve this socket over the accepted WebSocket ``ws`` until it closes."""
        link = getattr(ws, "link", None)
        if link is None:
            await super()._websocket_handler(ws)
            return
        if self.connected:
            if not await self._upgrade(ws):
                return
        else:
            self.connected = True
            self.upgraded = True
        self._ws = ws
        self.link = link
        self._move_queued()
        self.queue = _NO_QUEUE
        if link.may_detach:
            # From here on the link calls this socket for each message; this coroutine,
            # and the ASGI call chain above it, can return.
            link.detach(self._on_message)
            return
        try:
            await self._read(ws)
        finally:
            await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    # -- internals ----------------------------------------------------------------------

    def _on_message(self, message: dict[str, Any]) -> None:
        """A detached link's listener: one ASGI receive message, handled without awaiting.

        A PONG (most of what a client sends) is handled here; other packets go, in order,
        to a task that lives only while there are some. A client that sends faster than
        they are handled is not read from until the backlog halves.
        """
        if message["type"] != "websocket.receive" or self.closed:
            self._close_soon(self.server.reason.TRANSPORT_CLOSE)
            return
        data = received_message(message)
        if data is None or len(data) > self.server.max_http_buffer_size:
            self._close_soon(self.server.reason.TRANSPORT_CLOSE)
            return
        try:
            pkt = eio_packet.Packet(encoded_packet=data)
        except Exception:
            self._close_soon(self.server.reason.TRANSPORT_CLOSE)
            return
        if pkt.packet_type == eio_packet.PONG:
            self.schedule_ping()  # what python-engineio's receive() does for a PONG
            return
        if self._inbound is None:
            self._inbound = []
        self._inbound.append(pkt)
        if len(self._inbound) >= _INBOUND_LIMIT and self.link is not None:
            self.link.pause_reading()
        if self._receiver is None:
            self._receiver = asyncio.get_running_loop().create_task(self._receive_inbound())

    async def _receive_inbound(self) -> None:
        inbound = self._inbound
        try:
            while inbound:
                pkt = inbound.pop(0)  # a few packets at most: a list is smaller than a deque
                if len(inbound) <= _INBOUND_LIMIT // 2 and self.link is not None:
                    self.link.resume_reading()
                if not await self._receive_one(pkt):
                    self._close_soon(self.server.reason.TRANSPORT_CLOSE)
                    return
        finally:
            self._receiver = None
            if not inbound:
                self._inbound = None  # most sockets receive one packet (CONNECT) in all

    def _close_soon(self, reason: Any) -> None:
        if self._closer is None:
            self._closer = asyncio.get_running_loop().create_task(self._end(reason))

    async def _end(self, reason: Any) -> None:
        # Where a reader loop would return: Engine.IO forgets the socket, then the
        # connection is closed, as uvicorn closes it when an ASGI call returns.
        try:
            await self.close(wait=False, abort=True, reason=reason)
        finally:
            if self.link is not None:
                self.link.end()
            if self.server.sockets.get(self.sid) is self:
                del self.server.sockets[self.sid]

    async def _read(self, ws: Any) -> None:
        limit = self.server.max_http_buffer_size
        while True:
            try:
                data = await ws.wait()
            except OSError:
                return
            if data is None or len(data) > limit:
                return
            try:
                pkt = eio_packet.Packet(encoded_packet=data)
            except Exception:
                log.exception("socket %s: receive failed", self.sid)
                continue
            if not await self._receive_one(pkt):
                return

    async def _receive_one(self, pkt: eio_packet.Packet) -> bool:
        """Handle one received packet as python-engineio does; False once the socket is
        closed (an unknown packet is ignored, any other failure logged)."""
        try:
            await self.receive(pkt)
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            return False
        except Exception:
            log.exception("socket %s: receive failed", self.sid)
        return True

    async def _upgrade(self, ws: Any) -> bool:
        """The long-polling → WebSocket upgrade: probe, then UPGRADE (as python-engineio)."""
        self.upgrading = True
        try:
            probe = eio_packet.Packet(encoded_packet=await ws.wait())
            if probe.packet_type != eio_packet.PING or probe.data != "probe":
                return False
            await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            if self._polling:
                # Ends the waiting poll. A poll that comes later during the upgrade gets
                # its NOOP from python-engineio; one queued now would reach the WebSocket.
                self.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))
            upgrade = eio_packet.Packet(encoded_packet=await ws.wait())
            if upgrade.packet_type != eio_packet.UPGRADE:
                return False
        except (OSError, ValueError, TypeError):
            return False
        finally:
            self.upgrading = False
        self.upgraded = True
        return True

    def _move_queued(self) -> None:
        """Write, in order, what was queued before the link (OPEN; packets of an upgrade)."""
        while True:
            try:
                pkt = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            self.queue.task_done()
            if pkt is not None:
                self._buffered = max(0, self._buffered - packet_size(pkt))
                self._write(pkt)

    def _buffer(self, pkt: eio_packet.Packet) -> bool:
        """Count ``pkt`` as waiting for the client; False (and the socket closing) once
        the bytes waiting would pass the server's ``send_buffer_limit``."""
        if self._closer is not None:
            return False
        self._buffered += packet_size(pkt)
        if self._buffered <= self.server.send_buffer_limit:
            return True
        metrics.ERRORS.labels("send_buffer_full").inc()
        log.warning(
            "socket %s is not reading (%d bytes waiting, limit %d): closing",
            self.sid,
            self._buffered,
            self.server.send_buffer_limit,
        )
        self._close_soon(self.server.reason.TRANSPORT_ERROR)
        return False

    def _write(self, pkt: eio_packet.Packet) -> None:
        link = self.link
        if link is None:
            if self._buffer(pkt):
                self.queue.put_nowait(pkt)
            return
        if self._held or not link.send_now(pkt.encode(), getattr(pkt, "frame", None)):
            if not self._buffer(pkt):
                return
            if self._held is None:
                self._held = deque()
            self._held.append(pkt)
            if self._flusher is None:
                self._flusher = asyncio.get_running_loop().create_task(self._flush(link))

    async def _flush(self, link: LinkedWebSocketProtocol) -> None:
        held = self._held
        try:
            while held:
                await link.wait_writable()
                while held:
                    pkt = held[0]
                    if not link.send_now(pkt.encode(), getattr(pkt, "frame", None)):
                        break
                    held.popleft()
                    self._buffered -= packet_size(pkt)
        finally:
            self._flusher = None

    def ping(self) -> None:
        """Send a PING now (the server's ping timers call this)."""
        if self.open:
            # The PONG is due ``ping_timeout`` after the PING was due, as in Node, not after
            # the coarse timer fired (up to a 25th of the interval later).
            self.last_ping = min(time.time(), self._ping_due or math.inf)
            self._write(eio_packet.Packet(eio_packet.PING))

    def _stop_ping(self) -> None:
        self.server.ping_timers.cancel(self.sid)
        self.server.connect_timers.cancel(self.sid)
