"""Socket.IO packets that are not valid where they come close the session, as in Node
(beyond the official cases, which check three of them).

python-socketio logged them and went on; one of them let a client run the server's own
``disconnect`` handler: an event named ``disconnect``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conformance.cases import SOCKET_IO_PATH
from tests.conformance.client import Closed, RawSocket, websocket
from tests.conformance.conftest import Conformance
from tests.conftest import make_settings
from tests.helpers import ServerThread, token

URL = f"{SOCKET_IO_PATH}?EIO=4&transport=websocket"


async def _connected(ws: RawSocket, auth: str = "") -> None:
    await ws.open_packet()
    await ws.send("40" + auth)
    answer = await ws.recv()
    assert isinstance(answer, str) and answer.startswith("40{"), answer


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param('42["connect",{"HTTP_COOKIE":"x"},{"token":"y"}]', id="event-named-connect"),
        pytest.param('42["disconnect"]', id="event-named-disconnect"),
        pytest.param("40", id="second-connect"),
        pytest.param('42/custom,["message",1]', id="namespace-not-joined"),
        pytest.param('44{"message":"x"}', id="connect-error-from-a-client"),
        pytest.param("42[]", id="event-without-a-name"),
        pytest.param("43[1]", id="ack-without-an-id"),
        pytest.param("4" + "[" * 100_000, id="deeply-nested"),
    ],
)
async def test_an_invalid_packet_closes_the_session(conformance: Conformance, frame: str) -> None:
    async with websocket(conformance.url, URL) as ws:
        await _connected(ws)
        assert await ws.recv() == '42["auth",{}]'  # the application's greeting
        await ws.send(frame)
        await ws.closed()  # answering PINGs: not a ping timeout


@pytest.fixture
def one_per_user(tmp_path: Path) -> Iterator[ServerThread]:
    node = ServerThread(
        make_settings(f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}", max_connections_per_user=1)
    )
    node.start()
    try:
        yield node
    finally:
        node.close()


@pytest.mark.attack(
    title="A client emitting `disconnect` or `connect` (found while testing conformance)",
    tried='`42["disconnect"]` from a signed-in socket, then a socket over the per-user limit',
    times=1,
)
async def test_a_client_cannot_emit_disconnect_to_leave_the_connection_count(
    one_per_user: ServerThread,
) -> None:
    """An event named ``disconnect`` ran Tocsin's disconnect handler: the registry forgot a
    socket that stayed open, and its user could open another past
    ``TOCSIN_MAX_CONNECTIONS_PER_USER``."""
    auth = json.dumps({"token": token("ada", "firm-a")})
    async with websocket(one_per_user.url, URL) as first:
        await _connected(first, auth)
        with contextlib.suppress(ConnectionClosed):
            await first.send('42["disconnect"]')
        with pytest.raises(Closed):
            while True:
                await first.recv()
