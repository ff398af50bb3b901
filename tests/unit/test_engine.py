"""Tocsin's layer on python-socketio: frame guard, room index, CONNECT hook, shared packets."""

from __future__ import annotations

import json

import pytest

from tocsin.realtime.eiosocket import frame_refusal
from tocsin.realtime.engine import NAMESPACE, SocketServer, event_packet


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("", "empty_frame"),
        ("x", "unknown_packet_type"),
        ("0{}", "unknown_packet_type"),  # OPEN comes from the server only
        (b"\x00\x01", None),  # an Engine.IO binary MESSAGE (Socket.IO checks what it holds)
        ('451-["mark-read",{"_placeholder":true,"num":0}]', None),  # Socket.IO's to check
        ("2", None),  # PING
        ("3", None),  # PONG
        ('42["mark-read",{"ids":["a"]}]', None),
        ("40", None),  # Socket.IO CONNECT
    ],
)
def test_frames_a_client_never_sends_are_refused(frame: str | bytes, reason: str | None) -> None:
    assert frame_refusal(frame) == reason


def test_an_event_is_encoded_once_as_socket_io_expects() -> None:
    packet = event_packet("email-received", {"subject": "Écrit", "n": 1})
    encoded = packet.encode()
    assert encoded.startswith('42["email-received",')
    assert json.loads(encoded[2:]) == ["email-received", {"subject": "Écrit", "n": 1}]
    assert packet.encode() is encoded  # every socket's writer gets the same string
    assert packet.frame == b"\x81" + bytes([len(encoded.encode())]) + encoded.encode()


async def test_disconnect_leaves_every_room_and_connect_calls_the_hook() -> None:
    server = SocketServer(async_mode="asgi")
    rooms = server.rooms
    connected: list[str] = []
    rooms.on_connected = connected.append
    sids = [await rooms.pre_connect(f"eio-{i}", NAMESPACE) for i in range(3)]
    for sid in sids:
        await rooms.enter_room(sid, NAMESPACE, "tenant:a")
    await rooms.connect(sids[1], NAMESPACE)
    assert connected == [sids[1]]
    await rooms.disconnect(sids[0], NAMESPACE)
    assert connected == [sids[1]]  # a socket that left is never reported connected
    assert sids[0] not in dict(rooms.get_participants(NAMESPACE, "tenant:a"))
    assert rooms.get_rooms(sids[2], NAMESPACE) and "tenant:a" in rooms.get_rooms(sids[2], NAMESPACE)
    for sid in sids[1:]:
        await rooms.disconnect(sid, NAMESPACE)
    assert rooms.rooms == {}  # nothing left behind, not even the namespace
    assert rooms.pending_connect == {}
