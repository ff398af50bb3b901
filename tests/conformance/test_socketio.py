"""The Socket.IO protocol cases of ``socket.io-protocol/test-suite``, on Tocsin's transport.

The application (``server.socketio_server``) greets each connection with
``emit("auth", <handshake auth>)``, answers ``message`` with ``message-back`` and acks
``message-with-ack`` with its arguments. The official client never answers PINGs, so its
"should close the connection" cases also pass on a server that only times the session out;
these tests answer them, so the close must be the server's answer to what was sent.
"""

from __future__ import annotations

import json

from tests.conformance.cases import SOCKET_IO_PATH, case
from tests.conformance.client import RawSocket, websocket
from tests.conformance.conftest import Conformance
from tests.conformance.server import CONNECT_TIMEOUT

URL = f"{SOCKET_IO_PATH}?EIO=4&transport=websocket"


async def _connected(ws: RawSocket, namespace: str = "") -> str:
    """CONNECT to ``namespace`` (after the Engine.IO handshake when it is the first), read
    the answer and the ``auth`` greeting; the Socket.IO sid."""
    await ws.send(f"40{namespace}")
    answer = await ws.recv()
    prefix = f"40{namespace}," if namespace else "40"
    assert isinstance(answer, str) and answer.startswith(prefix), answer
    sid: str = json.loads(answer[len(prefix) :])["sid"]
    assert await ws.recv() == (f'42{namespace},["auth",{{}}]' if namespace else '42["auth",{}]')
    return sid


# -- connect ------------------------------------------------------------------------------


async def _connect_case(conformance: Conformance, sent: str, prefix: str, auth: str) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        await ws.send(sent)
        answer = await ws.recv()
        assert isinstance(answer, str) and answer.startswith(prefix), answer
        handshake = json.loads(answer[len(prefix) :])
        assert set(handshake) == {"sid"} and isinstance(handshake["sid"], str)
        namespace = prefix[2:]
        assert await ws.recv() == f'42{namespace}["auth",{auth}]'


@case("connect", sio="should allow connection to the main namespace")
async def test_connect_should_allow_connection_to_the_main_namespace(
    conformance: Conformance,
) -> None:
    await _connect_case(conformance, "40", "40", "{}")


@case("connect", sio="should allow connection to the main namespace with a payload")
async def test_connect_should_allow_connection_to_the_main_namespace_with_a_payload(
    conformance: Conformance,
) -> None:
    await _connect_case(conformance, '40{"token":"123"}', "40", '{"token":"123"}')


@case("connect", sio="should allow connection to a custom namespace")
async def test_connect_should_allow_connection_to_a_custom_namespace(
    conformance: Conformance,
) -> None:
    await _connect_case(conformance, "40/custom,", "40/custom,", "{}")


@case("connect", sio="should allow connection to a custom namespace with a payload")
async def test_connect_should_allow_connection_to_a_custom_namespace_with_a_payload(
    conformance: Conformance,
) -> None:
    await _connect_case(conformance, '40/custom,{"token":"abc"}', "40/custom,", '{"token":"abc"}')


@case("connect", sio="should disallow connection to an unknown namespace")
async def test_connect_should_disallow_connection_to_an_unknown_namespace(
    conformance: Conformance,
) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        await ws.send("40/random")
        assert await ws.recv() == '44/random,{"message":"Invalid namespace"}'


@case("connect", sio="should disallow connection with an invalid handshake")
async def test_connect_should_disallow_connection_with_an_invalid_handshake(
    conformance: Conformance,
) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        await ws.send("4abc")
        took = await ws.closed()
    # Closed for the packet, not by the connect timeout (the PINGs are answered).
    assert took < CONNECT_TIMEOUT, took


@case("connect", sio="should close the connection if no handshake is received")
async def test_connect_should_close_the_connection_if_no_handshake_is_received(
    conformance: Conformance,
) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        took = await ws.closed()  # answering PINGs: only the connect timeout closes it
    assert took >= CONNECT_TIMEOUT - 0.05, took


# -- disconnect ---------------------------------------------------------------------------


@case("disconnect", sio="should disconnect from the main namespace")
async def test_disconnect_should_disconnect_from_the_main_namespace(
    conformance: Conformance,
) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        await _connected(ws)
        await ws.send("41")
        # The session stays open, silent until the next PING.
        assert await ws.recv_raw() == "2"


@case("disconnect", sio="should connect then disconnect from a custom namespace")
async def test_disconnect_should_connect_then_disconnect_from_a_custom_namespace(
    conformance: Conformance,
) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        await _connected(ws)
        await _connected(ws, "/custom")
        await ws.send("41/custom")
        await ws.send('42["message","message to main namespace"]')
        assert await ws.recv() == '42["message-back","message to main namespace"]'


# -- message ------------------------------------------------------------------------------

PLACEHOLDERS = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}'


@case("message", sio="should send a plain-text packet")
async def test_message_should_send_a_plain_text_packet(conformance: Conformance) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        await _connected(ws)
        await ws.send('42["message",1,"2",{"3":[true]}]')
        assert await ws.recv() == '42["message-back",1,"2",{"3":[true]}]'


@case("message", sio="should send a packet with binary attachments")
async def test_message_should_send_a_packet_with_binary_attachments(
    conformance: Conformance,
) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        await _connected(ws)
        await ws.send(f'452-["message",{PLACEHOLDERS}]')
        await ws.send(bytes([1, 2, 3]))
        await ws.send(bytes([4, 5, 6]))
        assert await ws.recv() == f'452-["message-back",{PLACEHOLDERS}]'
        assert await ws.recv() == bytes([1, 2, 3])
        assert await ws.recv() == bytes([4, 5, 6])


@case("message", sio="should send a plain-text packet with an ack")
async def test_message_should_send_a_plain_text_packet_with_an_ack(
    conformance: Conformance,
) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        await _connected(ws)
        await ws.send('42456["message-with-ack",1,"2",{"3":[false]}]')
        assert await ws.recv() == '43456[1,"2",{"3":[false]}]'


@case("message", sio="should send a packet with binary attachments and an ack")
async def test_message_should_send_a_packet_with_binary_attachments_and_an_ack(
    conformance: Conformance,
) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        await _connected(ws)
        await ws.send(f'452-789["message-with-ack",{PLACEHOLDERS}]')
        await ws.send(bytes([1, 2, 3]))
        await ws.send(bytes([4, 5, 6]))
        assert await ws.recv() == f"462-789[{PLACEHOLDERS}]"
        assert await ws.recv() == bytes([1, 2, 3])
        assert await ws.recv() == bytes([4, 5, 6])


async def _closed_after(conformance: Conformance, frame: str) -> None:
    async with websocket(conformance.url, URL) as ws:
        await ws.open_packet()
        await _connected(ws)
        await ws.send(frame)
        await ws.closed()


@case("message", sio="should close the connection upon invalid format (unknown packet type)")
async def test_message_should_close_the_connection_upon_unknown_packet_type(
    conformance: Conformance,
) -> None:
    await _closed_after(conformance, "4abc")


@case("message", sio="should close the connection upon invalid format (invalid payload format)")
async def test_message_should_close_the_connection_upon_invalid_payload_format(
    conformance: Conformance,
) -> None:
    await _closed_after(conformance, "42{}")


@case("message", sio="should close the connection upon invalid format (invalid ack id)")
async def test_message_should_close_the_connection_upon_invalid_ack_id(
    conformance: Conformance,
) -> None:
    await _closed_after(conformance, '42abc["message-with-ack",1,"2",{"3":[false]}]')
