"""Every case of the official protocol suites, by suite, describe path and title.

The titles are those of ``test-suite/test-suite.js`` in ``socketio/engine.io-protocol``
(f21de7b) and ``socketio/socket.io-protocol`` (4f633dd). Each test of this package names the
case it covers with ``@case(...)``; ``conftest.py`` prints the table of all of them (a case
without a test shows as MISSING).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

ENGINE_IO = "Engine.IO"
SOCKET_IO = "Socket.IO"

# The Engine.IO suite runs against the echo application; the Socket.IO suite repeats most of
# its Engine.IO cases (titled "should …") against the Socket.IO application.
ENGINE_IO_PATH = "/engine.io/"
SOCKET_IO_PATH = "/socket.io/"


@dataclass(frozen=True)
class Case:
    """One ``it(...)`` of an official suite."""

    suite: str
    group: str
    title: str

    @property
    def name(self) -> str:
        """The case as the suite's reporter shows it."""
        return f"{self.group} > {self.title}"


def _cases(suite: str, rows: list[tuple[str, list[str]]]) -> list[Case]:
    return [Case(suite, group, title) for group, titles in rows for title in titles]


_POLLING = "HTTP long-polling"
_WS = "WebSocket"

ENGINE_IO_CASES = _cases(
    ENGINE_IO,
    [
        (
            f"handshake > {_POLLING}",
            [
                "successfully opens a session",
                "fails with an invalid 'EIO' query parameter",
                "fails with an invalid 'transport' query parameter",
                "fails with an invalid request method",
            ],
        ),
        (
            f"handshake > {_WS}",
            [
                "successfully opens a session",
                "fails with an invalid 'EIO' query parameter",
                "fails with an invalid 'transport' query parameter",
            ],
        ),
        (
            f"message > {_POLLING}",
            [
                "sends and receives a payload containing one plain text packet",
                "sends and receives a payload containing several plain text packets",
                "sends and receives a payload containing plain text and binary packets",
                "closes the session upon invalid packet format",
                "closes the session upon duplicate poll requests",
            ],
        ),
        (
            f"message > {_WS}",
            [
                "sends and receives a plain text packet",
                "sends and receives a binary packet",
                "closes the session upon invalid packet format",
            ],
        ),
        (
            f"heartbeat > {_POLLING}",
            ["sends ping/pong packets", "closes the session upon ping timeout"],
        ),
        (f"heartbeat > {_WS}", ["sends ping/pong packets", "closes the session upon ping timeout"]),
        (f"close > {_POLLING}", ["forcefully closes the session"]),
        (f"close > {_WS}", ["forcefully closes the session"]),
        (
            "upgrade",
            [
                "successfully upgrades from HTTP long-polling to WebSocket",
                "ignores HTTP requests with same sid after upgrade",
                "ignores WebSocket connection with same sid after upgrade",
            ],
        ),
    ],
)

_EIO = "Engine.IO protocol"
_SIO = "Socket.IO protocol"

SOCKET_IO_CASES = _cases(
    SOCKET_IO,
    [
        (
            f"{_EIO} > handshake > {_POLLING}",
            [
                "should successfully open a session",
                "should fail with an invalid 'EIO' query parameter",
                "should fail with an invalid 'transport' query parameter",
                "should fail with an invalid request method",
            ],
        ),
        (
            f"{_EIO} > handshake > {_WS}",
            [
                "should successfully open a session",
                "should fail with an invalid 'EIO' query parameter",
                "should fail with an invalid 'transport' query parameter",
            ],
        ),
        (
            f"{_EIO} > heartbeat > {_POLLING}",
            ["should send ping/pong packets", "should close the session upon ping timeout"],
        ),
        (
            f"{_EIO} > heartbeat > {_WS}",
            ["should send ping/pong packets", "should close the session upon ping timeout"],
        ),
        (f"{_EIO} > close > {_POLLING}", ["should forcefully close the session"]),
        (f"{_EIO} > close > {_WS}", ["should forcefully close the session"]),
        (
            f"{_EIO} > upgrade",
            [
                "should successfully upgrade from HTTP long-polling to WebSocket",
                "should ignore HTTP requests with same sid after upgrade",
                "should ignore WebSocket connection with same sid after upgrade",
            ],
        ),
        (
            f"{_SIO} > connect",
            [
                "should allow connection to the main namespace",
                "should allow connection to the main namespace with a payload",
                "should allow connection to a custom namespace",
                "should allow connection to a custom namespace with a payload",
                "should disallow connection to an unknown namespace",
                "should disallow connection with an invalid handshake",
                "should close the connection if no handshake is received",
            ],
        ),
        (
            f"{_SIO} > disconnect",
            [
                "should disconnect from the main namespace",
                "should connect then disconnect from a custom namespace",
            ],
        ),
        (
            f"{_SIO} > message",
            [
                "should send a plain-text packet",
                "should send a packet with binary attachments",
                "should send a plain-text packet with an ack",
                "should send a packet with binary attachments and an ack",
                "should close the connection upon invalid format (unknown packet type)",
                "should close the connection upon invalid format (invalid payload format)",
                "should close the connection upon invalid format (invalid ack id)",
            ],
        ),
    ],
)

ALL_CASES = ENGINE_IO_CASES + SOCKET_IO_CASES
_BY_KEY = {(c.suite, c.group, c.title): c for c in ALL_CASES}


def case(group: str, *, eio: str | None = None, sio: str | None = None) -> Any:
    """Mark a test as covering official cases: ``eio`` is its title in the Engine.IO suite
    and ``sio`` in the Socket.IO suite. A test with both is parametrised by ``path`` (the
    application under test); ``group`` is the describe path below the Socket.IO suite's
    "Engine.IO protocol" / "Socket.IO protocol" level."""
    return pytest.mark.conformance(group=group, eio=eio, sio=sio)


def case_of(group: str, eio: str | None, sio: str | None, path: str | None) -> Case:
    """The official case a marked test covers, for the ``path`` it runs against.

    Raises:
        KeyError: no such case in the official suites (a typo in a marker).
    """
    if eio is not None and (sio is None or path == ENGINE_IO_PATH):
        return _BY_KEY[(ENGINE_IO, group, eio)]
    if sio is None:
        raise KeyError(f"no Socket.IO title for {group}")
    level = _EIO if eio is not None else _SIO
    return _BY_KEY[(SOCKET_IO, f"{level} > {group}", sio)]
