"""One port, several worker processes, long-polling included: a request for a session that
another worker holds is handed to that worker, connection and all.

Engine.IO long-polling, and the WebSocket upgrade that follows it, need every request of a
session to reach the process holding the session; under ``tocsin serve --workers N`` the
kernel gives each connection to any worker. Session ids name their worker
(:mod:`tocsin.realtime.sessionids`). When a request's headers are in and its ``sid`` is
another worker's, :class:`WorkerRoutingHttpProtocol` stops reading and sends the owner, over the
owner's unix socket, the connection's descriptor (``SCM_RIGHTS``) with the bytes of the
request read so far (:mod:`tocsin.workerchannel`). The owner makes the connection one of
its own, as if it had accepted it, and parses the request again: polls, posts and WebSocket
upgrades are then served where the session is, with the owner's own bounds (header size and
time, payload size), the client's real address, and no proxying: what follows on that
connection costs nothing more. A worker that is gone (or whose pid names no socket)
answers like an unknown session: 400, and the client opens a new one.

A connection is handed over only between requests, with nothing left to write and the
request read from its first byte (no client of Engine.IO pipelines): otherwise, or under
TLS (whose state is the process's), the request is served where it is (an unknown session).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any
from urllib.parse import parse_qs

import httptools

from tocsin.httpguard import GuardedHttpToolsProtocol
from tocsin.realtime.sessionids import owner_of
from tocsin.workerchannel import HANDOFFS, current_worker, hand_over


class WorkerRoutingHttpProtocol(GuardedHttpToolsProtocol):
    """The guarded HTTP protocol of a worker: a request for another worker's session is
    handed to that worker (see the module's docstring)."""

    def __init__(self, *args: Any, engineio_path: str = "/socket.io/", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Without its trailing slash: proxies (Next.js rewrites) send ``/socket.io?EIO=4…``.
        self._engineio_path = engineio_path.rstrip("/").encode()
        self._worker = current_worker()
        # The request being read, chunk by chunk from its first byte, while its headers
        # come (None when it did not start a chunk: after a pipelined one).
        self._raw: list[bytes] | None = None
        self._collecting = False
        self._chunk = b""
        self._chunk_starts_request = True
        self._message_open = False
        self._handed_off = False
        self._replay: bytes | None = None
        if self._worker is not None:
            self._worker.protocol_made(self)

    def replay(self, request: bytes) -> None:
        """Parse ``request`` (what another worker read of it) as soon as the connection is
        made, before anything more is read from the client."""
        self._replay = request

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """As uvicorn; a handed-over connection's request is parsed at once."""
        super().connection_made(transport)
        request, self._replay = self._replay, None
        if request:
            self.data_received(request)

    def data_received(self, data: bytes) -> None:
        """As uvicorn, keeping the bytes of a request's head while they come."""
        if self._handed_off:
            return
        self._chunk = data
        self._chunk_starts_request = not self._message_open
        if self._collecting and self._raw is not None:
            self._raw.append(data)
        try:
            super().data_received(data)
        finally:
            self._chunk = b""  # not kept for the connection's life (a body can be large)

    def on_message_begin(self) -> None:
        """As uvicorn; the request is kept if it began its chunk."""
        if self._handed_off:
            return
        self._raw = [self._chunk] if self._chunk_starts_request else None
        self._chunk_starts_request = False  # a second request in the same chunk is not
        self._collecting = self._message_open = True
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        """As uvicorn (nothing once handed over)."""
        if not self._handed_off:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """As uvicorn (nothing once handed over)."""
        if not self._handed_off:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """Hand the connection over if the request is for another worker's session; else
        as uvicorn."""
        if self._handed_off:
            return
        self._collecting = False
        owner = self._foreign_owner()
        if owner is not None:
            if self._movable():
                self._hand_off(owner)
                return
            HANDOFFS.labels("not_movable").inc()
        self._raw = None
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        """As uvicorn (nothing once handed over: the owner reads the body)."""
        if not self._handed_off:
            super().on_body(body)

    def on_message_complete(self) -> None:
        """As uvicorn (nothing once handed over)."""
        self._message_open = False
        if not self._handed_off:
            super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        """As uvicorn (nothing once handed over: the owner upgrades)."""
        if not self._handed_off:
            super().handle_websocket_upgrade()

    def shutdown(self) -> None:
        """As uvicorn; the worker takes no more connections. A connection being handed over
        is the handoff's to finish."""
        if self._worker is not None:
            self._worker.stop()
        if not self._handed_off:
            super().shutdown()

    def _foreign_owner(self) -> int | None:
        """The pid of the other worker whose session this request is for, if any."""
        if self._worker is None or b"sid=" not in self.url:
            return None
        try:
            url = httptools.parse_url(self.url)
        except httptools.HttpParserInvalidURLError:
            return None
        base = self._engineio_path
        if not (url.path == base or url.path.startswith(base + b"/")) or not url.query:
            return None
        # As python-engineio reads it: the first sid.
        sids = parse_qs(url.query.decode("latin-1")).get("sid")
        owner = owner_of(sids[0]) if sids else None
        return owner if owner != self._worker.pid else None

    def _movable(self) -> bool:
        """Whether the connection can change process now: the request was read from its
        first byte, no earlier response is under way or unsent, and no TLS state."""
        return (
            self._raw is not None
            and (self.cycle is None or self.cycle.response_complete)
            and not self.pipeline
            and self.transport.get_write_buffer_size() == 0
            and self.scheme == "http"
        )

    def _hand_off(self, owner: int) -> None:
        assert self._worker is not None and self._raw is not None
        self._handed_off = True
        self._refused = True  # the guard writes nothing more on this connection
        self._stop_header_timer()
        self._unset_keepalive_if_required()
        self.flow.pause_reading()
        request, self._raw = b"".join(self._raw), None
        task = self.loop.create_task(
            hand_over(self.transport, request, self._worker.path_of(owner))
        )
        # uvicorn waits for its tasks when it shuts down.
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def worker_routing_http_protocol(
    max_header_bytes: int, header_timeout: float, engineio_path: str
) -> Any:
    """:class:`WorkerRoutingHttpProtocol` with these bounds and Engine.IO's path
    (``WEBSOCKET_PATH``), for uvicorn's ``http`` option in each worker (a partial: uvicorn
    pickles it)."""
    path = engineio_path if engineio_path.startswith("/") else "/" + engineio_path
    path = path if path.endswith("/") else path + "/"
    return functools.partial(
        WorkerRoutingHttpProtocol,
        max_header_bytes=max_header_bytes,
        header_timeout=header_timeout,
        engineio_path=path,
    )
