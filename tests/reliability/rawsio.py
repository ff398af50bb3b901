"""A bare Socket.IO v5 / Engine.IO v4 client over one WebSocket, frame by frame.

python-socketio's client is correct and therefore cannot send what an attacker sends, and
it costs too much per socket for thousands of them. This one speaks just enough of the
protocol to authenticate, answer pings, record events and acks, and send anything at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

NOTIFICATION_EVENTS = frozenset(
    ("email-received", "dossier-updated", "deadline-alert", "system-notification")
)


class Refused(Exception):
    """The server answered CONNECT with a ``connect_error`` (``44``)."""

    def __init__(self, payload: Any) -> None:
        super().__init__(payload)
        self.payload = payload


def ws_url(http_url: str, path: str = "/socket.io/") -> str:
    """The Engine.IO WebSocket URL of a server's base HTTP URL."""
    return http_url.replace("http://", "ws://", 1).rstrip("/") + f"{path}?EIO=4&transport=websocket"


@dataclass
class Received:
    """One event as received, with the monotonic time it arrived."""

    name: str
    data: Any
    at: float

    def __repr__(self) -> str:
        data = repr(self.data)
        return f"Received({self.name!r}, {data[:200] + '…' if len(data) > 200 else data})"


@dataclass
class RawClient:
    """One WebSocket speaking Engine.IO/Socket.IO by hand.

    After :meth:`open` and :meth:`handshake`, :meth:`run` (as a task) reads frames: it
    answers Engine.IO pings, records events in ``events`` and acks in ``acks``; ``closed``
    is set when the server closes the connection.
    """

    url: str
    max_size: int | None = 2**24
    max_queue: int | None = 64
    rcvbuf: int | None = None
    ws: ClientConnection | None = None
    events: list[Received] = field(default_factory=list, repr=False)
    acks: dict[int, Any] = field(default_factory=dict, repr=False)
    since: int | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    open_packet: dict[str, Any] = field(default_factory=dict)
    close_code: int | None = None
    _task: asyncio.Task[None] | None = None
    _next_ack: int = 0

    async def open(self) -> dict[str, Any]:
        """Open the WebSocket and read Engine.IO's OPEN packet."""
        sock = None
        if self.rcvbuf is not None:
            # A small receive window so that a client that stops reading backs up the server.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            sock.setblocking(False)
            host, port = self.url.split("//", 1)[1].split("/", 1)[0].split(":")
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        self.ws = await connect(
            self.url,
            sock=sock,
            max_size=self.max_size,
            max_queue=self.max_queue,
            ping_interval=None,
            compression=None,
            open_timeout=20,
        )
        first = await asyncio.wait_for(self.ws.recv(), 20)
        assert isinstance(first, str) and first.startswith("0"), first
        self.open_packet = json.loads(first[1:])
        return self.open_packet

    async def send(self, frame: str | bytes) -> None:
        """Send one raw WebSocket frame."""
        assert self.ws is not None
        await self.ws.send(frame)

    async def handshake(self, auth: dict[str, Any] | None) -> dict[str, Any]:
        """Socket.IO CONNECT to ``/``; returns the CONNECT answer or raises :class:`Refused`."""
        await self.send("40" + (json.dumps(auth) if auth is not None else ""))
        assert self.ws is not None
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), 20)
            if frame == "2":
                await self.send("3")
                continue
            assert isinstance(frame, str), frame
            if frame.startswith("40"):
                answer: dict[str, Any] = json.loads(frame[2:] or "{}")
                return answer
            if frame.startswith("44"):
                raise Refused(json.loads(frame[2:]))
            # An event may follow CONNECT so closely that it is read here: keep it.
            self._record(frame)

    async def connect(self, auth: dict[str, Any] | None) -> dict[str, Any]:
        """open + handshake + start reading."""
        await self.open()
        answer = await self.handshake(auth)
        self.start()
        return answer

    def start(self) -> None:
        """Start the reader task."""
        self._task = asyncio.create_task(self.run())

    async def run(self) -> None:
        """Read frames until the connection closes."""
        assert self.ws is not None
        try:
            async for frame in self.ws:
                if frame == "2":
                    with contextlib.suppress(ConnectionClosed):
                        await self.ws.send("3")
                elif isinstance(frame, str):
                    self._record(frame)
        except ConnectionClosed:
            pass
        finally:
            rcvd = self.ws.protocol.close_rcvd
            self.close_code = rcvd.code if rcvd is not None else None
            self.closed.set()
            self.changed.set()

    def _record(self, frame: str) -> None:
        now = time.monotonic()
        if frame.startswith("42"):
            body = frame[2:]
            try:
                name, *rest = json.loads(body)
            except ValueError:
                return
            data = rest[0] if rest else None
            if name in NOTIFICATION_EVENTS and isinstance(data, dict):
                cursor = data.get("cursor")
                if isinstance(cursor, int):
                    self.since = max(self.since or 0, cursor)
            self.events.append(Received(name, data, now))
        elif frame.startswith("43"):
            digits = ""
            for char in frame[2:]:
                if not char.isdigit():
                    break
                digits += char
            if digits:
                payload = json.loads(frame[2 + len(digits) :])
                self.acks[int(digits)] = payload[0] if payload else None
        elif frame.startswith("41") or frame == "1":
            # Socket.IO DISCONNECT, or Engine.IO CLOSE: the server has let go of this socket.
            self.events.append(Received("disconnect", None, now))
        self.changed.set()

    @property
    def disconnected(self) -> bool:
        """The server closed the connection, or said it dropped the socket."""
        return self.closed.is_set() or any(e.name == "disconnect" for e in self.events)

    def notifications(self) -> list[Received]:
        """The notification events received so far."""
        return [e for e in self.events if e.name in NOTIFICATION_EVENTS]

    async def wait(self, check: Any, timeout: float, what: str = "condition") -> None:
        """Wait until ``check()`` holds, woken by each frame; AssertionError on timeout."""

        async def loop() -> None:
            while not check():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"timed out waiting for {what}; last events {self.events[-3:]}"
            ) from None

    async def emit(self, event: str, data: Any, *, ack: bool = True) -> int | None:
        """Send an event (with an ack id unless ``ack`` is False); returns the ack id."""
        ack_id = None
        if ack:
            ack_id = self._next_ack
            self._next_ack += 1
        prefix = "42" + ("" if ack_id is None else str(ack_id))
        await self.send(prefix + json.dumps([event, data]))
        return ack_id

    async def call(self, event: str, data: Any, timeout: float = 10) -> Any:
        """Emit with an ack and wait for it."""
        ack_id = await self.emit(event, data)
        assert ack_id is not None
        await self.wait(lambda: ack_id in self.acks, timeout, f"ack {ack_id} of {event}")
        return self.acks.pop(ack_id)

    async def close(self) -> None:
        """Close the WebSocket and stop reading."""
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
