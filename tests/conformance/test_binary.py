"""Binary packets both ways, within bounds (beyond the official cases).

A BINARY_EVENT / BINARY_ACK announces its attachments; python-socketio keeps them until the
last arrives. Here at most ``MAX_ATTACHMENTS`` of them, and together with the packet no more
than ``maxPayload`` bytes; anything else that does not fit the protocol closes the session.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conformance.cases import SOCKET_IO_PATH
from tests.conformance.client import RawSocket, open_polling, polling_url, wait_until, websocket
from tests.conformance.conftest import Conformance
from tests.conformance.server import MAX_PAYLOAD
from tests.helpers import ServerThread, token
from tocsin.realtime.sioguard import MAX_ATTACHMENTS

URL = f"{SOCKET_IO_PATH}?EIO=4&transport=websocket"
TWO = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}'


async def _session(ws: RawSocket) -> str:
    """Open the Engine.IO session and CONNECT to the main namespace; the Engine.IO sid."""
    eio_sid: str = (await ws.open_packet())["sid"]
    await ws.send("40")
    answer = await ws.recv()
    assert isinstance(answer, str) and answer.startswith("40{"), answer
    assert await ws.recv() == '42["auth",{}]'
    return eio_sid


async def _refused(conformance: Conformance, *frames: str | bytes) -> None:
    """Send ``frames`` on a connected session; assert the server closes it without sending
    anything else (PINGs are answered meanwhile, so it is no ping timeout)."""
    async with websocket(conformance.url, URL) as ws:
        await _session(ws)
        for frame in frames:
            try:
                await ws.send(frame)
            except ConnectionClosed:
                break  # closed at an earlier frame
        await ws.closed()


async def test_more_attachments_than_the_limit_close_the_session(
    conformance: Conformance,
) -> None:
    count = MAX_ATTACHMENTS + 1
    placeholders = ",".join(f'{{"_placeholder":true,"num":{n}}}' for n in range(count))
    frames = [f'45{count}-["message",{placeholders}]', *(bytes([n]) for n in range(count))]
    await _refused(conformance, *frames)


async def test_a_lying_attachment_count_closes_the_session(conformance: Conformance) -> None:
    """The reliability suite's memory attack: a billion attachments announced."""
    await _refused(conformance, '45999999999-["message",{"_placeholder":true,"num":0}]')


async def test_attachments_beyond_max_payload_close_the_session(conformance: Conformance) -> None:
    half = bytes(MAX_PAYLOAD // 2 + 1)
    await _refused(conformance, f'452-["message",{TWO}]', half, half)  # no message-back


async def test_attachments_within_max_payload_are_delivered(conformance: Conformance) -> None:
    part = bytes(range(256)) * (MAX_PAYLOAD // 1024)  # two of them: about half maxPayload
    async with websocket(conformance.url, URL) as ws:
        await _session(ws)
        await ws.send(f'452-["message",{TWO}]')
        await ws.send(part)
        await ws.send(part[::-1])
        assert await ws.recv() == f'452-["message-back",{TWO}]'
        assert await ws.recv() == part
        assert await ws.recv() == part[::-1]


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param(('451-["message",{"_placeholder":true,"num":0}]', '42["x"]'), id="text"),
        pytest.param((b"\x01\x02",), id="attachment-for-nothing"),
        pytest.param(('451-["message",{"_placeholder":true,"num":-1}]',), id="negative-num"),
        pytest.param(('451-["message",{"_placeholder":true,"num":1}]',), id="num-beyond"),
        pytest.param(('451-/custom,["message",{"_placeholder":true,"num":0}]',), id="no-ns"),
    ],
)
async def test_binary_packets_that_do_not_fit_the_protocol_close_the_session(
    conformance: Conformance, frames: tuple[str | bytes, ...]
) -> None:
    await _refused(conformance, *frames)


async def test_nothing_is_kept_of_a_partial_binary_packet_once_the_session_ends(
    conformance: Conformance,
) -> None:
    sio: Any = conformance.node.app.engineio_server  # the Socket.IO server
    async with websocket(conformance.url, URL) as ws:
        eio_sid = await _session(ws)
        await ws.send(f'452-["message",{TWO}]')
        await ws.send(b"\x01")
        await wait_until(lambda: eio_sid in sio._binary_packet, "the first attachment kept")
        await ws.send('42["message"]')  # not the second attachment: refused
        await ws.closed()
    assert eio_sid not in sio._binary_packet


async def test_binary_over_long_polling_is_base64_both_ways(http: httpx.AsyncClient) -> None:
    sid = await open_polling(http, SOCKET_IO_PATH)
    url = polling_url(SOCKET_IO_PATH, sid)
    assert (await http.post(url, content="40")).text == "ok"
    connected = (await http.get(url)).text.split("\x1e")
    if len(connected) == 1:  # the greeting came in a poll of its own
        connected += (await http.get(url)).text.split("\x1e")
    assert connected[0].startswith("40{") and connected[1] == '42["auth",{}]', connected
    body = f'452-["message",{TWO}]\x1ebAQID\x1ebBAUG'  # bytes 1, 2, 3 and 4, 5, 6
    assert (await http.post(url, content=body)).text == "ok"
    answer = (await http.get(url)).text
    assert answer == f'452-["message-back",{TWO}]\x1ebAQID\x1ebBAUG'


async def test_tocsin_answers_a_binary_event_with_a_validation_error(
    server: ServerThread,
) -> None:
    """Tocsin's own handlers take objects; bytes are refused in the ack, the socket stays."""
    async with websocket(server.url, URL) as ws:
        await ws.open_packet()
        await ws.send("40" + json.dumps({"token": token("ada", "firm-a")}))
        answer = await ws.recv()
        assert isinstance(answer, str) and answer.startswith("40{"), answer
        await ws.send('451-7["inbox",{"_placeholder":true,"num":0}]')
        await ws.send(b"\x00\x01")
        ack = await _ack(ws, 7)
        assert ack["ok"] is False and ack["error"] == "validation_error", ack
        await ws.send('428["inbox",{"limit":1}]')
        assert (await _ack(ws, 8))["ok"] is True


async def _ack(ws: RawSocket, ack_id: int) -> Any:
    """The argument of the ACK ``ack_id`` (events that come first are skipped)."""
    prefix = f"43{ack_id}"
    while True:
        frame = await ws.recv()
        if isinstance(frame, str) and frame.startswith(prefix):
            return json.loads(frame[len(prefix) :])[0]
