"""HTTP routes of the deadline registry (API keys: a tenant's key manages its tenant)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from tocsin.api.deps import PublisherDep, json_body
from tocsin.deadlines.service import DeadlineIn, DeadlineService, deadline_to_json

router = APIRouter(prefix="/api/v1/deadlines", tags=["deadlines"])
_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": DeadlineIn.model_json_schema()}},
    }
}


def _deadlines(request: Request) -> DeadlineService:
    service: DeadlineService = request.app.state.deadlines
    return service


@router.put("/{deadline_id:path}", openapi_extra=_BODY, status_code=200)
async def put_deadline(
    deadline_id: str, request: Request, response: Response, publisher: PublisherDep
) -> dict[str, Any]:
    """Create (201) or replace (200) a deadline; it is evaluated at once."""
    record, created, report = await _deadlines(request).put(
        deadline_id, await json_body(request), publisher
    )
    response.status_code = 201 if created else 200
    return {**deadline_to_json(record), "alerted": report.alerted}


@router.delete("/{deadline_id:path}", status_code=204)
async def delete_deadline(
    deadline_id: str,
    request: Request,
    publisher: PublisherDep,
    tenant_id: Annotated[str | None, Query(alias="tenantId")] = None,
) -> Response:
    """Delete a deadline (a tenant key: its own tenant; the admin key: ``?tenantId=``)."""
    await _deadlines(request).delete(tenant_id, deadline_id, publisher)
    return Response(status_code=204)


@router.get("")
async def list_deadlines(
    request: Request,
    publisher: PublisherDep,
    tenant_id: Annotated[str | None, Query(alias="tenantId")] = None,
    due_from: Annotated[date | None, Query(alias="dueFrom")] = None,
    due_to: Annotated[date | None, Query(alias="dueTo")] = None,
    status: Literal["open", "closed"] | None = None,
) -> dict[str, Any]:
    """Deadlines by tenant and due window, soonest first: ``{items}``."""
    records = await _deadlines(request).list_deadlines(
        publisher, tenant_id, due_from=due_from, due_to=due_to, status=status
    )
    return {"items": [deadline_to_json(r) for r in records]}
