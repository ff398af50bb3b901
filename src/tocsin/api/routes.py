"""HTTP routes of publishing (API keys); the inbox is in :mod:`tocsin.api.inbox`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tocsin.api.deps import json_body, publisher_of, service_of
from tocsin.auth.apikeys import Publisher
from tocsin.errors import ValidationFailed
from tocsin.models import notification_adapter
from tocsin.service import (
    MAX_BATCH,
    MAX_IDEMPOTENCY_KEY,
    NotificationService,
    Published,
)

router = APIRouter(prefix="/api/v1")

# The publish routes read their headers themselves (see _publishing); these document them.
_PUBLISH_HEADERS = [
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
    },
    {"name": "authorization", "in": "header", "required": False, "schema": {"type": "string"}},
]
NOTIFICATION_SCHEMA = notification_adapter.json_schema(
    by_alias=True, ref_template="#/components/schemas/{model}"
)
_ONE = {
    "parameters": _PUBLISH_HEADERS,
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": NOTIFICATION_SCHEMA}},
    },
}
_MANY = {
    "parameters": _PUBLISH_HEADERS,
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
    },
}


async def _publishing(request: Request) -> tuple[NotificationService, Publisher, str | None]:
    """The service, the API key's publisher and the ``Idempotency-Key`` of a publish.

    Read here rather than declared as FastAPI dependencies and header parameters: resolving
    those cost as much event-loop time as validating and handing over the notification.

    Raises:
        Unauthorized: no valid API key.
        ValidationFailed: the key is over 255 characters.
    """
    service = service_of(request)
    publisher = await publisher_of(service, request.headers.get("authorization"))
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise ValidationFailed(
            f"Idempotency-Key: at most {MAX_IDEMPOTENCY_KEY} characters",
            field="Idempotency-Key",
        )
    return service, publisher, key


@router.post("/notifications", status_code=202, openapi_extra=_ONE, tags=["publish"])
async def publish(request: Request) -> JSONResponse:
    """Publish one notification; ``202 {id, cursor}`` once it is durably stored."""
    service, publisher, idempotency_key = await _publishing(request)
    service.check_publish_rate(publisher)
    result = await service.publish(await json_body(request), publisher, idempotency_key)
    headers = None if result.created else {"Idempotent-Replayed": "true"}
    return JSONResponse(result.to_json(), status_code=202, headers=headers)


@router.post("/notifications/batch", openapi_extra=_MANY, tags=["publish"])
async def publish_batch(request: Request) -> JSONResponse:
    """Publish up to 1,000 notifications; each result is ``{id, cursor}`` or ``{error}``."""
    service, publisher, idempotency_key = await _publishing(request)
    body = await json_body(request)
    items = body.get("notifications") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValidationFailed("notifications: must be a list", field="notifications")
    service.check_publish_rate(publisher, len(items))
    outcomes = await service.publish_many(items, publisher, idempotency_key)
    return JSONResponse(
        {
            "results": [
                o.to_json() if isinstance(o, Published) else {"status": o.status, **o.to_json()}
                for o in outcomes
            ]
        }
    )
