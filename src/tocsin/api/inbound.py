"""``POST /api/v1/inbound/email``: a raw RFC 822 message from a mail provider → a notification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from tocsin.api.deps import PublisherDep, ServiceDep
from tocsin.auth.apikeys import Publisher
from tocsin.errors import BadRequest, Forbidden, PayloadTooLarge, TocsinError, ValidationFailed
from tocsin.ingest.config import Route, current_mailboxes
from tocsin.ingest.parse import DEFAULT_DOSSIER_PATTERN, MAX_MESSAGE_BYTES, MalformedMessage
from tocsin.ingest.publish import Outcome, count, outcome_of, publish_mail
from tocsin.ingest.routing import InboundRouter
from tocsin.ingest.worker import parse_off_loop
from tocsin.service import Published

router = APIRouter(prefix="/api/v1", tags=["ingest"])

SOURCE = "webhook"
MEDIA_TYPES = ("message/rfc822", "text/plain", "application/octet-stream")
_BODY = {
    "requestBody": {
        "required": True,
        "description": "The message as received, headers and body (RFC 822 / RFC 5322).",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES},
    }
}
OptionalId = Annotated[str | None, Query(min_length=1, max_length=200)]


class UnsupportedMediaType(TocsinError):
    """The body is not sent as a raw message."""

    status = 415
    default_code = "unsupported_media_type"


async def read_message(request: Request, limit: int, keep: int) -> tuple[bytes, int]:
    """The first ``keep`` bytes of the body and its full size, never holding more in memory.

    Raises:
        PayloadTooLarge: over ``limit`` bytes.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is over {limit} bytes", field="body")
    head = bytearray()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over {limit} bytes", field="body")
        if len(head) < keep:
            head.extend(chunk[: keep - len(head)])
    return bytes(head), size


def _explicit_route(publisher: Publisher, tenant_id: str | None, user_id: str | None) -> Route:
    if tenant_id is None and publisher.tenant_id is not None:
        tenant_id = publisher.tenant_id
    if tenant_id is None or user_id is None:
        missing = "userId" if user_id is None else "tenantId"
        raise ValidationFailed(f"{missing}: required with the other", field=missing)
    if publisher.tenant_id is not None and tenant_id != publisher.tenant_id:
        raise Forbidden(
            f"this key publishes only into tenant {publisher.tenant_id!r}", field="tenantId"
        )
    return Route(tenantId=tenant_id, userId=user_id)


def _recipient_routes(publisher: Publisher, routes: list[Route]) -> list[Route]:
    if publisher.tenant_id is None:
        return routes
    own = [r for r in routes if r.tenantId == publisher.tenant_id]
    if routes and not own:
        raise Forbidden(
            f"the recipients are routed outside tenant {publisher.tenant_id!r}", field="to"
        )
    return own


@router.post("/inbound/email", status_code=202, openapi_extra=_BODY)
async def inbound_email(
    request: Request,
    response: Response,
    service: ServiceDep,
    publisher: PublisherDep,
    tenant_id: Annotated[OptionalId, Query(alias="tenantId")] = None,
    user_id: Annotated[OptionalId, Query(alias="userId")] = None,
) -> dict[str, Any]:
    """Publish the ``email-received`` of a raw message; ``202 {id, cursor}``.

    The recipients (Delivered-To, To, Cc…) are routed with the mailboxes file, unless
    ``tenantId`` and ``userId`` name the user. The id comes from the Message-ID (else the
    bytes) and the user, so a provider's retry creates nothing and answers the same.
    """
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media and media not in MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"send the raw message as {' or '.join(MEDIA_TYPES)} (got {media})",
            field="Content-Type",
        )
    settings = service.settings
    head, size = await read_message(request, settings.inbound_max_bytes, MAX_MESSAGE_BYTES)
    if not head.strip():
        raise BadRequest("a raw RFC 822 message is required", code="invalid_message", field="body")
    try:
        mail = await parse_off_loop(head, total_size=size)
    except MalformedMessage as exc:
        count(SOURCE, Outcome.MALFORMED)
        raise ValidationFailed(
            f"body: not an e-mail message: {exc}", code="invalid_message", field="body"
        ) from None
    if tenant_id is not None or user_id is not None:
        routes = [_explicit_route(publisher, tenant_id, user_id)]
    else:
        found, mailbox = InboundRouter(current_mailboxes(settings.mailboxes_file)).resolve(
            mail.recipients
        )
        routes = _recipient_routes(publisher, found)
        if mailbox is not None and mailbox.dossier_pattern != DEFAULT_DOSSIER_PATTERN:
            mail = await parse_off_loop(head, dossier_pattern=mailbox.pattern, total_size=size)
    if not routes:
        count(SOURCE, Outcome.UNROUTED)
        raise ValidationFailed(
            "to: no routing rule matches the recipients "
            f"({', '.join(mail.recipients) or 'none'}); pass tenantId and userId",
            code="unrouted",
            field="to",
        )
    service.check_publish_rate(publisher, len(routes))
    results = await publish_mail(service, mail, routes, publisher)
    count(SOURCE, outcome_of(mail, results))
    published = [r for r in results if isinstance(r, Published)]
    errors = [r for r in results if isinstance(r, TocsinError)]
    if errors:
        raise errors[0]
    if not any(p.created for p in published):
        response.headers["Idempotent-Replayed"] = "true"
    return {
        **published[0].to_json(),
        "notifications": [
            {**p.to_json(), "tenantId": r.tenantId, "userId": r.userId}
            for p, r in zip(published, routes, strict=True)
        ],
    }


__all__ = ["router"]
