"""uvicorn's HTTP protocol with a bound on a request's headers, in bytes and in time.

uvicorn (with httptools) collects a request's headers for as long as they come: one
request whose header block never ends is held whole in memory, and a client that sends
its headers slowly, or nothing at all, holds a connection for ever. Node's HTTP server
refuses headers over 16 KB (431) and closes a request whose headers took over 60 s (408);
:class:`GuardedHttpToolsProtocol` does the same, with ``TOCSIN_MAX_HEADER_BYTES`` and
``TOCSIN_HEADER_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tocsin import metrics


class _HeadersTooLarge(Exception):
    """Raised from a parser callback to stop parsing a request whose headers are too large."""


def _response(status: int, reason: str, message: str) -> bytes:
    body = message.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode() + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; a request's line and headers are bounded in size and
    must arrive within a time (from the connection, or the end of the previous response).
    """

    def __init__(
        self,
        *args: Any,
        max_header_bytes: int = 32_768,
        header_timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes = max_header_bytes
        self.header_timeout = header_timeout
        # Two counts of a request's header bytes: what the parser reported (exact, but a
        # header is reported only once the next begins) and what arrived while the headers
        # were incomplete (the bytes of a header block that never ends).
        self._header_bytes = 0
        self._pending_bytes = 0
        self._in_headers = True
        self._reading_body = False
        self._upgraded = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # -- the time bound -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """As uvicorn; the first request's headers are due within ``header_timeout``."""
        super().connection_made(transport)
        self._await_headers()

    def on_response_complete(self) -> None:
        """As uvicorn; the next request's headers are due within ``header_timeout``.

        uvicorn's own keep-alive timer (``timeout_keep_alive``) closes an idle connection
        sooner, but any byte received cancels it: this one runs until the headers end.
        """
        super().on_response_complete()
        if not self.transport.is_closing() and not self._reading_body:
            self._await_headers()

    def on_message_complete(self) -> None:
        """As uvicorn; if the response went before the body had all arrived (a refusal),
        the next request's headers are due from now."""
        self._reading_body = False
        super().on_message_complete()
        upgrading = self._upgraded or self.parser.should_upgrade()  # before the upgrade
        if self._between() and not upgrading and not self.transport.is_closing():
            self._await_headers()

    def handle_websocket_upgrade(self) -> None:
        """As uvicorn: the connection is the WebSocket protocol's from now on."""
        self._upgraded = True
        self._stop_header_timer()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        """As uvicorn, and stop the header timer."""
        self._stop_header_timer()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._header_bytes = 0
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._upgraded or self.transport.is_closing() or not self._between():
            return
        metrics.ERRORS.labels("http_header_timeout").inc()
        self._refuse(408, "Request Timeout", "request headers took too long")

    def _between(self) -> bool:
        """Whether no request is being served (the last one's response is complete)."""
        return self.cycle is None or self.cycle.response_complete

    # -- the size bound -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        """As uvicorn; count this request's header bytes from zero."""
        self._header_bytes = self._pending_bytes = 0
        self._in_headers = True
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        """As uvicorn, counting the bytes."""
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """As uvicorn, counting the bytes (and 4 for ``: `` and the line end)."""
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """As uvicorn; the headers arrived in time."""
        self._in_headers = False
        self._reading_body = True
        self._stop_header_timer()
        super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes:
            self._too_large()
            raise _HeadersTooLarge

    def _too_large(self) -> None:
        metrics.ERRORS.labels("http_headers_too_large").inc()
        self._refuse(431, "Request Header Fields Too Large", "request headers too large")

    # -- refusing -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """As uvicorn, once nothing was refused on this connection; refused once the bytes
        received while a request's headers are incomplete pass ``max_header_bytes``."""
        if self._refused:
            return
        super().data_received(data)
        if self._in_headers and not self._refused:
            self._pending_bytes += len(data)
            if self._pending_bytes > self.max_header_bytes:
                self._too_large()

    def send_400_response(self, msg: str) -> None:
        """As uvicorn, unless the request was refused already (a parser callback raised)."""
        if not self._refused:
            super().send_400_response(msg)

    def _refuse(self, status: int, reason: str, message: str) -> None:
        self._refused = True
        self._stop_header_timer()
        if not self.transport.is_closing():
            self.transport.write(_response(status, reason, message))
            self.transport.close()


def guarded_http_protocol(max_header_bytes: int, header_timeout: float) -> Any:
    """:class:`GuardedHttpToolsProtocol` with these bounds, for uvicorn's ``http`` option.

    A partial of the module's class, not a class made here: with ``--workers``, uvicorn
    pickles its configuration into each worker process.
    """
    return functools.partial(
        GuardedHttpToolsProtocol, max_header_bytes=max_header_bytes, header_timeout=header_timeout
    )
