"""A minimal Socket.IO v5 client over Engine.IO v4 WebSocket, one asyncio protocol per socket.

Lighter than any Socket.IO client library, so that one generator core can drive thousands of
sockets: the HTTP upgrade and the RFC 6455 framing are written by hand on a plain
``asyncio.Protocol`` (no permessage-deflate is offered, so the server never compresses), and a
received event frame costs one ``perf_counter()`` call and one list append; frames are decoded
only after the measurement. Client frames use an all-zero mask key (legal, and free to apply).

Protocol, after ``GET /socket.io/?EIO=4&transport=websocket``: the server's ``0{...}`` (open)
is answered with ``40{"token": ...}`` (CONNECT with auth); ``40{"sid":...}`` means connected and
``44{...}`` refused; ``2`` (ping) is answered ``3``; ``42[...]`` are events.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

_OP_CONT, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0, 1, 2, 8, 9, 10
_ZERO_MASK = b"\x00\x00\x00\x00"
_CLOSE_NORMAL = b"\x03\xe8"
_IGNORED_EVENT = b'42["clients-count"'


def mint_token(secret: str, user_id: str, tenant_id: str, ttl: int = 3600) -> str:
    """A HS256 JWT with the claims `tocsin token` puts in (``sub``, ``id``, ``tenantId``)."""

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    now = int(time.time())
    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    claims = {"sub": user_id, "id": user_id, "tenantId": tenant_id, "iat": now, "exp": now + ttl}
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = header + b"." + body
    signature = b64(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()


def encode_frame(payload: bytes, opcode: int = _OP_TEXT) -> bytes:
    """One final, masked client frame (mask key 0000, so the payload goes as it is)."""
    length = len(payload)
    if length < 126:
        head = bytes((0x80 | opcode, 0x80 | length))
    elif length < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
    return head + _ZERO_MASK + payload


@dataclass
class Receipts:
    """Every event frame received by any socket: (perf_counter time, socket index, raw text).

    ``clients-count`` frames are not kept. :meth:`wait` returns once ``count`` frames arrived.
    """

    items: list[tuple[float, int, bytes]] = field(default_factory=list)
    _target: int = 0
    _reached: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, when: float, index: int, frame: bytes) -> None:
        """Record one event frame (the hot path: keep it cheap)."""
        self.items.append((when, index, frame))
        if self._target and len(self.items) >= self._target:
            self._target = 0
            self._reached.set()

    def clear(self) -> None:
        """Forget what was received so far."""
        self.items = []

    async def wait(self, count: int, within: float) -> bool:
        """Wait until ``count`` frames were received, at most ``within`` seconds."""
        if len(self.items) >= count:
            return True
        self._reached.clear()
        self._target = count
        try:
            await asyncio.wait_for(self._reached.wait(), within)
        except TimeoutError:
            self._target = 0
            return False
        return True

    def decoded(self) -> list[tuple[float, int, str, dict[str, Any]]]:
        """(time, socket index, event name, payload) of every frame kept."""
        out = []
        for when, index, frame in self.items:
            try:
                name, data = json.loads(frame[2:])[:2]
            except (ValueError, TypeError):
                continue
            if isinstance(data, dict):
                out.append((when, index, str(name), data))
        return out


class SioSocket(asyncio.Protocol):
    """One Socket.IO connection, authenticated with ``auth.token`` on CONNECT."""

    def __init__(
        self, index: int, host: str, port: int, token: str, receipts: Receipts, path: str
    ) -> None:
        self.index = index
        self.receipts = receipts
        self._request = (
            f"GET {path}/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self._connect = b"40" + json.dumps({"token": token}).encode()
        self._buffer = bytearray()
        self._upgraded = False
        self._fragments: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.connected: asyncio.Future[float] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:end]).split(b"\r\n", 1)[0]
            del buf[: end + 4]
            if b" 101 " not in status:
                self._fail(f"upgrade refused: {status.decode(errors='replace')}")
                return
            self._upgraded = True
        while len(buf) >= 2:
            length = buf[1] & 0x7F
            offset = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length = int.from_bytes(buf[2:4], "big")
                offset = 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length = int.from_bytes(buf[2:10], "big")
                offset = 10
            if len(buf) < offset + length:
                return
            head = buf[0]
            payload = bytes(buf[offset : offset + length])
            del buf[: offset + length]
            self._frame(head & 0x80, head & 0x0F, payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}")
        if not self.closed.done():
            self.closed.set_result(None)

    # -- frames ----------------------------------------------------------------------

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode == _OP_CONT or (opcode in (_OP_TEXT, _OP_BINARY) and not fin):
            self._fragments.append(payload)
            if not fin:
                return
            payload, self._fragments = b"".join(self._fragments), []
            opcode = _OP_TEXT
        if opcode == _OP_TEXT:
            self._packet(payload)
        elif opcode == _OP_PING:
            self._send(payload, _OP_PONG)
        elif opcode == _OP_CLOSE and self.transport is not None:
            self.transport.close()

    def _packet(self, packet: bytes) -> None:
        kind = packet[:2]
        if kind == b"42":
            if not packet.startswith(_IGNORED_EVENT):
                self.receipts.add(time.perf_counter(), self.index, packet)
        elif packet == b"2":
            self._send(b"3")
        elif kind == b"40":
            if not self.connected.done():
                self.connected.set_result(time.perf_counter())
        elif packet[:1] == b"0":
            self._send(self._connect)
        elif kind == b"44":
            self._fail(f"connect_error: {packet[2:].decode(errors='replace')}")

    def _send(self, payload: bytes, opcode: int = _OP_TEXT) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(payload, opcode))

    def _fail(self, why: str) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError(why))
            if self.transport is not None:
                self.transport.close()

    def close(self) -> None:
        """Send a WebSocket close frame (1000) and close the TCP connection."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(_CLOSE_NORMAL, _OP_CLOSE))
            self.transport.close()


