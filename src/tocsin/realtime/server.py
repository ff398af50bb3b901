"""The Socket.IO server: authentication on connect, rooms, and the client events."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import socketio

from tocsin.auth.credentials import from_handshake
from tocsin.auth.errors import AuthError
from tocsin.errors import TocsinError, ValidationFailed
from tocsin.inboxstates import parse_view
from tocsin.models import Identity
from tocsin.realtime.dispatcher import Dispatcher
from tocsin.realtime.engine import SocketServer
from tocsin.service import NotificationService, parse_cursor
from tocsin.store.base import InboxView

log = logging.getLogger("tocsin.realtime")

Ack = dict[str, Any]


def create_socketio_server(service: NotificationService) -> tuple[SocketServer, Dispatcher]:
    """Build the Socket.IO server with Tocsin's handlers, and the dispatcher that feeds it.

    Rooms ``tenant:<id>`` and ``user:<id>`` are the dispatcher's registry, keyed by the
    verified identity; python-socketio's own rooms are not used (a client cannot join any).
    """
    settings = service.settings
    sio = SocketServer(
        async_mode="asgi",
        cors_allowed_origins=settings.cors_origins or None,
        always_connect=False,
        transports=["websocket"] if settings.websocket_only else ["polling", "websocket"],
        logger=False,
        engineio_logger=False,
        send_buffer_limit=settings.max_socket_buffer_bytes,
        connect_timeout=settings.connect_timeout,
    )
    dispatcher = Dispatcher(service, sio)

    def identity_of(sid: str) -> Identity:
        connection = dispatcher.registry.by_sid.get(sid)
        if connection is None:
            raise ValidationFailed("socket is not authenticated", code="unauthorized")
        return connection.identity

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        credential = from_handshake(auth, environ)
        # The environ is kept for the connection's life: not the session's secrets.
        environ.pop("HTTP_COOKIE", None)
        environ.pop("HTTP_AUTHORIZATION", None)
        try:
            session = await service.authenticate_user(credential)
        except AuthError as exc:
            log.debug("refused socket %s: %s", sid, exc.reason)  # tocsin.auth logged why
            raise socketio.exceptions.ConnectionRefusedError(
                "Unauthorized", {"reason": exc.reason}
            ) from None
        since = auth.get("since") if isinstance(auth, dict) else None
        try:
            since_cursor = None if since in (None, "") else parse_cursor(since, "since")
        except ValidationFailed:
            raise socketio.exceptions.ConnectionRefusedError(
                "Invalid since", {"reason": "invalid_since"}
            ) from None
        identity = session.identity
        if (
            len(dispatcher.registry.of_user(identity.tenant_id, identity.user_id))
            >= settings.max_connections_per_user
        ):
            raise socketio.exceptions.ConnectionRefusedError(
                "Too many connections", {"reason": "too_many_connections"}
            )
        dispatcher.attach(sid, identity, since_cursor, expires_at=session.expires_at)
        try:
            await service.remember_email(identity, session.claims)
        except Exception:
            # Where to e-mail is not worth refusing a socket: the next connect tries again.
            log.exception("could not keep the e-mail address of %s", sid)

    async def disconnect(sid: str, reason: Any = None) -> None:
        dispatcher.detach(sid)

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)

    async def over_event_rate(sid: str) -> Ack | None:
        connection = dispatcher.registry.by_sid.get(sid)
        if connection is None or connection.events is None:
            return None
        if not connection.events.take():
            return None
        if connection.strikes is not None and connection.strikes.take():
            log.warning("socket %s floods client events: disconnecting", sid)
            await sio.disconnect(sid)
        return {
            "ok": False,
            "error": "rate_limited",
            "message": f"at most {settings.client_event_rate:g} events a second",
        }

    def acknowledged(
        handler: Callable[[Identity, dict[str, Any], str], Awaitable[Ack]],
    ) -> Callable[[str, Any], Awaitable[Ack]]:
        async def wrapper(sid: str, data: Any = None) -> Ack:
            refusal = await over_event_rate(sid)
            if refusal is not None:
                return refusal
            try:
                if data is None:
                    data = {}
                if not isinstance(data, dict):
                    raise ValidationFailed("payload must be an object", field="payload")
                return {"ok": True, **await handler(identity_of(sid), data, sid)}
            except TocsinError as exc:
                return {"ok": False, **exc.to_json()}
            except Exception:
                log.exception("client event failed")
                return {"ok": False, "error": "internal_error", "message": "internal error"}

        return wrapper

    async def mark_seen(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        return (await service.mark_seen(identity, data.get("ids"), origin=sid)).to_json()

    async def mark_read(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        return (await service.mark_read(identity, data.get("ids"), origin=sid)).to_json()

    async def mark_all_read(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        return (await service.mark_all_read(identity, data.get("upTo"), origin=sid)).to_json()

    async def clear(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        return (await service.clear(identity, data.get("upTo"), origin=sid)).to_json()

    async def archive(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        return (await service.archive(identity, data.get("ids"), origin=sid)).to_json()

    async def unarchive(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        return (await service.unarchive(identity, data.get("ids"), origin=sid)).to_json()

    async def archive_all(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        return (await service.archive_all(identity, data, origin=sid)).to_json()

    async def snooze(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        change = await service.snooze(identity, data.get("ids"), data.get("until"), origin=sid)
        return change.to_json()

    async def unsnooze(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        return (await service.unsnooze(identity, data.get("ids"), origin=sid)).to_json()

    async def act(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        change = await service.act(identity, data.get("id"), data.get("action"), origin=sid)
        return change.to_json()

    async def counts(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        return (await service.counts(identity)).to_json()

    async def get_preferences(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        return {"preferences": await service.preferences_of(identity)}

    async def set_preferences(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        document = data.get("preferences")
        if not isinstance(document, dict):
            raise ValidationFailed("preferences: must be an object", field="preferences")
        return {"preferences": await service.set_preferences(identity, document, origin=sid)}

    async def inbox(identity: Identity, data: dict[str, Any], sid: str) -> Ack:
        limit = data.get("limit", 50)
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise ValidationFailed("limit: must be an integer", field="limit")
        before = data.get("before")
        event = data.get("type") or data.get("event")
        unread_only = bool(data.get("unread", False))
        view = parse_view(data.get("archived"), data.get("snoozed"))
        page = await service.inbox(
            identity,
            limit=limit,
            before=None if before is None else parse_cursor(before, "before"),
            event=event,
            unread_only=unread_only,
            view=view,
        )
        # The newest page, unfiltered, holds the newest notification: counting up to it
        # (not to whatever was stored since) lets the client add what reached it live.
        newest_page = before is None and not event and not unread_only and view is InboxView.INBOX
        up_to = (page.items[0].notification.cursor if page.items else 0) if newest_page else None
        badge = await service.badge(identity, up_to)
        return {**page.to_json(), "unreadCount": badge.unread, "unseenCount": badge.unseen}

    client_events = {
        "mark-seen": mark_seen,
        "mark-read": mark_read,
        "mark-all-read": mark_all_read,
        "clear": clear,
        "archive": archive,
        "unarchive": unarchive,
        "archive-all": archive_all,
        "snooze": snooze,
        "unsnooze": unsnooze,
        "act": act,
        "inbox": inbox,
        "counts": counts,
        "preferences": get_preferences,
        "set-preferences": set_preferences,
    }
    for name, handler in client_events.items():
        sio.on(name, acknowledged(handler))

    async def unknown_event(sid: str, name: str | int) -> Ack:
        # Counted like the others: a misspelt event must not be a way around the limit.
        refusal = await over_event_rate(sid)
        return refusal if refusal is not None else unknown_event_answer(name, client_events)

    sio.unknown_event_handler = unknown_event
    return sio, dispatcher


def unknown_event_answer(name: str | int, known: Iterable[str]) -> Ack:
    """The acknowledgement of a client event Tocsin does not know (``mark-as-read``): it
    names the events there are, so a typo shows at once instead of an ack never coming."""
    shown = repr(name[:64] if isinstance(name, str) else name)
    return {
        "ok": False,
        "error": "unknown_event",
        "message": f"unknown event {shown}: the client events are {', '.join(known)}",
        "field": "event",
    }
