"""uvicorn's WebSocket protocol with a send path that does not await: the "link".

Through ASGI, every message sent to a WebSocket is an awaited ``send`` carrying a dict,
which uvicorn then frames; a broadcast to 10,000 sockets pays that 10,000 times, from as
many writer tasks. The link lets Engine.IO write a message *now*, from the fan-out loop,
and write the same pre-built RFC 6455 frame to every socket, as Node's ``ws`` does. The
app finds it in the connection's ASGI scope (``scope["extensions"]["tocsin.link"]["link"]``);
under another ASGI server it is absent and Engine.IO sends through ASGI as usual.

The link also lets an open connection *detach* from its ASGI call: received messages are
then handed to a listener as they arrive instead of waiting in a queue for a reader
coroutine, and the app's call chain can return (``engine.SocketIOApp`` keeps the connection
open until it closes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

LINK_EXTENSION = "tocsin.link"


def text_frame(text: str) -> bytes:
    """The frame a server sends for ``text``: unmasked, unfragmented, uncompressed."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def link_of(scope: dict[str, Any]) -> LinkedWebSocketProtocol | None:
    """The link of a WebSocket connection's ASGI scope, if its server provides one."""
    extension = scope.get("extensions", {}).get(LINK_EXTENSION)
    return extension.get("link") if isinstance(extension, dict) else None


class _Inbox:
    """The receive queue uvicorn's protocol needs: ``put_nowait``, ``get``, ``empty``; or,
    once a listener is set (``listen``), no queue: each message goes to the listener.

    An ``asyncio.Queue`` holds four deques (about 2.5 KB) for the connection's life; this
    one reader, few-messages queue needs a list and, while the reader waits, one future.
    """

    __slots__ = ("_items", "_listener", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None
        self._listener: Callable[[Any], None] | None = None

    def put_nowait(self, item: Any) -> None:
        """Add a message and wake the reader (or hand it to the listener)."""
        if self._listener is not None:
            self._listener(item)
            return
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def listen(self, listener: Callable[[Any], None]) -> None:
        """From now on, hand every message to ``listener`` at once, those waiting first."""
        self._listener = listener
        waiting, self._items = self._items, []
        for item in waiting:
            listener(item)

    def empty(self) -> bool:
        """Whether no message is waiting."""
        return not self._items

    async def get(self) -> Any:
        """The oldest message, once there is one."""
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class _Flag:
    """What uvicorn uses of ``asyncio.Event`` for its ``writable`` flag, without the deque
    an Event allocates up front (0.7 KB per connection): waiters only while paused."""

    __slots__ = ("_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = True
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        """Whether the flag is up."""
        return self._is_set

    def set(self) -> None:
        """Raise the flag and wake every waiter."""
        self._is_set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        """Lower the flag."""
        self._is_set = False

    async def wait(self) -> bool:
        """Return once the flag is up."""
        while not self._is_set:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        return True


class LinkedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, offering itself as the connection's link."""

    # Set by the ASGI app when it keeps a detached connection open after its call returns.
    may_detach = False
    # Once detached: done when the connection's disconnect message has been handed over.
    _detached: asyncio.Future[None] | None = None
    _listener: Callable[[dict[str, Any]], None]
    _held_by_listener = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]

    def detach(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Hand every message received from now on to ``listener``, synchronously, instead
        of to the ASGI ``receive``; the connection outlives the ASGI call (see
        ``tocsin.realtime.engine.SocketIOApp``) until its ``websocket.disconnect`` has been
        handed over.

        A reader loop is a chain of suspended coroutines per connection, from uvicorn's
        task down to the frame that awaits ``receive`` (about 3 KB); a listener is none.
        """
        if not self.may_detach:
            raise RuntimeError("detach() needs an app that waits for detached connections")
        self._detached = asyncio.get_running_loop().create_future()
        self._listener = listener
        # The handshake's headers were read when the session opened (and what a connect
        # handler needs was kept, ``engine.kept_environ``); a client may have sent 30 KB.
        self.scope["headers"] = []
        self.queue.listen(self._deliver)  # type: ignore[attr-defined]
        self.resume_reading()

    def _deliver(self, message: dict[str, Any]) -> None:
        try:
            self._listener(message)
        finally:
            detached = self._detached
            if message["type"] == "websocket.disconnect" and detached and not detached.done():
                detached.set_result(None)

    async def wait_detached(self) -> None:
        """Return once a detached connection is over (at once if it never detached)."""
        if self._detached is not None:
            await self._detached

    def send_receive_event_to_app(self) -> None:
        """As uvicorn, which then stops reading until the app has taken the message; a
        detached connection's listener has taken it already (and may have asked to stop
        reading, see :meth:`pause_reading`)."""
        super().send_receive_event_to_app()
        if self._detached is not None and not self._held_by_listener:
            self._read_again()

    def pause_reading(self) -> None:
        """Stop reading from the client until :meth:`resume_reading` (a listener's backlog
        is full)."""
        self._held_by_listener = True
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read from the client again."""
        self._held_by_listener = False
        self._read_again()

    def _read_again(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def handle_connect(self, event: Request) -> None:
        """Accept the upgrade as uvicorn does, and put the link in the ASGI scope."""
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # absent when the upgrade was refused
            scope["extensions"][LINK_EXTENSION] = {"link": self}

    async def send(self, message: Any) -> None:
        """ASGI send, as uvicorn; once accepted, the handshake's request and response go.

        uvicorn keeps both for the connection's life (about twenty objects) and never reads
        them after the handshake.
        """
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            del self.request, self.response
            self._forget_handshake_parser()

    def _forget_handshake_parser(self) -> None:
        # websockets parses with a generator whose frame holds the handshake request as a
        # local for the connection's life (about twenty objects). Once the connection is
        # open, a new generator parses frames only, as the old one would from here on. A
        # client may not send frames before it has the 101 response, so nothing is
        # buffered; if something is, the old parser stays.
        conn = self.conn
        if conn.state is State.OPEN and not conn.reader.buffer:
            conn.parser = conn.parse()
            next(conn.parser)

    @property
    def open(self) -> bool:
        """True while messages can be written (handshake done, no close sent or received)."""
        return (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.conn.state is State.OPEN
        )

    def send_now(self, message: str | bytes | bytearray, frame: bytes | None = None) -> bool:
        """Write a message without awaiting, as a text frame (``str``) or a binary one
        (bytes); False (nothing written) while paused.

        ``frame`` is a text ``message`` already framed by :func:`text_frame`, shared between
        the recipients of a broadcast; it is used unless this connection negotiated
        compression. A closed connection swallows the message: its reader sees the close.
        """
        if not self.writable.is_set():
            return False
        if not self.open:
            return True
        if not isinstance(message, str):
            self.conn.send_binary(message)
            self.transport.write(b"".join(self.conn.data_to_send()))
        elif frame is None or self.conn.extensions:
            self.conn.send_text(message.encode())
            self.transport.write(b"".join(self.conn.data_to_send()))
        else:
            self.transport.write(frame)
        return True

    async def wait_writable(self) -> None:
        """Return once the transport accepts writes again (or the connection is lost)."""
        await self.writable.wait()

    def end(self) -> None:
        """Close the connection once what is written has been sent (no closing handshake)."""
        self.transport.close()

    def abort(self) -> None:
        """Drop the connection without a closing handshake (its peer stopped reading)."""
        self.transport.abort()
