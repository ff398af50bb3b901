"""The test SMTP server (tests/smtpserver.py) with a door at DATA, for tests that kill a
node while its e-mail is in flight (tests/procnet.py tells which process sent it).

Once held (:meth:`DoorSmtpServer.hold_from`), a transaction that has sent its message
waits at the door before the server answers it. A message whose client went away while it
waited is dropped, never recorded: a real server takes no responsibility for a message
before it has sent its 250, and a client that never read the 250 sends it again. Every
accepted message keeps its sender's TCP port (the session's peer), so that a test can say
which node sent it (:func:`tests.procnet.ports_towards` before the node dies).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections import Counter
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.smtpserver import SmtpServer, Stage, _Handler

GONE = "451 4.4.2 The sender went away before the message was taken"


@dataclass(frozen=True)
class AtDoor:
    """A message at the door (or dropped there): its sender's port and ``Message-ID``."""

    port: int
    message_id: str


def message_ids(server: SmtpServer) -> Counter[str]:
    """The accepted messages by ``Message-ID``."""
    return Counter(str(mail.message["Message-ID"]) for mail in server.messages)


class DoorSmtpServer(SmtpServer):
    """A plain :class:`SmtpServer` with a door (see the module's docstring). One hold each."""

    def __init__(self) -> None:
        super().__init__()
        self._hold_from: int | None = None
        self._hold_at_most: int | None = None
        self._door: asyncio.Event | None = None
        self._waiting: dict[int, AtDoor] = {}  # held, not yet answered: by transaction
        self._transactions = 0
        # Of each accepted message, by its place in the queue: its sender's port, and when
        # it was accepted (time.monotonic()).
        self._accepted_from: dict[int, tuple[int, float]] = {}
        self.held = 0
        self.dropped: list[AtDoor] = []
        self.refused = 0  # transactions answered with a failure of ``fail_next``

    @property
    def sender_ports(self) -> list[int]:
        """The sender's port of each accepted message, in the order of :attr:`messages`."""
        with self._changed:
            return [self._accepted_from[n][0] for n in sorted(self._accepted_from)]

    @property
    def accepted_at(self) -> list[float]:
        """When each accepted message was accepted (``time.monotonic()``), in order."""
        with self._changed:
            return [self._accepted_from[n][1] for n in sorted(self._accepted_from)]

    def hold_from(self, accepted: int, *, at_most: int | None = None) -> None:
        """Hold every message that comes once ``accepted`` messages were accepted (the
        first ``at_most`` of them only, if given)."""
        with self._changed:
            self._hold_from = accepted
            self._hold_at_most = at_most

    def release(self) -> None:
        """Let the held messages in, and hold no more."""
        with self._changed:
            self._hold_from = None
        assert self._controller is not None
        self._controller.loop.call_soon_threadsafe(self._open_door)

    def _open_door(self) -> None:
        if self._door is not None:
            self._door.set()

    def wait_at_door(self, count: int, timeout: float) -> list[int]:
        """Block until ``count`` messages wait at the door; their senders' ports, the
        latest comer first.

        Raises:
            TimeoutError: fewer within ``timeout``.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._waiting) >= count, timeout):
                raise TimeoutError(f"{len(self._waiting)} messages at the door, not {count}")
            return [self._waiting[number].port for number in sorted(self._waiting, reverse=True)]

    def wait_settled(self, timeout: float) -> None:
        """Block until every held message was answered: taken, refused or dropped.

        Raises:
            TimeoutError: some not within ``timeout``.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: not self._waiting, timeout):
                raise TimeoutError(f"{len(self._waiting)} messages still at the door")

    def at_door(self) -> list[AtDoor]:
        """The messages waiting at the door now, the latest comer first."""
        with self._changed:
            return [self._waiting[number] for number in sorted(self._waiting, reverse=True)]

    def wait_for_ids(self, wanted: set[str], timeout: float) -> Counter[str]:
        """Block until a message with each ``Message-ID`` of ``wanted`` was accepted; all the
        accepted messages by ``Message-ID``.

        Raises:
            TimeoutError: some not within ``timeout``.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: wanted <= set(message_ids(self)), timeout):
                missing = sorted(wanted - set(message_ids(self)))
                raise TimeoutError(f"{len(missing)} messages missing: {missing[:5]}")
            return message_ids(self)

    async def wait_for_ids_async(self, wanted: set[str], timeout: float) -> Counter[str]:
        """:meth:`wait_for_ids` for async tests."""
        return await asyncio.to_thread(self.wait_for_ids, wanted, timeout)

    def _handler(self) -> _Handler:
        return _DoorHandler(self)

    def _take(self, stage: Stage) -> str | None:
        failure = super()._take(stage)
        if failure is not None:
            with self._changed:
                self.refused += 1
                self._changed.notify_all()
        return failure

    def _arrive(self, port: int, message_id: str) -> int | None:
        """A message is offered: its number if it is held at the door, else None."""
        with self._changed:
            self._transactions += 1
            hold = (
                self._hold_from is not None
                and len(self._mails) >= self._hold_from
                and (self._hold_at_most is None or self.held < self._hold_at_most)
            )
            if not hold:
                return None
            self.held += 1
            self._waiting[self._transactions] = AtDoor(port, message_id)
            self._changed.notify_all()
            return self._transactions

    async def _wait_at_door(self, server: SMTP, number: int) -> bool:
        """Wait until the door opens; whether the message may be taken (its sender is
        still there)."""
        held = self._waiting[number]
        if self._door is None:
            self._door = asyncio.Event()
        try:
            await self._door.wait()
        except asyncio.CancelledError:
            # aiosmtpd cancels the session's handler when its client hangs up.
            self._drop(held)
            raise
        if server.transport is None or server.transport.is_closing():
            self._drop(held)
            return False
        return True

    def _settle(self, number: int) -> None:
        """A held message was answered (taken, refused or dropped)."""
        with self._changed:
            del self._waiting[number]
            self._changed.notify_all()

    def _drop(self, held: AtDoor) -> None:
        with self._changed:
            self.dropped.append(held)
            self._changed.notify_all()

    def _accepted(self, answer: str, port: int) -> None:
        # The base handler answers "250 … queued as <number>": the message's place.
        with self._changed:
            self._accepted_from[int(answer.rsplit(" ", 1)[1])] = (port, time.monotonic())


class _DoorHandler(_Handler):
    """The base hooks, with the door before the message is taken."""

    def __init__(self, owner: DoorSmtpServer) -> None:
        super().__init__(owner)
        self.door = owner

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        port = int(session.peer[1]) if session.peer else 0
        headers = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        number = self.door._arrive(port, str(headers["Message-ID"]))
        if number is None:
            return await self._take_message(server, session, envelope, port)
        try:
            if not await self.door._wait_at_door(server, number):
                return GONE
            return await self._take_message(server, session, envelope, port)
        finally:
            self.door._settle(number)

    async def _take_message(
        self, server: SMTP, session: Session, envelope: Envelope, port: int
    ) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            self.door._accepted(answer, port)
        return answer
