"""The official protocol suites' test application, on Tocsin's transport.

    .venv/bin/python -m tests.conformance.server --port 3000 [--host localhost] [--compression]

serves, with the settings the suites' READMEs give (``pingInterval`` 300 ms,
``pingTimeout`` 200 ms, ``maxPayload`` 1,000,000, any Origin):

- at ``/socket.io/``, the Socket.IO test application of ``socketio/socket.io-protocol``:
  on connection to ``/`` or ``/custom``, ``emit("auth", <handshake auth>)``; ``message``
  answered with ``message-back`` and the same arguments; ``message-with-ack`` acked with
  its arguments;
- at ``/engine.io/``, the Engine.IO echo application of ``socketio/engine.io-protocol``:
  every message sent back as it came (text or binary).

It is wired as ``tocsin serve`` wires Tocsin: uvicorn with :func:`tocsin.serving.uvicorn_options`
(the linked WebSocket protocol), and Tocsin's ``SocketServer`` / ``EngineServer`` /
``SocketIOApp``, not stock python-socketio. ``tests/conformance/`` runs the same
application in-process; README.md there says how to point the official suites at it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

import engineio
import uvicorn

from tocsin.config import Settings
from tocsin.realtime.engine import EngineServer, SocketIOApp, SocketServer
from tocsin.serving import uvicorn_options

PING_INTERVAL = 0.3
PING_TIMEOUT = 0.2
MAX_PAYLOAD = 1_000_000
CONNECT_TIMEOUT = 1.0  # the Socket.IO suite's connectTimeout (1,000 ms)
CUSTOM_NAMESPACE = "/custom"

_TRANSPORT_OPTIONS: dict[str, Any] = {
    "async_mode": "asgi",
    "ping_interval": PING_INTERVAL,
    "ping_timeout": PING_TIMEOUT,
    "max_http_buffer_size": MAX_PAYLOAD,
    "cors_allowed_origins": "*",
}


def socketio_server() -> SocketServer:
    """The Socket.IO test application of ``socket.io-protocol/test-suite``."""
    sio = SocketServer(
        logger=False, engineio_logger=False, connect_timeout=CONNECT_TIMEOUT, **_TRANSPORT_OPTIONS
    )
    # Tocsin's way of speaking first: after the CONNECT packet has gone (always_connect is
    # off, as in Tocsin), through the manager's hook, not from inside the connect handler.
    greetings: dict[str, tuple[str, Any]] = {}
    tasks: set[asyncio.Task[None]] = set()

    def on_connected(sid: str) -> None:
        greeting = greetings.pop(sid, None)
        if greeting is None:
            return
        namespace, auth = greeting
        task = asyncio.get_running_loop().create_task(
            sio.emit("auth", auth, to=sid, namespace=namespace)
        )
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    sio.rooms.on_connected = on_connected

    def greeter(namespace: str) -> Any:
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            greetings[sid] = (namespace, {} if auth is None else auth)

        return connect

    async def disconnect(sid: str, reason: Any = None) -> None:
        greetings.pop(sid, None)

    async def message(sid: str, *args: Any) -> None:
        await sio.emit("message-back", args, to=sid)

    async def message_with_ack(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    for namespace in ("/", CUSTOM_NAMESPACE):
        sio.on("connect", greeter(namespace), namespace=namespace)
        sio.on("disconnect", disconnect, namespace=namespace)
    sio.on("message", message)
    sio.on("message-with-ack", message_with_ack)
    return sio


def engineio_server() -> EngineServer:
    """The Engine.IO echo application of ``engine.io-protocol/test-suite``."""
    eio = EngineServer(logger=False, **_TRANSPORT_OPTIONS)

    async def message(sid: str, data: Any) -> None:
        await eio.send(sid, data)

    eio.on("message", message)
    return eio


def create_app() -> SocketIOApp:
    """Both applications in one ASGI app: Socket.IO at ``/socket.io/``, Engine.IO at
    ``/engine.io/`` (``SocketIOApp`` keeps either's detached WebSockets open)."""
    echo = engineio.ASGIApp(engineio_server(), engineio_path="engine.io")
    return SocketIOApp(socketio_server(), other_asgi_app=echo, socketio_path="socket.io")


def settings(*, compression: bool = False, log_level: str = "warning") -> Settings:
    """The settings whose uvicorn options the server uses (as ``tocsin serve``)."""
    return Settings(websocket_compression=compression, log_level=log_level)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.conformance.server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument(
        "--host", default="localhost", help="default: localhost (IPv4 and IPv6, as Node resolves)"
    )
    parser.add_argument(
        "--compression",
        action="store_true",
        help="accept permessage-deflate (TOCSIN_WEBSOCKET_COMPRESSION)",
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    options = uvicorn_options(settings(compression=args.compression, log_level=args.log_level))
    uvicorn.run(create_app(), host=args.host, port=args.port, **options)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
