"""How Tocsin asks uvicorn to serve it: the options every entry point shares."""

from __future__ import annotations

from typing import Any

from tocsin.config import Settings
from tocsin.httpguard import guarded_http_protocol
from tocsin.logredact import uvicorn_log_config
from tocsin.realtime.engine import MAX_PAYLOAD
from tocsin.realtime.wsprotocol import LinkedWebSocketProtocol


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn ``Config`` keywords for ``settings`` (not the app, address or workers)."""
    return {
        "log_level": settings.log_level,
        # The access log without Engine.IO session ids (sid=… in the query string).
        "log_config": uvicorn_log_config(),
        "lifespan": "on",
        # uvicorn closes WebSockets (1012, service restart) as soon as it stops accepting;
        # clients reconnect elsewhere while in-flight requests drain within this bound.
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        "http": guarded_http_protocol(settings.max_header_bytes, settings.header_timeout),
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
