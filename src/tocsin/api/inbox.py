"""HTTP routes of the end user's inbox (DESIGN §5, §7): the same identity as the socket
(session cookie or bearer token) and the same answers as the socket's acknowledgements."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from tocsin.api.deps import IdentityDep, ServiceDep, json_body
from tocsin.inboxstates import parse_view
from tocsin.models import EventName
from tocsin.service import parse_cursor

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])


def _field(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, dict) else None


@router.get("")
async def inbox(
    service: ServiceDep,
    identity: IdentityDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
    event: Annotated[EventName | None, Query()] = None,
    unread: bool = False,
    archived: bool = False,
    snoozed: bool = False,
) -> dict[str, Any]:
    """The user's notifications, newest first: ``{items, nextBefore}``. Archived and
    snoozed ones only with ``archived=true`` or ``snoozed=true``."""
    page = await service.inbox(
        identity,
        limit=limit,
        before=None if before is None else parse_cursor(before, "before"),
        event=event,
        unread_only=unread,
        view=parse_view(archived, snoozed),
    )
    return page.to_json()


@router.get("/unread-count")
async def unread_count(service: ServiceDep, identity: IdentityDep) -> dict[str, int]:
    """``{count, unseen}``: unread (the seed's badge) and not yet seen."""
    badge = await service.badge(identity)
    return {"count": badge.unread, "unseen": badge.unseen}


@router.get("/counts")
async def counts(service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """``{unread, unseen, total, archived, snoozed, byEvent: {<event>: {unread, total}}}``."""
    return (await service.counts(identity)).to_json()


@router.post("/seen")
async def mark_seen(request: Request, service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """Mark ``{ids}`` seen."""
    body = await json_body(request)
    return (await service.mark_seen(identity, _field(body, "ids"))).to_json()


@router.post("/read")
async def mark_read(request: Request, service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """Mark ``{ids}`` read; answers the ids that matched and the new counts."""
    body = await json_body(request)
    return (await service.mark_read(identity, _field(body, "ids"))).to_json()


@router.post("/read-all")
async def mark_all_read(
    request: Request, service: ServiceDep, identity: IdentityDep
) -> dict[str, Any]:
    """Mark everything read (optionally ``{upTo: cursor}``)."""
    body = await json_body(request, required=False)
    return (await service.mark_all_read(identity, _field(body, "upTo"))).to_json()


@router.post("/clear")
async def clear(request: Request, service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """Remove everything (optionally ``{upTo: cursor}``) from the inbox."""
    body = await json_body(request, required=False)
    return (await service.clear(identity, _field(body, "upTo"))).to_json()


@router.post("/archive")
async def archive(request: Request, service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """Archive ``{ids}`` (a snooze of theirs ends)."""
    body = await json_body(request)
    return (await service.archive(identity, _field(body, "ids"))).to_json()


@router.post("/unarchive")
async def unarchive(request: Request, service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """Bring ``{ids}`` back from the archive."""
    body = await json_body(request)
    return (await service.unarchive(identity, _field(body, "ids"))).to_json()


@router.post("/archive-all")
async def archive_all(
    request: Request, service: ServiceDep, identity: IdentityDep
) -> dict[str, Any]:
    """Archive the inbox (``{upTo?, onlyRead?}``); answers how many were archived."""
    body = await json_body(request, required=False)
    return (await service.archive_all(identity, body)).to_json()


@router.post("/snooze")
async def snooze(request: Request, service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """Hide ``{ids}`` until ``until`` (ISO 8601, a minute to a year ahead)."""
    body = await json_body(request)
    return (await service.snooze(identity, _field(body, "ids"), _field(body, "until"))).to_json()


@router.post("/unsnooze")
async def unsnooze(request: Request, service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """End the snooze of ``{ids}`` now."""
    body = await json_body(request)
    return (await service.unsnooze(identity, _field(body, "ids"))).to_json()


@router.post("/act")
async def act(request: Request, service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """Take action ``action`` of notification ``id`` (once; a second answers the first)."""
    body = await json_body(request)
    return (await service.act(identity, _field(body, "id"), _field(body, "action"))).to_json()