@dataclass
class ConnectResult:
    """Sockets that connected, how many failed and why (first errors), and the timings."""

    sockets: list[SioSocket]
    failed: int
    errors: list[str]
    started: float
    finished: float

    @property
    def rate(self) -> float:
        """Connections per second, from the first attempt to the last CONNECT received."""
        return len(self.sockets) / max(self.finished - self.started, 1e-9)


async def connect_many(
    port: int,
    tokens: Sequence[str],
    receipts: Receipts,
    *,
    first_index: int = 0,
    concurrency: int = 200,
    within: float = 120.0,
    host: str = "127.0.0.1",
    path: str = "/socket.io",
) -> ConnectResult:
    """Open one socket per token, at most ``concurrency`` handshakes in flight.

    Bounded by ``within`` overall; sockets not connected by then count as failed.
    """
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    sockets: list[SioSocket] = []
    errors: list[str] = []
    last = 0.0

    async def one(index: int, token: str) -> None:
        nonlocal last
        async with gate:
            try:
                _, proto = await loop.create_connection(
                    lambda: SioSocket(index, host, port, token, receipts, path), host, port
                )
                when = await asyncio.wait_for(proto.connected, 30.0)
            except (OSError, ConnectionError, TimeoutError) as exc:
                if len(errors) < 5:
                    errors.append(f"{type(exc).__name__}: {exc}")
                return
            sockets.append(proto)
            last = max(last, when)

    started = time.perf_counter()
    tasks = [asyncio.create_task(one(first_index + i, token)) for i, token in enumerate(tokens)]
    _, pending = await asyncio.wait(tasks, timeout=within)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if pending and len(errors) < 5:
        errors.append(f"{len(pending)} handshakes still pending after {within}s")
    return ConnectResult(sockets, len(tokens) - len(sockets), errors, started, last or started)
