"""Tocsin's layer on python-socketio / python-engineio: a guarded transport, sockets that
write without a task (:mod:`tocsin.realtime.eiosocket`), linear room bookkeeping, and a
fan-out that encodes and frames an event once for all its recipients.

python-socketio emits to a room by creating one task per recipient and awaiting them all;
the dispatcher instead builds a notification's WebSocket frame once (``event_packet``) and
hands the same bytes to each recipient's socket, synchronously (``EngineSocket.enqueue``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import engineio
import socketio
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_drivers.asgi import WebSocket
from engineio.async_drivers.asgi import translate_request as asgi_translate_request
from socketio import packet as sio_packet

from tocsin.realtime.eiosocket import EngineSocket, SharedPacket, received_text
from tocsin.realtime.timers import CoarseTimers
from tocsin.realtime.wsprotocol import link_of

log = logging.getLogger("tocsin.realtime")

NAMESPACE = "/"


class GuardedWebSocket(WebSocket):  # type: ignore[misc]
    """The ASGI WebSocket of python-engineio, refusing frames a Tocsin client never sends.

    python-engineio's reader raises on an empty frame or a non-digit packet type and then
    leaves the socket registered until its ping times out; a refused frame is reported here
    as the client going away, which Engine.IO handles as a clean close. It also carries the
    connection's link, when the ASGI server offers one, to :class:`EngineSocket`.
    """

    link: Any = None

    async def __call__(self, environ: dict[str, Any]) -> Any:
        """Accept the WebSocket and run Engine.IO's handler on it (as the base class)."""
        self.link = link_of(environ["asgi.scope"])
        self.asgi_receive = environ["asgi.receive"]
        self.asgi_send = environ["asgi.send"]
        await self.asgi_send({"type": "websocket.accept"})
        await self.handler(self)
        return ""

    async def wait(self) -> Any:
        """The next frame, or None (closed) when it is refused.

        Raises:
            OSError: the connection is gone (as the base class).
        """
        # Read here rather than through the base class: a coroutine frame less is kept
        # waiting per connection.
        event = await self.asgi_receive()
        if event["type"] != "websocket.receive":
            raise OSError("websocket closed")
        return received_text(event)


# Headers of a WebSocket handshake copied into ``environ`` (see ``translate_request``).
ENVIRON_HEADERS = {
    name.encode(): "HTTP_" + name.upper().replace("-", "_")
    for name in (
        "host",
        "origin",
        "upgrade",
        "connection",
        "cookie",
        "authorization",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
    )
}


async def translate_request(scope: dict[str, Any], receive: Any, send: Any) -> dict[str, Any]:
    """python-engineio's ASGI ``environ``; for a WebSocket, only what is read from it.

    python-socketio keeps a socket's ``environ`` for the connection's life. python-engineio's
    translation defines a request-body class on every call and puts an instance in
    ``environ["wsgi.input"]`` (2.5 KB per connection); a WebSocket has no body to read. It
    also copies every header, where a browser sends a dozen: this keeps the headers that
    python-engineio (origin checks, upgrades) and Tocsin (credentials) read,
    ``ENVIRON_HEADERS``, with the same keys and values as there.
    """
    if scope["type"] != "websocket":
        return await asgi_translate_request(scope, receive, send)  # type: ignore[no-any-return]
    event = await receive()
    if event["type"] != "websocket.connect":
        return {}
    try:
        query_string = scope.get("query_string", b"").decode()
    except UnicodeDecodeError:
        query_string = ""
    client = scope.get("client")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": scope["path"],
        "QUERY_STRING": query_string,
        "REMOTE_ADDR": client[0] if client else "127.0.0.1",
        "asgi.receive": receive,
        "asgi.send": send,
        "asgi.scope": scope,
    }
    for raw_name, raw_value in scope["headers"]:
        key = ENVIRON_HEADERS.get(raw_name.lower())
        if key is None:
            continue
        try:
            value = raw_value.decode()
        except UnicodeDecodeError:
            continue
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ["wsgi.url_scheme"] = environ.get("HTTP_X_FORWARDED_PROTO", "http")
    return environ


class EngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """python-engineio's server on :class:`GuardedWebSocket` and :class:`EngineSocket`."""

    start_service_task: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ping_timers: CoarseTimers[str] | None = None
        # The async driver table is how python-engineio picks its WebSocket class.
        drivers: dict[str, Any] = getattr(self, "_async")  # noqa: B009 (untyped base)
        self._async = {
            **drivers,
            "websocket": GuardedWebSocket,
            "translate_request": translate_request,
        }

    @property
    def ping_timers(self) -> CoarseTimers[str]:
        """Every socket's next PING, by sid, on one loop timer (made on first use, after the
        ping interval is final): at most a 25th of the interval late, and 1 s."""
        if self._ping_timers is None:
            resolution = min(1.0, self.ping_interval / 25)
            self._ping_timers = CoarseTimers(resolution, self._ping_due)
        return self._ping_timers

    def _ping_due(self, sid: str) -> None:
        socket = self.sockets.get(sid)
        if isinstance(socket, EngineSocket):
            socket.ping()

    async def _handle_connect(
        self, environ: dict[str, Any], transport: str, jsonp_index: Any = None
    ) -> Any:
        # python-engineio's handshake, step for step, with an EngineSocket: the base class
        # builds its socket class by name and has no hook to choose another.
        self._start_service()
        sid = self.generate_id()
        socket = EngineSocket(self, sid)
        self.sockets[sid] = socket
        await socket.send(self._open_packet(sid, transport))
        refusal = await self._trigger_event("connect", sid, environ, run_async=False)
        if refusal is not None and refusal is not True:
            del self.sockets[sid]
            return self._unauthorized(refusal or None)
        socket.schedule_ping()
        if transport == "websocket":
            if environ["asgi.scope"]["type"] == "websocket":
                # Straight to the handler: python-engineio goes through handle_get_request
                # and _upgrade_websocket, two more frames kept for each connection's life.
                response = await GuardedWebSocket(socket.websocket_handler, self)(environ)
            else:
                response = await socket.handle_get_request(environ)
            if socket.closed:
                self.sockets.pop(sid, None)
            return response
        socket.connected = True
        try:
            packets = await socket.poll()
        except eio_exceptions.QueueEmpty:
            return self._bad_request()
        return self._ok(packets, headers=self._cookie_headers(sid), jsonp_index=jsonp_index)

    def _cookie_headers(self, sid: str) -> list[tuple[str, str]] | None:
        if not self.cookie:
            return None
        options = (
            self.cookie
            if isinstance(self.cookie, dict)
            else {"name": self.cookie, "path": "/", "SameSite": "Lax"}
        )
        return [("Set-Cookie", self._generate_sid_cookie(sid, options))]

    def _open_packet(self, sid: str, transport: str) -> eio_packet.Packet:
        return eio_packet.Packet(
            eio_packet.OPEN,
            {
                "sid": sid,
                "upgrades": self._upgrades(sid, transport),
                "pingTimeout": int(self.ping_timeout * 1000),
                "pingInterval": int(self.ping_interval + self.ping_interval_grace_period) * 1000,
                "maxPayload": self.max_http_buffer_size,
            },
        )

    def _start_service(self) -> None:
        if self.start_service_task:
            self.start_service_task = False
            self.service_task_handle = self.start_background_task(self._service_task)

    async def _service_task(self) -> None:
        """Close the sockets whose client stopped answering pings, in one scan each cycle.

        python-engineio's scan visits one socket per ``ping_timeout / sockets`` and creates
        a task for each visit (500 a second with 10,000 sockets).
        """
        self.service_task_event = self.create_event()
        while not self.service_task_event.is_set():
            try:
                async with asyncio.timeout(self.ping_timeout / 2):
                    await self.service_task_event.wait()
                return
            except TimeoutError:
                pass
            now = time.time()
            for sid, socket in list(self.sockets.items()):
                if socket.closed:
                    self.sockets.pop(sid, None)
                elif (
                    not socket.closing
                    and socket.last_ping
                    and now - socket.last_ping > self.ping_timeout
                ):
                    self.start_background_task(socket.check_ping_timeout)


class RoomManager(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's manager with an index of each socket's rooms.

    The base class finds a leaving socket's rooms by copying and scanning the whole room
    table, which makes N disconnects cost O(N²); the index makes each one O(its rooms).
    It also calls ``on_connected(sid)`` once a socket's CONNECT packet has been sent.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rooms_of: dict[tuple[str, str], set[Any]] = defaultdict(set)
        self.on_connected: Callable[[str], None] | None = None

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> None:
        """Enter a room (see python-socketio), and index it."""
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._rooms_of[(namespace, sid)].add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        """Leave a room (see python-socketio), and unindex it."""
        super().basic_leave_room(sid, namespace, room)
        rooms = self._rooms_of.get((namespace, sid))
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._rooms_of[(namespace, sid)]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        """The rooms of ``sid`` (not the internal ``None`` room)."""
        return [room for room in self._rooms_of.get((namespace, sid), ()) if room is not None]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """Forget ``sid``: what the base class does, with its rooms found through the index."""
        for room in list(self._rooms_of.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            waiting = pending.get(namespace)
            if waiting is not None and sid in waiting:
                waiting.remove(sid)
                if not waiting:
                    del pending[namespace]

    async def connect(self, sid: str, namespace: str) -> Any:
        """Mark ``sid`` connected (its CONNECT packet is already sent) and tell the hook."""
        result = await super().connect(sid, namespace)
        if self.on_connected is not None:
            self.on_connected(sid)
        return result


class SocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server on :class:`EngineServer` and :class:`RoomManager`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(client_manager=RoomManager(), **kwargs)

    def _engineio_server_class(self) -> type[EngineServer]:
        return EngineServer

    @property
    def rooms(self) -> RoomManager:
        """The manager, typed."""
        manager: RoomManager = self.manager
        return manager

    def transport(self, sid: str) -> EngineSocket | None:
        """The Engine.IO socket under Socket.IO ``sid``, if it is still there."""
        eio_sid = self.manager.eio_sid_from_sid(sid, NAMESPACE)
        socket = self.eio.sockets.get(eio_sid) if eio_sid is not None else None
        return socket if isinstance(socket, EngineSocket) else None


def event_packet(event: str, payload: Any) -> SharedPacket:
    """One Socket.IO EVENT for the default namespace, encoded and framed once."""
    # binary=False: Tocsin's payloads are JSON; python-socketio would otherwise walk them
    # looking for bytes.
    encoded = sio_packet.Packet(sio_packet.EVENT, data=[event, payload], binary=False).encode()
    return SharedPacket(encoded)


class SocketIOApp(socketio.ASGIApp):  # type: ignore[misc]
    """python-socketio's ASGI app; a WebSocket whose link detached stays open after it.

    uvicorn closes a connection when its ASGI call returns. A socket on a linked WebSocket
    detaches (:meth:`EngineSocket.websocket_handler`) and its call chain returns; this app
    then waits for the connection to end: one suspended frame per connection instead of the
    whole chain (ASGI app, Engine.IO request, connect, WebSocket, reader).
    """

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve as python-socketio; then, for a detached WebSocket, wait until it is closed."""
        link = link_of(scope) if scope["type"] == "websocket" else None
        if link is not None:
            link.may_detach = True
        await super().__call__(scope, receive, send)
        if link is not None:
            await link.wait_detached()
