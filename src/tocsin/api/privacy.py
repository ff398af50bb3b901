"""HTTP routes of data protection (DESIGN §9): a firm's settings, and erasing or exporting
one user's data. Tenant key of that tenant, or the admin key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tocsin.api.deps import PublisherDep, ServiceDep, json_body

router = APIRouter(prefix="/api/v1", tags=["data protection"])


@router.get("/tenants/{tenant_id}/settings")
async def get_tenant_settings(
    tenant_id: str, service: ServiceDep, publisher: PublisherDep
) -> dict[str, Any]:
    """``{tenantId, name, retentionDays, pushAfter, emailAfter, effective}`` (null: the
    server's default, which ``effective`` shows)."""
    return await service.tenant_settings_of(publisher, tenant_id)


@router.put("/tenants/{tenant_id}/settings")
async def put_tenant_settings(
    tenant_id: str, request: Request, service: ServiceDep, publisher: PublisherDep
) -> dict[str, Any]:
    """Change some settings (the others stay; null restores a default); audited."""
    return await service.set_tenant_settings(publisher, tenant_id, await json_body(request))


@router.delete("/tenants/{tenant_id}/users/{user_id}")
async def erase_user(
    tenant_id: str, user_id: str, service: ServiceDep, publisher: PublisherDep
) -> dict[str, Any]:
    """Erase everything of a user and disconnect their sockets; ``{erased: {kind: count}}``.
    The tenant's own notifications stay (the user's state of them goes)."""
    return {"erased": await service.erase_user(publisher, tenant_id, user_id)}


@router.get(
    "/tenants/{tenant_id}/users/{user_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}},
)
async def export_user(
    tenant_id: str, user_id: str, service: ServiceDep, publisher: PublisherDep
) -> StreamingResponse:
    """Everything Tocsin holds of a user, as one JSON document (streamed)."""
    pieces = await service.export_user(publisher, tenant_id, user_id)
    return StreamingResponse(
        pieces,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
