"""HTTP routes of preferences (DESIGN §7): a user's own, and a tenant's defaults."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tocsin.api.deps import IdentityDep, PublisherDep, ServiceDep, json_body

router = APIRouter(prefix="/api/v1", tags=["preferences"])


@router.get("/preferences")
async def get_preferences(service: ServiceDep, identity: IdentityDep) -> dict[str, Any]:
    """The user's effective preferences (built-in ⊕ tenant defaults ⊕ their own)."""
    return await service.preferences_of(identity)


@router.put("/preferences")
async def put_preferences(
    request: Request, service: ServiceDep, identity: IdentityDep
) -> dict[str, Any]:
    """Change the user's preferences (a partial document is applied over their own)."""
    return await service.set_preferences(identity, await json_body(request))


@router.get("/tenants/{tenant_id}/preferences")
async def get_tenant_preferences(
    tenant_id: str, service: ServiceDep, publisher: PublisherDep
) -> dict[str, Any]:
    """The tenant's defaults (tenant key or admin key)."""
    return await service.tenant_preferences(publisher, tenant_id)


@router.put("/tenants/{tenant_id}/preferences")
async def put_tenant_preferences(
    tenant_id: str, request: Request, service: ServiceDep, publisher: PublisherDep
) -> dict[str, Any]:
    """Change the tenant's defaults (partial document); audited."""
    return await service.set_tenant_preferences(publisher, tenant_id, await json_body(request))
