"""A small case-management backend that tells Tocsin about its dossiers.

Run it next to a Tocsin server:

    TOCSIN_URL=http://127.0.0.1:8000 TOCSIN_API_KEY=tsk_… \\
        uvicorn examples.dossier_app.app:create_app --factory --port 3001

Every change to a dossier — created, updated, status changed, document added — is saved
first, then published with the SDK's ``notify_dossier_updated``, to the lawyer in charge.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tocsin.sdk import AsyncTocsinClient


@dataclass
class Dossier:
    """What the host app stores; Tocsin only hears about changes."""

    id: str
    number: str
    client: str
    kind: str
    lawyer_id: str
    tenant_id: str
    status: str = "OUVERT"
    documents: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """« Client - Type », as the seed's example builds it."""
        return f"{self.client} - {self.kind}"


def create_app(tocsin: AsyncTocsinClient | None = None) -> Starlette:
    """The host app; ``tocsin`` defaults to a client built from TOCSIN_URL / TOCSIN_API_KEY."""
    client = tocsin or AsyncTocsinClient(os.environ["TOCSIN_URL"], os.environ["TOCSIN_API_KEY"])
    dossiers: dict[str, Dossier] = {}

    async def notify(dossier: Dossier, action: str, status: str | None = None) -> dict[str, Any]:
        # The SDK sends an Idempotency-Key: its retries never publish a change twice.
        data: dict[str, Any] = {
            "dossierNumber": dossier.number,
            "dossierTitle": dossier.title,
            "action": action,
            "userId": dossier.lawyer_id,
            "tenantId": dossier.tenant_id,
            "timestamp": datetime.now(UTC),
        }
        if status is not None:
            data["status"] = status
        return await client.notify_dossier_updated(data)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    async def create(request: Request) -> JSONResponse:
        body = await request.json()
        dossier = Dossier(
            id=str(len(dossiers) + 1),
            number=body["number"],
            client=body["client"],
            kind=body["kind"],
            lawyer_id=body["lawyerId"],
            tenant_id=body["tenantId"],
        )
        dossiers[dossier.id] = dossier
        published = await notify(dossier, "created")
        return JSONResponse({"id": dossier.id, "notification": published}, status_code=201)

    async def update(request: Request) -> JSONResponse:
        dossier = dossiers[request.path_params["id"]]
        body = await request.json()
        if "status" in body and body["status"] != dossier.status:
            dossier.status = body["status"]
            published = await notify(dossier, "status_changed", dossier.status)
        else:
            dossier.client = body.get("client", dossier.client)
            dossier.kind = body.get("kind", dossier.kind)
            published = await notify(dossier, "updated")
        return JSONResponse({"id": dossier.id, "notification": published})

    async def add_document(request: Request) -> JSONResponse:
        dossier = dossiers[request.path_params["id"]]
        body = await request.json()
        dossier.documents.append(body["name"])
        published = await notify(dossier, "document_added", body["name"])
        return JSONResponse({"id": dossier.id, "notification": published}, status_code=201)

    return Starlette(
        routes=[
            Route("/dossiers", create, methods=["POST"]),
            Route("/dossiers/{id}", update, methods=["PATCH"]),
            Route("/dossiers/{id}/documents", add_document, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
