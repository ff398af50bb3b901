"""Which Socket.IO packets a server takes from a client, as Node's socket.io decides, and
binary attachments kept within a bound.

python-socketio decodes what it can and logs the rest: an event whose payload is not a list
fails inside its handler lookup, a client may emit ``connect`` and run the server's own
connect handler, a binary packet waits for attachments without limit, a placeholder may
point anywhere (a negative ``num`` picks an attachment from the end), and the connection
stays open. Node's socket.io closes it. :class:`PacketGuard`, mixed into
``engine.SocketServer``, does the same; the rules themselves are pure functions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from socketio import packet as sio_packet

from tocsin import metrics

log = logging.getLogger("tocsin.realtime")

# socket.io-parser's default ``maxAttachments``: binary parts of one packet.
MAX_ATTACHMENTS = 10

# Event names a client may not emit (socket.io-parser's RESERVED_EVENTS): python-socketio
# would run the server's own ``connect`` or ``disconnect`` handler with the client's data.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)

_BINARY_TYPES = frozenset({sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK})
_EVENT_TYPES = frozenset({sio_packet.EVENT, sio_packet.BINARY_EVENT})
# A binary packet's header: its type, then its attachment count and a dash.
_BINARY_HEADER = re.compile(r"[56]\d{1,10}-")

# Answers an event no handler is registered for: (sid, event name) → the acknowledgement's
# payload (sent when the client asked for one), or None for no answer.
UnknownEventHandler = Callable[[str, str | int], Awaitable[Any]]


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


class PacketGuard:
    """python-socketio's dispatch of the messages of an Engine.IO session, with Node's
    checks: a packet that is not Socket.IO, or not valid where it comes (an event for a
    namespace not joined, a second CONNECT), closes the session; a CONNECT to a namespace
    the server does not serve is answered ``{"message": "Invalid namespace"}``.

    A binary packet's attachments (at most ``MAX_ATTACHMENTS``) are kept until the last
    one arrives, and they, with the packet, may not exceed the Engine.IO server's
    ``max_http_buffer_size`` (``maxPayload``); one such packet at a time per session.

    An event no handler is registered for goes to :attr:`unknown_event_handler`, when one is
    set, instead of python-socketio's dispatch, which ignores it and never answers its
    acknowledgement (its catch-all ``"*"`` handler cannot tell an event named ``*`` from
    the others).

    Mixed into a ``socketio.AsyncServer`` (before it) with the default serializer.
    """

    unknown_event_handler: UnknownEventHandler | None = None

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        server: Any = self  # a socketio.AsyncServer, untyped
        pending = server._binary_packet.get(eio_sid)
        if pending is not None:
            await self._take_attachment(eio_sid, pending, data)
            return
        if not isinstance(data, str):
            await self._refuse(eio_sid, "unexpected_attachment")
            return
        try:
            pkt = server.packet_class(encoded_packet=data)
        except (ValueError, TypeError, RecursionError):
            await self._refuse(eio_sid, "undecodable_packet")
            return
        reason = packet_refusal(data, pkt) or self._state_refusal(eio_sid, pkt)
        if reason is not None:
            await self._refuse(eio_sid, reason)
            return
        if is_binary(pkt) and pkt.attachment_count > 0:
            pkt.held_bytes = len(data)
            server._binary_packet[eio_sid] = pkt
            return
        await self._dispatch(eio_sid, pkt)

    def _state_refusal(self, eio_sid: str, pkt: Any) -> str | None:
        server: Any = self
        joined = server.manager.sid_from_eio_sid(eio_sid, pkt.namespace or "/") is not None
        if pkt.packet_type == sio_packet.CONNECT:
            return "already_connected" if joined else None
        return None if joined else "namespace_not_connected"

    async def _take_attachment(self, eio_sid: str, pending: Any, data: str | bytes) -> None:
        server: Any = self
        if isinstance(data, str):
            await self._refuse(eio_sid, "attachment_missing")
            return
        pending.held_bytes += len(data)
        if pending.held_bytes > server.eio.max_http_buffer_size:
            await self._refuse(eio_sid, "attachments_too_large")
            return
        if pending.add_attachment(data):  # the last one: placeholders are replaced
            del server._binary_packet[eio_sid]
            await self._dispatch(eio_sid, pending)

    async def _dispatch(self, eio_sid: str, pkt: Any) -> None:
        server: Any = self
        kind, namespace = pkt.packet_type, pkt.namespace
        if kind == sio_packet.CONNECT:
            if self._serves(namespace or "/"):
                await server._handle_connect(eio_sid, namespace, pkt.data)
            else:
                refusal = {"message": "Invalid namespace"}
                await server._send_packet(
                    eio_sid,
                    server.packet_class(sio_packet.CONNECT_ERROR, refusal, namespace=namespace),
                )
        elif kind == sio_packet.DISCONNECT:
            await server._handle_disconnect(eio_sid, namespace, server.reason.CLIENT_DISCONNECT)
        elif kind in _EVENT_TYPES:
            name = pkt.data[0]
            if self.unknown_event_handler is not None and not self._handles(namespace, name):
                await self._answer_unknown_event(eio_sid, namespace, pkt.id, name)
            else:
                await server._handle_event(eio_sid, namespace, pkt.id, pkt.data)
        else:
            await server._handle_ack(eio_sid, namespace, pkt.id, pkt.data)

    def _handles(self, namespace: str | None, name: str | int) -> bool:
        # python-socketio's lookup (_get_event_handler, then a namespace handler's class).
        server: Any = self
        namespace = namespace or "/"
        for handlers in (server.handlers.get(namespace, {}), server.handlers.get("*", {})):
            if name in handlers or "*" in handlers:
                return True
        return namespace in server.namespace_handlers or "*" in server.namespace_handlers

    async def _answer_unknown_event(
        self, eio_sid: str, namespace: str | None, ack_id: int | None, name: str | int
    ) -> None:
        server: Any = self
        handler = self.unknown_event_handler
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace or "/")
        if handler is None or sid is None:
            return
        answer = await handler(sid, name)
        if ack_id is None or answer is None:
            return
        ack = server.packet_class(sio_packet.ACK, namespace=namespace, id=ack_id, data=[answer])
        await server._send_packet(eio_sid, ack)

    def _serves(self, namespace: str) -> bool:
        # python-socketio's own test, in its _handle_connect.
        server: Any = self
        return bool(
            namespace in server.handlers
            or namespace in server.namespace_handlers
            or server.namespaces == "*"
            or namespace in server.namespaces
        )

    async def _refuse(self, eio_sid: str, reason: str) -> None:
        server: Any = self
        server._binary_packet.pop(eio_sid, None)
        socket = server.eio.sockets.get(eio_sid)
        if socket is None or socket.closed or socket.closing:
            return
        metrics.ERRORS.labels(f"packet_{reason}").inc()
        log.info("closing a session that sent a refused Socket.IO packet (%s)", reason)
        await socket.close(wait=False, reason=server.eio.reason.TRANSPORT_ERROR)
