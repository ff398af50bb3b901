"""How Tocsin asks uvicorn to serve it: the options every entry point shares, and the
supervisor of ``tocsin serve --workers N``."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from typing import Any

from tocsin.config import ConfigError, Settings
from tocsin.httpguard import guarded_http_protocol
from tocsin.logredact import uvicorn_log_config
from tocsin.realtime.engine import MAX_PAYLOAD
from tocsin.realtime.sessionids import WORKER_SOCKETS_ENV, socket_path
from tocsin.realtime.wsprotocol import LinkedWebSocketProtocol
from tocsin.workerrouting import worker_routing_http_protocol

# The longest path a unix socket may have (108 bytes with the final NUL on Linux), less room.
_MAX_SOCKET_PATH = 100


def uvicorn_options(settings: Settings, *, workers: int = 1) -> dict[str, Any]:
    """uvicorn ``Config`` keywords for ``settings`` (not the app, address or workers).

    With ``workers`` > 1, each worker's HTTP protocol hands a request for another worker's
    session to that worker (:mod:`tocsin.workerrouting`); one process needs none of it.
    """
    if workers > 1 and settings.websocket_enabled:
        http = worker_routing_http_protocol(
            settings.max_header_bytes, settings.header_timeout, settings.websocket_path
        )
    else:
        http = guarded_http_protocol(settings.max_header_bytes, settings.header_timeout)
    return {
        "log_level": settings.log_level,
        # The access log without Engine.IO session ids (sid=… in the query string).
        "log_config": uvicorn_log_config(settings.log_level),
        "lifespan": "on",
        # uvicorn closes WebSockets (1012, service restart) as soon as it stops accepting;
        # clients reconnect elsewhere while in-flight requests drain within this bound.
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        "http": http,
        "ws": LinkedWebSocketProtocol,
        # Engine.IO refuses a larger message anyway, after uvicorn buffered it (16 MB by
        # default): refuse it while it arrives.
        "ws_max_size": MAX_PAYLOAD + 16,
        "ws_per_message_deflate": settings.websocket_compression,
        # Engine.IO has its own heartbeat (PING/PONG packets, timed per socket); a second,
        # WebSocket-level ping would cost a timer per connection and find nothing more.
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
    }


def serve_workers(settings: Settings, workers: int, fd: int | None = None) -> None:
    """Serve ``tocsin.app:create_app`` from ``workers`` processes sharing one listening
    socket (inherited ``fd``, else ``settings.host``/``port``), until a signal stops them.

    The kernel gives each connection to any worker; each request of a long-polling session
    reaches the worker holding it through :mod:`tocsin.workerrouting`, over unix sockets in a
    private (0700) directory made here and removed at the end. Workers read their settings
    from the environment.

    Raises:
        ConfigError: the temporary directory's path is too long for unix sockets.
        StartupError: the database cannot be opened or migrated.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if settings.migrate_on_start:
        _migrate(settings)
    options = uvicorn_options(settings, workers=workers)
    if fd is None:
        options.update(host=settings.host, port=settings.port)
    # A worker answers uvicorn's health checks once it has imported Tocsin: seconds on a
    # busy machine, where uvicorn's 5 s would kill and respawn workers that are starting.
    options.setdefault("timeout_worker_healthcheck", 30)
    config = uvicorn.Config("tocsin.app:create_app", factory=True, workers=workers, **options)
    directory = tempfile.mkdtemp(prefix="tocsin-workers-")
    try:
        if len(socket_path(directory, 2**22)) > _MAX_SOCKET_PATH:
            raise ConfigError(
                f"TMPDIR: {directory} is too long a path for the workers' unix sockets; "
                "set TMPDIR to a shorter directory (e.g. /tmp)"
            )
        # uvicorn's own fd= takes an inherited socket for a UNIX one (no TCP_NODELAY: each
        # small response would wait for a delayed ACK); a socket built from the fd knows
        # its family.
        listener = socket.socket(fileno=fd) if fd is not None else config.bind_socket()
        listener.set_inheritable(True)
        os.environ[WORKER_SOCKETS_ENV] = directory
        Multiprocess(config, sockets=[listener]).run()
    finally:
        os.environ.pop(WORKER_SOCKETS_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def _migrate(settings: Settings) -> None:
    """Bring the schema up to date once, before the workers start (each then finds nothing
    to do): workers upgrading a new SQLite file at the same time collide ("database is
    locked").

    Raises:
        StartupError: the database cannot be opened or migrated.
    """
    from tocsin.startup import cannot_open
    from tocsin.store.sql import SqlStore

    async def upgrade() -> None:
        store = SqlStore(settings.database_url)
        try:
            await store.open(migrate=True)
        finally:
            await store.close()

    try:
        asyncio.run(upgrade())
    except Exception as exc:
        raise cannot_open("TOCSIN_DATABASE_URL", settings.database_url, exc) from exc
