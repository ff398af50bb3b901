"""Raw Engine.IO clients for the conformance tests: a WebSocket read frame by frame, and
long-polling requests over httpx, as the official suites' clients (``ws``, ``fetch``) do."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

# How long a test waits for a frame or a close the protocol says must come.
TIMEOUT = 5.0

Frame = str | bytes


class Closed(Exception):
    """The server closed the WebSocket (or the handshake was refused)."""


class RawSocket:
    """One WebSocket to an Engine.IO endpoint, read frame by frame.

    :meth:`recv` answers PINGs (``2``) with PONGs (``3``) and skips them, as a real client
    does: a close it then sees is not a ping timeout. :meth:`recv_raw` returns the PINGs
    too and answers nothing, as the official suites' clients.
    """

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.received: list[Frame] = []  # every frame, for failure messages

    async def send(self, frame: Frame) -> None:
        """Send one frame (text for ``str``, binary for ``bytes``)."""
        await self.conn.send(frame)

    async def recv_raw(self, timeout: float = TIMEOUT) -> Frame:
        """The next frame, whatever it is.

        Raises:
            Closed: the server closed the connection first.
            AssertionError: nothing came within ``timeout``.
        """
        try:
            frame = await asyncio.wait_for(self.conn.recv(), timeout)
        except ConnectionClosed:
            raise Closed(f"closed; received {self.received[-5:]}") from None
        except TimeoutError:
            raise AssertionError(f"no frame in {timeout}s; received {self.received[-5:]}") from None
        self.received.append(frame)
        return frame

    async def recv(self, timeout: float = TIMEOUT) -> Frame:
        """The next frame that is not a PING (each PING is answered).

        Raises:
            Closed: the server closed the connection first.
            AssertionError: nothing came within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv_raw(max(0.0, deadline - time.monotonic()))
            if frame != "2":
                return frame
            await self.send("3")

    async def closed(self, timeout: float = TIMEOUT) -> float:
        """Wait for the server to close the connection, answering PINGs meanwhile; the
        seconds it took.

        Raises:
            AssertionError: a frame other than a PING (or Engine.IO CLOSE, ``1``) came, or
                the connection was still open after ``timeout``.
        """
        began = time.monotonic()
        while True:
            try:
                frame = await self.recv(max(0.0, timeout - (time.monotonic() - began)))
            except Closed:
                return time.monotonic() - began
            assert frame == "1", f"expected the connection to close, received {frame!r}"

    async def open_packet(self) -> dict[str, Any]:
        """Read Engine.IO's OPEN packet and return its JSON."""
        frame = await self.recv_raw()
        assert isinstance(frame, str) and frame.startswith("0"), frame
        handshake: dict[str, Any] = json.loads(frame[1:])
        return handshake


@asynccontextmanager
async def websocket(base_url: str, query: str) -> AsyncIterator[RawSocket]:
    """A WebSocket to ``base_url`` + ``query`` (path and query string), closed on exit.

    Raises:
        Closed: the server refused the handshake.
    """
    url = base_url.replace("http://", "ws://", 1) + query
    try:
        conn = await connect(url, compression=None, max_size=None, open_timeout=TIMEOUT)
    except InvalidStatus as exc:
        raise Closed(f"handshake refused: {exc.response.status_code}") from None
    try:
        yield RawSocket(conn)
    finally:
        await conn.close()


async def handshake_refused_or_closed(base_url: str, query: str) -> None:
    """Assert that a WebSocket to ``query`` is refused, or closed before Engine.IO's OPEN."""
    try:
        async with websocket(base_url, query) as ws:
            frame = await ws.recv_raw()
    except Closed:
        return
    raise AssertionError(f"the server opened a session: {frame!r}")


async def open_polling(http: httpx.AsyncClient, path: str) -> str:
    """Open a long-polling session at ``path``; its sid."""
    response = await http.get(f"{path}?EIO=4&transport=polling")
    assert response.status_code == 200, response.text
    assert response.text.startswith("0"), response.text
    sid: str = json.loads(response.text[1:])["sid"]
    return sid


def polling_url(path: str, sid: str) -> str:
    """The long-polling URL of session ``sid``."""
    return f"{path}?EIO=4&transport=polling&sid={sid}"


async def wait_until(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Return once ``check()`` holds (tested every few milliseconds).

    Raises:
        AssertionError: it did not within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)
