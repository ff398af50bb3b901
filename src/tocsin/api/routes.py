"""HTTP routes: publishing (API keys) and the end user's inbox (user tokens)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from tocsin.api.deps import IdentityDep, PublisherDep, ServiceDep, json_body
from tocsin.errors import ValidationFailed
from tocsin.models import EventName, notification_adapter
from tocsin.service import MAX_BATCH, Published, parse_cursor

router = APIRouter(prefix="/api/v1")

NOTIFICATION_SCHEMA = notification_adapter.json_schema(
    by_alias=True, ref_template="#/components/schemas/{model}"
)
_ONE = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": NOTIFICATION_SCHEMA}},
    }
}
_MANY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["notifications"],
                    "properties": {
                        "notifications": {
                            "type": "array",
                            "maxItems": MAX_BATCH,
                            "items": NOTIFICATION_SCHEMA,
                        }
                    },
                }
            }
        },
    }
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


@router.post("/notifications", status_code=202, openapi_extra=_ONE, tags=["publish"])
async def publish(
    request: Request,
    response: Response,
    service: ServiceDep,
    publisher: PublisherDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Publish one notification; ``202 {id, cursor}`` once it is durably stored."""
    service.check_publish_rate(publisher)
    result = await service.publish(await json_body(request), publisher, idempotency_key)
    if not result.created:
        response.headers["Idempotent-Replayed"] = "true"
    return result.to_json()


@router.post("/notifications/batch", openapi_extra=_MANY, tags=["publish"])
async def publish_batch(
    request: Request,
    service: ServiceDep,
    publisher: PublisherDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Publish up to 1,000 notifications; each result is ``{id, cursor}`` or ``{error}``."""
    body = await json_body(request)
    items = body.get("notifications") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValidationFailed("notifications: must be a list", field="notifications")
    service.check_publish_rate(publisher, len(items))
    outcomes = await service.publish_many(items, publisher, idempotency_key)
    return {
        "results": [
            o.to_json() if isinstance(o, Published) else {"status": o.status, **o.to_json()}
            for o in outcomes
        ]
    }


@router.get("/inbox", tags=["inbox"])
async def inbox(
    service: ServiceDep,
    identity: IdentityDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
    event: Annotated[EventName | None, Query()] = None,
    unread: bool = False,
) -> dict[str, Any]:
    """The user's notifications, newest first: ``{items, nextBefore}``."""
    page = await service.inbox(
        identity,
        limit=limit,
        before=None if before is None else parse_cursor(before, "before"),
        event=event,
        unread_only=unread,
    )
    return page.to_json()


@router.get("/inbox/unread-count", tags=["inbox"])
async def unread_count(service: ServiceDep, identity: IdentityDep) -> dict[str, int]:
    """``{count}`` of unread notifications."""
    return {"count": await service.unread_count(identity)}


@router.post("/inbox/read", tags=["inbox"])
async def mark_read(request: Request, service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """Mark ``{ids}`` read; answers the ids that matched and the new unread count."""
    body = await json_body(request)
    ids = body.get("ids") if isinstance(body, dict) else None
    marked, unread = await service.mark_read(identity, ids)
    return {"ids": marked, "unreadCount": unread}


@router.post("/inbox/read-all", tags=["inbox"])
async def mark_all_read(
    request: Request, service: ServiceDep, identity: IdentityDep
) -> dict[str, Any]:
    """Mark everything read (optionally ``{upTo: cursor}``)."""
    body = await json_body(request, required=False)
    up_to = body.get("upTo") if isinstance(body, dict) else None
    watermark, unread = await service.mark_all_read(identity, up_to)
    return {"upTo": watermark, "unreadCount": unread}


@router.post("/inbox/clear", tags=["inbox"])
async def clear(request: Request, service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """Remove everything (optionally ``{upTo: cursor}``) from the inbox."""
    body = await json_body(request, required=False)
    up_to = body.get("upTo") if isinstance(body, dict) else None
    watermark, unread = await service.clear(identity, up_to)
    return {"upTo": watermark, "unreadCount": unread}
