"""The rules by which a Socket.IO packet from a client is refused (Node's socket.io-parser)."""

from __future__ import annotations

import pytest
from socketio import packet as sio_packet

from tocsin.realtime.sioguard import MAX_ATTACHMENTS, packet_refusal, placeholders_valid


def _refusal(encoded: str) -> str | None:
    return packet_refusal(encoded, sio_packet.Packet(encoded_packet=encoded))


@pytest.mark.parametrize(
    "encoded",
    [
        "0",
        '0{"token":"x"}',
        "0/custom,",
        "1",
        "1/custom,",
        '2["message",1,"2"]',
        '27["message-with-ack"]',
        "2[7]",  # Node accepts a number for the event name
        "37[]",
        '37[1,"2"]',
        '51-["message",{"_placeholder":true,"num":0}]',
        '51-/custom,9["m",{"_placeholder":true,"num":0}]',
        '50-["no attachment"]',
        '62-7[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]',
    ],
)
def test_valid_packets_pass(encoded: str) -> None:
    assert _refusal(encoded) is None


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        ("0[1,2]", "invalid_connect_payload"),
        ('0"token"', "invalid_connect_payload"),
        ("1{}", "invalid_disconnect_payload"),
        ("2{}", "invalid_event_payload"),
        ("2[]", "invalid_event_payload"),
        ("2[null]", "invalid_event_payload"),
        ("2[true]", "invalid_event_payload"),
        ('2"message"', "invalid_event_payload"),
        ('2["connect",{"HTTP_COOKIE":"x"}]', "invalid_event_payload"),  # reserved names
        ('2["disconnect"]', "invalid_event_payload"),
        ("3[]", "invalid_ack_payload"),  # an ACK without an id
        ("37{}", "invalid_ack_payload"),
        ('4{"message":"x"}', "unexpected_packet_type"),  # CONNECT_ERROR: server to client
        ("7[1]", "unexpected_packet_type"),
        ('5["message",{"_placeholder":true,"num":0}]', "invalid_attachment_count"),
        (f'5{MAX_ATTACHMENTS + 1}-["m"]', "too_many_attachments"),
        ('52-["m",{"_placeholder":true,"num":2}]', "invalid_placeholder"),
        ('52-["m",{"_placeholder":true,"num":-1}]', "invalid_placeholder"),
        ('52-["m",{"_placeholder":true,"num":"0"}]', "invalid_placeholder"),
        ('52-["m",{"_placeholder":true,"num":true}]', "invalid_placeholder"),
        ('52-["m",{"_placeholder":1}]', "invalid_placeholder"),
        ('61-[{"_placeholder":true,"num":0}]', "invalid_ack_payload"),  # no id
    ],
)
def test_invalid_packets_are_refused(encoded: str, reason: str) -> None:
    assert _refusal(encoded) == reason


def test_placeholders_are_found_at_any_depth_without_recursion() -> None:
    deep: object = {"_placeholder": True, "num": 5}
    for _ in range(10_000):
        deep = [deep]
    assert placeholders_valid(deep, 6)
    assert not placeholders_valid(deep, 5)
