"""The local push service (tests/pushservice.py) with a door, for tests that kill a node
while its pushes are in flight (tests/procnet.py tells which process sent them).

At the door a request waits before the push service takes it: ``delay`` seconds each (a
slow push service), or, once held, until released. A request whose sender hung up while
it waited is dropped, never accepted, as a push service drops a message whose sender went
away before it was taken. Every accepted push keeps its sender's TCP port, so that a test
can say which node sent it (:func:`tests.procnet.ports_towards` before the node dies).
"""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import web

from tests.pushservice import PushService, ReceivedPush


def counts(pushes: list[ReceivedPush]) -> Counter[tuple[str, str]]:
    """Pushes by (notification id, subscription token), as the push service counted them."""
    return Counter((str(p.payload["id"]), p.token) for p in pushes)


class DoorPushService(PushService):
    """A :class:`PushService` with a door (see the module's docstring). One hold each."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self._hold_from: int | None = None
        self._door: asyncio.Event | None = None
        self._waiting: dict[int, int] = {}  # request number → its sender's port
        self._count = 0
        self.held = 0
        self.dropped = 0
        self.sender_ports: list[int] = []  # of each accepted push, in order

    def hold_from(self, accepted: int) -> None:
        """Hold every request that comes once ``accepted`` pushes were accepted."""
        with self._lock:
            self._hold_from = accepted

    def release(self) -> None:
        """Let the held requests in, and hold no more."""
        with self._lock:
            self._hold_from = None
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._open_door)

    def _open_door(self) -> None:
        if self._door is not None:
            self._door.set()

    def wait_at_door(self, count: int, timeout: float) -> list[int]:
        """Block until ``count`` requests wait at the door; their senders' ports, the
        latest comer first.

        Raises:
            TimeoutError: fewer within ``timeout``.
        """
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._waiting) >= count, timeout):
                raise TimeoutError(f"{len(self._waiting)} requests at the door, not {count}")
            return [self._waiting[number] for number in sorted(self._waiting, reverse=True)]

    def wait_answers(self, status: int, count: int, timeout: float) -> None:
        """Block until ``count`` requests were answered with ``status``.

        Raises:
            TimeoutError: fewer within ``timeout``.
        """
        with self._lock:
            if not self._lock.wait_for(
                lambda: sum(a.status == status for a in self._answers) >= count, timeout
            ):
                raise TimeoutError(f"fewer than {count} answers {status}: {self._answers}")

    def wait_for_pairs(self, pairs: set[tuple[str, str]], timeout: float) -> list[ReceivedPush]:
        """Block until each (notification id, token) of ``pairs`` was pushed; all pushes.

        Raises:
            TimeoutError: some not within ``timeout``.
        """
        with self._lock:
            if not self._lock.wait_for(lambda: pairs <= set(counts(self._pushes)), timeout):
                missing = sorted(pairs - set(counts(self._pushes)))
                raise TimeoutError(f"{len(missing)} pushes missing: {missing[:10]}")
            return list(self._pushes)

    async def wait_for_pairs_async(
        self, pairs: set[tuple[str, str]], timeout: float
    ) -> list[ReceivedPush]:
        """:meth:`wait_for_pairs` for async tests."""
        return await asyncio.to_thread(self.wait_for_pairs, pairs, timeout)

    async def _handle(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        port = int(peer[1]) if peer else 0
        with self._lock:
            self._count += 1
            number = self._count
            hold = self._hold_from is not None and len(self._pushes) >= self._hold_from
            self.held += hold
            waits = hold or self.delay > 0
            if waits:
                self._waiting[number] = port
                self._lock.notify_all()
        if waits:
            await asyncio.sleep(self.delay)
            with self._lock:
                # The door may have closed while this request was being slowly taken in.
                late = not hold and self._hold_from is not None
                hold = hold or (late and len(self._pushes) >= (self._hold_from or 0))
                self.held += late and hold
            if hold:
                if self._door is None:
                    self._door = asyncio.Event()
                await self._door.wait()
            with self._lock:
                del self._waiting[number]
            if request.transport is None or request.transport.is_closing():
                with self._lock:
                    self.dropped += 1
                return web.Response(status=503)
        response = await super()._handle(request)
        if response.status == 201:
            # No other handler ran in between: the push accepted last is this one.
            with self._lock:
                self.sender_ports.append(port)
        return response
