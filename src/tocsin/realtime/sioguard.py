"""Which Socket.IO packets a server takes from a client, as Node's socket.io-parser decides.

python-socketio decodes what it can and logs the rest: an event whose payload is not a list
raises inside its handler lookup, a binary packet waits for attachments without limit, a
placeholder may point anywhere (a negative ``num`` picks an attachment from the end), and
the connection stays open. Node's socket.io closes it; :class:`engine.SocketServer` does
the same with the reasons given here. Pure functions on decoded packets, no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from socketio import packet as sio_packet

# socket.io-parser's default ``maxAttachments``: binary parts of one packet.
MAX_ATTACHMENTS = 10

# Event names a client may not emit (socket.io-parser's RESERVED_EVENTS): python-socketio
# would run the server's own ``connect`` or ``disconnect`` handler with the client's data.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)

_BINARY_TYPES = frozenset({sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK})
# A binary packet's header: its type, then its attachment count and a dash.
_BINARY_HEADER = re.compile(r"[56]\d{1,10}-")


def is_binary(pkt: Any) -> bool:
    """Whether ``pkt`` is a BINARY_EVENT or BINARY_ACK (attachments follow it)."""
    return pkt.packet_type in _BINARY_TYPES


def packet_refusal(encoded: str, pkt: Any) -> str | None:
    """Why the packet ``pkt``, decoded from ``encoded``, is refused (None: it is valid).

    Checks the payload of each packet type (a CONNECT carries an object or nothing, an
    event a non-empty list led by its name, an ack a list and an id) and, for a binary
    packet, its attachment count and placeholders.
    """
    kind = pkt.packet_type
    data = pkt.data
    if kind == sio_packet.CONNECT:
        return None if data is None or isinstance(data, dict) else "invalid_connect_payload"
    if kind == sio_packet.DISCONNECT:
        return None if data is None else "invalid_disconnect_payload"
    if kind in (sio_packet.EVENT, sio_packet.BINARY_EVENT):
        if not isinstance(data, list) or not data or not _is_event_name(data[0]):
            return "invalid_event_payload"
    elif kind in (sio_packet.ACK, sio_packet.BINARY_ACK):
        if not isinstance(data, list) or pkt.id is None:
            return "invalid_ack_payload"
    else:
        return "unexpected_packet_type"  # CONNECT_ERROR (server to client only), or unknown
    if kind in _BINARY_TYPES:
        if _BINARY_HEADER.match(encoded) is None:
            return "invalid_attachment_count"
        if pkt.attachment_count > MAX_ATTACHMENTS:
            return "too_many_attachments"
        if not placeholders_valid(data, pkt.attachment_count):
            return "invalid_placeholder"
    return None


def _is_event_name(name: object) -> bool:
    if isinstance(name, str):
        return name not in RESERVED_EVENTS
    return isinstance(name, int) and not isinstance(name, bool)


def placeholders_valid(data: Any, attachments: int) -> bool:
    """Whether every ``{"_placeholder": true, "num": n}`` in ``data`` has an integer ``n``
    naming one of ``attachments`` attachments (walked without recursion)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            # python-socketio takes any truthy "_placeholder" for one.
            if item.get("_placeholder"):
                num = item.get("num")
                if not isinstance(num, int) or isinstance(num, bool):
                    return False
                if not 0 <= num < attachments:
                    return False
            else:
                stack.extend(item.values())
    return True
