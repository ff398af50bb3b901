"""``GET /api/v1/audit``: the audit log, JSON or CSV (DESIGN §9). Read-only: the log is
append-only, and no route changes or deletes an entry."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from tocsin.api.deps import PublisherDep, service_of
from tocsin.audit import audit_page, parse_query

router = APIRouter(prefix="/api/v1", tags=["audit"])

_CSV = "text/csv"


def wants_csv(format_: str | None, accept: str | None) -> bool:
    """CSV when ``format=csv``, or when ``Accept`` names ``text/csv`` and no ``format`` is
    given (``format=json`` wins over the header)."""
    if format_ is not None:
        return format_ == "csv"
    return accept is not None and _CSV in accept.lower()


@router.get(
    "/audit",
    responses={200: {"content": {_CSV: {"schema": {"type": "string"}}}}},
)
async def read_audit(
    request: Request,
    publisher: PublisherDep,
    tenant_id: Annotated[str | None, Query(alias="tenantId", max_length=200)] = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    format_: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Audit entries, oldest first: a tenant's key reads its tenant, the admin key the
    ``tenantId`` it names or every tenant. ``since`` (inclusive) and ``until`` (exclusive)
    are ISO 8601 times; ``nextCursor`` (or, in CSV, the ``X-Next-Cursor`` header) is
    passed back as ``cursor`` for the next page. CSV with ``format=csv`` or
    ``Accept: text/csv``."""
    query = parse_query(
        publisher, tenant_id=tenant_id, since=since, until=until, cursor=cursor, limit=limit
    )
    page = await audit_page(service_of(request).store, query)
    # Who did what is nobody's cache's business.
    headers = {"Cache-Control": "no-store"}
    if not wants_csv(format_, accept):
        return JSONResponse(page.to_json(), headers=headers)
    headers["Content-Disposition"] = 'attachment; filename="tocsin-audit.csv"'
    if page.next_cursor is not None:
        headers["X-Next-Cursor"] = page.next_cursor
    return Response(page.to_csv(), media_type=f"{_CSV}; charset=utf-8", headers=headers)
