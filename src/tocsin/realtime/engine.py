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
from urllib.parse import parse_qs

import engineio
import socketio
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_drivers.asgi import WebSocket
from engineio.async_drivers.asgi import translate_request as asgi_translate_request
from socketio import packet as sio_packet

from tocsin import metrics
from tocsin.auth.credentials import is_session_cookie_name
from tocsin.realtime.eiosocket import EngineSocket, SharedPacket, received_message
from tocsin.realtime.sessionids import session_prefix
from tocsin.realtime.sioguard import PacketGuard
from tocsin.realtime.timers import CoarseTimers
from tocsin.realtime.wsprotocol import link_of

log = logging.getLogger("tocsin.realtime")

NAMESPACE = "/"
# python-engineio says "Invalid transport"; this says which setting refuses it.
WEBSOCKET_ONLY_REFUSAL = (
    "Invalid transport: this server refuses HTTP long-polling (TOCSIN_WEBSOCKET_ONLY=true); "
    "connect with transports: ['websocket'], or unset TOCSIN_WEBSOCKET_ONLY"
)
# Engine.IO's ``maxPayload``: the largest message (python-engineio's default, as Node's).
MAX_PAYLOAD = 1_000_000


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
        return received_message(event)


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
    # Bytes that may wait for one client that does not read (any packet); beyond, the
    # socket is closed. Set from ``TOCSIN_MAX_SOCKET_BUFFER_BYTES`` by the Socket.IO server.
    send_buffer_limit: int = 1_048_576
    # Seconds a session may live without connecting to a Socket.IO namespace
    # (``TOCSIN_CONNECT_TIMEOUT``; Node's socket.io calls it ``connectTimeout``).
    connect_timeout: float = 45.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ping_timers: CoarseTimers[str] | None = None
        self._connect_timers: CoarseTimers[str] | None = None
        # In a worker of `tocsin serve --workers N`, session ids name it (tocsin.workerrouting).
        self.sid_prefix = session_prefix()
        # The async driver table is how python-engineio picks its WebSocket class.
        drivers: dict[str, Any] = getattr(self, "_async")  # noqa: B009 (untyped base)
        self._async = {
            **drivers,
            "websocket": GuardedWebSocket,
            "translate_request": translate_request,
        }

    def generate_id(self) -> str:
        """A new session id (python-engineio's), after this worker's prefix if any."""
        sid: str = super().generate_id()
        return self.sid_prefix + sid if self.sid_prefix else sid

    @property
    def ping_timers(self) -> CoarseTimers[str]:
        """Every socket's next PING, by sid, on one loop timer (made on first use, after the
        ping interval is final): at most a 25th of the interval late, and 1 s."""
        if self._ping_timers is None:
            resolution = min(1.0, self.ping_interval / 25)
            self._ping_timers = CoarseTimers(resolution, self._ping_due)
        return self._ping_timers

    @property
    def connect_timers(self) -> CoarseTimers[str]:
        """Each session's deadline to connect to a namespace, by sid (see
        ``connect_timeout``); cancelled by :meth:`namespace_connected` or the close."""
        if self._connect_timers is None:
            self._connect_timers = CoarseTimers(1.0, self._connect_due)
        return self._connect_timers

    def namespace_connected(self, sid: str) -> None:
        """Session ``sid`` joined a namespace: it may stay."""
        if self._connect_timers is not None:
            self._connect_timers.cancel(sid)

    def _connect_due(self, sid: str) -> None:
        socket = self.sockets.get(sid)
        if isinstance(socket, EngineSocket) and socket.open:
            metrics.ERRORS.labels("connect_timeout").inc()
            log.info("closing session %s: no Socket.IO CONNECT in %gs", sid, self.connect_timeout)
            self.start_background_task(
                socket.close, wait=False, abort=False, reason=self.reason.TRANSPORT_CLOSE
            )

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
        self.connect_timers.start(sid, self.connect_timeout)
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
                # In milliseconds: python-engineio truncates the seconds first (0.3 s → 0).
                "pingTimeout": round(self.ping_timeout * 1000),
                "pingInterval": round(
                    (self.ping_interval + self.ping_interval_grace_period) * 1000
                ),
                "maxPayload": self.max_http_buffer_size,
            },
        )

    async def handle_request(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        """Serve an Engine.IO request (as python-engineio), first refusing what a page could
        make a browser send with the user's cookie (:func:`cross_site_refusal`, 400) and
        what the protocol refuses and python-engineio lets through: a request without
        ``transport`` (400;
        python-engineio takes it for polling), and a second WebSocket for a session that
        is upgrading or upgraded (accepted, then closed, as Node does; python-engineio
        refuses it after an upgrade and runs a second upgrade during one). A poll refused
        because of ``TOCSIN_WEBSOCKET_ONLY`` says so (400)."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if scope["type"] == "http":
            refusal = cross_site_refusal(scope, query)
            if refusal is not None:
                metrics.ERRORS.labels("engineio_refused_request").inc()
            elif "transport" not in query:
                refusal = "Transport unknown"
            elif query["transport"][0] == "polling" and "polling" not in self.transports:
                refusal = WEBSOCKET_ONLY_REFUSAL
            if refusal is not None:
                environ = await translate_request(scope, receive, send)
                return await self._make_response(self._bad_request(refusal), environ)
        if scope["type"] == "websocket" and "sid" in query:
            socket = self.sockets.get(query["sid"][0])
            if socket is not None and (socket.upgrading or socket.upgraded):
                await receive()  # websocket.connect
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": 1000})
                return None
        return await super().handle_request(scope, receive, send)

    def _ok(
        self,
        packets: list[eio_packet.Packet] | None = None,
        headers: list[tuple[str, str]] | None = None,
        jsonp_index: int | None = None,
    ) -> dict[str, Any]:
        # Engine.IO answers a POST with "ok" (python-engineio: "OK").
        response: dict[str, Any] = super()._ok(packets, headers=headers, jsonp_index=jsonp_index)
        if packets is None:
            response["response"] = b"ok"
        return response

    def _method_not_found(self) -> dict[str, Any]:
        # Engine.IO answers a method other than GET, POST (and OPTIONS) with 400 (as any
        # other bad request); python-engineio with 405.
        response: dict[str, Any] = self._bad_request("Method not allowed")
        return response

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


class SocketServer(PacketGuard, socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server on :class:`EngineServer` and :class:`RoomManager`, taking
    only valid Socket.IO packets from clients (:class:`~tocsin.realtime.sioguard.PacketGuard`)."""

    def __init__(
        self,
        *,
        send_buffer_limit: int = EngineServer.send_buffer_limit,
        connect_timeout: float = EngineServer.connect_timeout,
        **kwargs: Any,
    ) -> None:
        # uvicorn's ``ws_max_size`` (serving.py) is set from the same constant.
        kwargs.setdefault("max_http_buffer_size", MAX_PAYLOAD)
        super().__init__(client_manager=RoomManager(), **kwargs)
        self.eio.send_buffer_limit = send_buffer_limit
        self.eio.connect_timeout = connect_timeout

    def _engineio_server_class(self) -> type[EngineServer]:
        return EngineServer

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        # python-socketio keeps the handshake's environ until the session ends, whether or
        # not it ever connects to a namespace: keep only what a connect handler reads.
        await super()._handle_eio_connect(eio_sid, kept_environ(environ))

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        if self.manager.sid_from_eio_sid(eio_sid, namespace or NAMESPACE) is not None:
            self.eio.namespace_connected(eio_sid)

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


# What a Socket.IO connect handler may read of a session's handshake (see kept_environ).
KEPT_ENVIRON_KEYS = frozenset(
    {"REQUEST_METHOD", "PATH_INFO", "REMOTE_ADDR", "wsgi.url_scheme", *ENVIRON_HEADERS.values()}
)


def kept_environ(environ: dict[str, Any]) -> dict[str, Any]:
    """The part of a handshake's ``environ`` kept for the session: the headers Tocsin reads
    (``ENVIRON_HEADERS``), with only the session cookies of the ``Cookie`` header, and the
    query string when it is short.

    A client can send kilobytes of other headers and cookies with each handshake; none of
    it is kept (the request itself is bounded by ``TOCSIN_MAX_HEADER_BYTES``).
    """
    kept = {key: value for key, value in environ.items() if key in KEPT_ENVIRON_KEYS}
    query = environ.get("QUERY_STRING")
    if isinstance(query, str) and len(query) <= _KEPT_QUERY_LENGTH:
        kept["QUERY_STRING"] = query
    cookie = kept.pop("HTTP_COOKIE", None)
    if isinstance(cookie, str):
        sessions = [
            pair.strip()
            for pair in cookie.split(";")
            if is_session_cookie_name(pair.strip().partition("=")[0])
        ]
        if sessions:
            kept["HTTP_COOKIE"] = "; ".join(sessions)
    return kept


# A handshake's query string is kept for connect handlers that read it (Tocsin's do not)
# when it is no longer than this.
_KEPT_QUERY_LENGTH = 2048


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
        elif scope["type"] == "http" and scope["path"].startswith(self.engineio_path):
            send = _nosniff(send)
        await super().__call__(scope, receive, send)
        if link is not None:
            await link.wait_detached()


# Sec-Fetch-Dest of the requests a Socket.IO client makes: fetch/XHR, WebSocket.
_CLIENT_FETCH_DESTS = frozenset({b"empty", b"websocket"})


def cross_site_refusal(scope: dict[str, Any], query: dict[str, list[str]]) -> str | None:
    """Why an Engine.IO HTTP request (``query``: its parsed query string) is refused
    before python-engineio sees it, if it is.

    JSONP polling (``j=``) is a ``<script>`` load: the browser sends the session cookie and
    no Origin, and any page could read the session id and then drive the session with the
    user's identity. No Socket.IO client of this protocol version needs it. Likewise a
    request whose ``Sec-Fetch-Dest`` says a page loads it as a script, image, frame or
    document is not a Socket.IO client's.
    """
    if "j" in query:
        return "JSONP polling is not supported"
    for name, value in scope["headers"]:
        if name == b"sec-fetch-dest" and value.lower() not in _CLIENT_FETCH_DESTS:
            return "not a Socket.IO client request (Sec-Fetch-Dest)"
    return None


def _nosniff(send: Any) -> Any:
    """``send`` adding ``X-Content-Type-Options: nosniff`` to the response: a polling answer
    is never to be taken for a script or a page."""

    async def send_nosniff(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            headers.append((b"x-content-type-options", b"nosniff"))
            message = {**message, "headers": headers}
        await send(message)

    return send_nosniff
