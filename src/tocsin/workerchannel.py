"""The unix sockets between the workers of ``tocsin serve --workers N``: handing a client's
connection to the worker that holds its session, and taking one (see
:mod:`tocsin.workerrouting`).

A handoff is one message on the owner's socket, ``<pid>.sock`` in the supervisor's 0700
directory: a magic, the length of the request bytes read so far, the bytes, and the
connection's descriptor (``SCM_RIGHTS``) riding with its first byte. The owner answers one
byte, taken or declined, and the sender then forgets the connection or answers it 400.
"""

from __future__ import annotations

import array
import asyncio
import atexit
import contextlib
import functools
import logging
import os
import socket
import struct
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from tocsin import metrics
from tocsin.realtime.sessionids import socket_path, worker_sockets

if TYPE_CHECKING:
    from tocsin.workerrouting import WorkerRoutingHttpProtocol

log = logging.getLogger("tocsin.workers")

HANDOFFS = Counter(
    "tocsin_worker_handoffs_total",
    "Connections handed to the worker holding their Engine.IO session, by outcome: handed "
    "(sent and taken), adopted (taken from another worker), unknown_worker (no such worker: "
    "400), declined, failed, not_movable (pipelined, TLS or unsent bytes: served here)",
    ["outcome"],
    registry=metrics.REGISTRY,
)

# A handoff on the owner's socket: magic, the length of the request bytes, the bytes; the
# connection's descriptor rides with the first byte. The owner answers one byte.
_MAGIC = b"TCH1"
_HEADER = struct.Struct("!4sI")
_TAKEN = b"\x01"
_DECLINED = b"\x00"
# The request bytes are its header block (TOCSIN_MAX_HEADER_BYTES at most) and what arrived
# with it: one read, 256 KiB at most under asyncio and uvloop.
_MAX_REQUEST_BYTES = 4 * 1024 * 1024
# Between two workers of one machine a handoff takes well under a millisecond; one that takes
# this long has a worker that is stuck.
HANDOFF_TIMEOUT = 2.0


class HandoffError(Exception):
    """A handoff message that is not one (refused; the connection stays where it was)."""


def _unknown_session() -> bytes:
    # python-engineio's answer to a sid it does not hold (a JSON string), closing.
    body = b'"Invalid session"'
    return (
        b"HTTP/1.1 400 Bad Request\r\n"
        b"content-type: text/plain\r\n"
        b"x-content-type-options: nosniff\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


class Worker:
    """This process's side of the handoffs: its pid, the workers' sockets directory, and its
    own socket, which takes connections from the other workers.

    uvicorn builds its protocols with its configuration and server state, which the app
    never sees: the first protocol made in the process gives them (:meth:`protocol_made`),
    and the socket opens then, before any session of this worker can exist.
    """

    def __init__(self, directory: str) -> None:
        self.pid = os.getpid()
        self.directory = directory
        self.path = socket_path(directory, self.pid)
        self._factory: Any = None
        self._listener: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._adoptions: set[asyncio.Task[None]] = set()
        self._closing = False

    def path_of(self, pid: int) -> str:
        """The socket of worker ``pid``."""
        return socket_path(self.directory, pid)

    def protocol_made(self, protocol: WorkerRoutingHttpProtocol) -> None:
        """Learn from ``protocol`` how uvicorn makes protocols, and open this worker's socket."""
        if self._factory is not None or self._closing:
            return
        make: Any = protocol.config.http_protocol_class  # built with uvicorn's keywords
        self._factory = functools.partial(
            make,
            config=protocol.config,
            server_state=protocol.server_state,
            app_state=protocol.app_state,
        )
        self._listen(asyncio.get_running_loop())

    def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # a previous process of this pid
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.path)
            os.chmod(self.path, 0o600)
            listener.listen(128)
            listener.setblocking(False)
            loop.add_reader(listener.fileno(), self._accept)
        except OSError:
            listener.close()
            log.exception("worker %d cannot take connections from the others", self.pid)
            return
        self._listener, self._loop = listener, loop
        atexit.register(self._unlink)

    def stop(self) -> None:
        """Take no more connections (the server is shutting down)."""
        self._closing = True
        listener, self._listener = self._listener, None
        if listener is not None and self._loop is not None:
            self._loop.remove_reader(listener.fileno())
            listener.close()
            self._unlink()

    def _unlink(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def _accept(self) -> None:
        assert self._listener is not None and self._loop is not None
        while True:
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors: the sender times out and says 400
                log.warning("worker %d: accepting a handoff failed: %s", self.pid, exc)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._adopt(conn))
            self._adoptions.add(task)
            task.add_done_callback(self._adoptions.discard)

    async def _adopt(self, conn: socket.socket) -> None:
        """Take one connection handed over on ``conn``, and say whether it was taken."""
        loop = asyncio.get_running_loop()
        answer = _DECLINED
        fd = -1
        try:
            async with asyncio.timeout(HANDOFF_TIMEOUT):
                request, fd = await _receive(loop, conn)
            if self._factory is not None and not self._closing:
                adopted = socket.socket(fileno=fd)
                fd = -1
                factory = functools.partial(self._adopted_protocol, request)
                try:
                    await loop.connect_accepted_socket(factory, adopted)
                except BaseException:
                    adopted.close()
                    raise
                answer = _TAKEN
        except (HandoffError, OSError, ValueError, TimeoutError) as exc:
            log.warning("worker %d declined a connection: %s", self.pid, exc)
        finally:
            if fd != -1:
                os.close(fd)  # this process's copy only: the sender still holds it
            with contextlib.suppress(OSError):
                conn.send(answer)
            conn.close()
        HANDOFFS.labels("adopted" if answer == _TAKEN else "declined").inc()

    def _adopted_protocol(self, request: bytes) -> WorkerRoutingHttpProtocol:
        protocol: WorkerRoutingHttpProtocol = self._factory()
        protocol.replay(request)
        return protocol


