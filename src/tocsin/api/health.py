"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from tocsin import metrics
from tocsin.api.deps import ServiceDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(service: ServiceDep) -> JSONResponse | dict[str, Any]:
    """The store and the bus answer; 503 with the failing check otherwise."""
    checks: dict[str, str] = {}
    try:
        await service.store.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["bus"] = "ok" if await service.bus.healthy() else "error"
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return body if ready else JSONResponse(body, status_code=503)


@router.get("/metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    """Prometheus exposition of this process's metrics."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
