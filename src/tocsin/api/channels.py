"""HTTP routes of the channels beyond the socket (DESIGN §8): Web Push subscriptions, user
profiles, and a notification's delivery log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from tocsin.api.deps import IdentityDep, PublisherDep, ServiceDep, json_body
from tocsin.channelcases import delivery_json
from tocsin.config import Settings
from tocsin.push.vapid import load_private_key

router = APIRouter(prefix="/api/v1", tags=["channels"])


def _public_key(settings: Settings) -> str | None:
    key = settings.vapid_private_key
    return None if not key else load_private_key(key).public_key


@router.get("/push/public-key")
async def push_public_key(service: ServiceDep) -> dict[str, Any]:
    """``{publicKey}``: the VAPID key browsers subscribe with (``applicationServerKey``);
    null when this server has none (``TOCSIN_VAPID_PRIVATE_KEY``)."""
    return {"publicKey": _public_key(service.settings)}


@router.post("/push/subscriptions", status_code=201)
async def subscribe(request: Request, service: ServiceDep, identity: IdentityDep) -> Response:
    """Keep the browser's ``PushSubscription`` JSON for the signed-in user."""
    await service.subscribe_push(identity, await json_body(request))
    return Response(status_code=201)


@router.delete("/push/subscriptions", status_code=204)
async def unsubscribe(request: Request, service: ServiceDep, identity: IdentityDep) -> Response:
    """Forget ``{endpoint}`` (204 whether it was known or not)."""
    await service.unsubscribe_push(identity, await json_body(request))
    return Response(status_code=204)


@router.put("/tenants/{tenant_id}/users/{user_id}")
async def put_profile(
    tenant_id: str, user_id: str, request: Request, service: ServiceDep, publisher: PublisherDep
) -> dict[str, Any]:
    """Set ``{email, locale, timezone}`` of a user (tenant key or admin key)."""
    return await service.put_profile(publisher, tenant_id, user_id, await json_body(request))


@router.get("/tenants/{tenant_id}/users/{user_id}")
async def get_profile(
    tenant_id: str, user_id: str, service: ServiceDep, publisher: PublisherDep
) -> dict[str, Any]:
    """A user's profile (tenant key or admin key)."""
    return await service.get_profile(publisher, tenant_id, user_id)


@router.get("/notifications/{notification_id}/deliveries")
async def deliveries(
    notification_id: str, service: ServiceDep, publisher: PublisherDep
) -> dict[str, Any]:
    """``{deliveries: [{tenantId, userId, channel, status, detail, at}]}``, oldest first."""
    found = await service.deliveries_of(publisher, notification_id)
    return {"deliveries": [delivery_json(d) for d in found]}