_worker: Worker | None = None


def current_worker() -> Worker | None:
    """This process's :class:`Worker`, in a worker of ``tocsin serve --workers N``."""
    global _worker
    if _worker is None:
        directory = worker_sockets()
        if directory is not None:
            _worker = Worker(directory)
    return _worker


async def hand_over(transport: asyncio.Transport, request: bytes, path: str) -> None:
    """Send the connection of ``transport`` (paused), with the ``request`` bytes read from
    it, to the worker listening at ``path``; then forget it here. If that worker is gone or
    declines, answer 400 (an unknown session) on it instead; if it is stuck, close it."""
    loop = asyncio.get_running_loop()
    connection = transport.get_extra_info("socket")
    fd = connection.fileno() if connection is not None else -1
    if fd < 0:  # the client left meanwhile
        transport.abort()
        return
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    channel.setblocking(False)
    sent = False
    outcome = "failed"
    try:
        async with asyncio.timeout(HANDOFF_TIMEOUT):
            await loop.sock_connect(channel, path)
            message = _HEADER.pack(_MAGIC, len(request)) + request
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
            written = channel.sendmsg([message], rights)
            sent = True
            if written < len(message):
                await loop.sock_sendall(channel, message[written:])
            answer = await loop.sock_recv(channel, 1)
        outcome = "handed" if answer == _TAKEN else "declined"
    except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
        # No such worker, or it died: its copy of the connection went with it.
        outcome = "unknown_worker"
    except (OSError, TimeoutError) as exc:
        log.warning("handing a connection to %s failed: %s", path, exc)
    finally:
        channel.close()
    HANDOFFS.labels(outcome).inc()
    if outcome == "handed":
        # Closes this process's descriptor only: the connection lives on in the owner.
        transport.abort()
    elif outcome == "failed" and sent:
        # The owner is stuck: it may hold the connection and serve it later. Neither will.
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
        transport.abort()
    else:
        transport.write(_unknown_session())
        transport.close()


async def _receive(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> tuple[bytes, int]:
    """The request bytes and the connection's descriptor of one handoff on ``conn``.

    Raises:
        HandoffError: not a handoff, or not a whole one.
    """
    data = bytearray()
    fd = -1
    need = _HEADER.size
    try:
        while len(data) < need:
            chunk, fds = await _recv_fds(loop, conn, need - len(data))
            if fds:
                if fd != -1 or len(fds) > 1:
                    for extra in fds:
                        os.close(extra)
                    raise HandoffError("more than one descriptor")
                fd = fds[0]
            if not chunk:
                raise HandoffError("cut short")
            before = len(data)
            data += chunk
            if before < _HEADER.size <= len(data):
                magic, length = _HEADER.unpack_from(data)
                if magic != _MAGIC or length > _MAX_REQUEST_BYTES:
                    raise HandoffError("not a handoff")
                need = _HEADER.size + length
        if fd == -1:
            raise HandoffError("no descriptor")
        return bytes(data[_HEADER.size :]), fd
    except BaseException:
        if fd != -1:
            os.close(fd)
        raise


async def _recv_fds(
    loop: asyncio.AbstractEventLoop, conn: socket.socket, size: int
) -> tuple[bytes, list[int]]:
    while True:
        try:
            data, fds, flags, _ = socket.recv_fds(conn, size, 1)
        except (BlockingIOError, InterruptedError):
            await _readable(loop, conn)
            continue
        if flags & socket.MSG_CTRUNC:
            for fd in fds:
                os.close(fd)
            raise HandoffError("more than one descriptor")
        return data, fds


async def _readable(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    waiter: asyncio.Future[None] = loop.create_future()
    loop.add_reader(conn.fileno(), _wake, waiter)
    try:
        await waiter
    finally:
        loop.remove_reader(conn.fileno())


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
