"""Request helpers shared by the routes: the service, credentials and JSON bodies."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from tocsin.api.csrf import configured_origins, require_same_origin_json
from tocsin.auth import credentials
from tocsin.auth.apikeys import Publisher
from tocsin.auth.identity import Session
from tocsin.errors import BadRequest, PayloadTooLarge
from tocsin.models import Identity
from tocsin.service import NotificationService

# "\\uD800".."\\uDFFF" escapes, or the UTF-8 bytes of a surrogate (ED A0..BF).
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _may_hold_surrogate(raw: bytes) -> bool:
    # json.loads also reads UTF-16 and UTF-32 (told by NULs in the first bytes, or a BOM):
    # those are checked in full.
    head = raw[:4]
    return (
        b"\x00" in head
        or head[:2] in (b"\xff\xfe", b"\xfe\xff")
        or bool(_MAYBE_SURROGATE.search(raw))
    )


def service_of(request: Request) -> NotificationService:
    """The node's service, set up by the app's lifespan."""
    service: NotificationService = request.app.state.service
    return service


async def get_service(request: Request) -> NotificationService:
    """Dependency form of :func:`service_of` (async: FastAPI runs sync ones in a thread)."""
    return service_of(request)


ServiceDep = Annotated[NotificationService, Depends(get_service)]


async def publisher_of(service: NotificationService, authorization: str | None) -> Publisher:
    """The publisher of the API key in an ``Authorization: Bearer`` header value.

    Raises:
        Unauthorized: no valid key.
    """
    found = credentials.bearer(authorization)
    return await service.authenticate_publisher(found.value if found else None)


async def get_publisher(
    service: ServiceDep, authorization: Annotated[str | None, Header()] = None
) -> Publisher:
    """Dependency form of :func:`publisher_of` (401 without a valid key)."""
    return await publisher_of(service, authorization)


async def user_session_of(request: Request) -> Session:
    """The end user's session of a request: its session cookie, else its bearer token.

    Every route that acts for an end user resolves them here, so that a request riding the
    cookie which changes state (any method but GET, HEAD, OPTIONS) is checked against
    cross-site request forgery first (:mod:`tocsin.api.csrf`).

    Raises:
        Forbidden: a cookie-authenticated write from a foreign or unknown origin.
        UnsupportedMediaType: a cookie-authenticated write that is not JSON.
        AuthError: no valid credential (401 with the reason).
    """
    service = service_of(request)
    headers = request.headers
    credential = credentials.from_http(headers.get("cookie"), headers.get("authorization"))
    if credential is not None and credential.source == "cookie":
        allowed = configured_origins(service.settings.cors_origins)
        require_same_origin_json(request.method, request.scope["scheme"], headers, allowed)
    return await service.authenticate_user(credential)


async def get_identity(
    request: Request,
    # Read by user_session_of from the request; declared so that OpenAPI lists them.
    authorization: Annotated[str | None, Header()] = None,
    cookie: Annotated[str | None, Header()] = None,
) -> Identity:
    """Dependency form of :func:`user_session_of`: the end user (401 with the reason otherwise)."""
    return (await user_session_of(request)).identity


PublisherDep = Annotated[Publisher, Depends(get_publisher)]
IdentityDep = Annotated[Identity, Depends(get_identity)]


async def json_body(request: Request, *, required: bool = True) -> Any:
    """Read a JSON body within the size limit.

    Raises:
        PayloadTooLarge: over ``TOCSIN_MAX_BODY_BYTES``.
        BadRequest: not JSON.
    """
    limit = service_of(request).settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is over {limit} bytes", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over {limit} bytes", field="body")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if required:
            raise BadRequest("a JSON body is required", code="invalid_json", field="body")
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(
            f"body is not valid JSON: {exc}", code="invalid_json", field="body"
        ) from None
    try:
        # JSON may spell unpaired surrogates ("\\ud800"), or carry them UTF-8-encoded (json
        # decodes with surrogatepass): no database stores them as text. Only a body that
        # could hold one is encoded again to find out.
        if _may_hold_surrogate(raw):
            json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(
            "body contains an unpaired UTF-16 surrogate", code="invalid_text", field="body"
        ) from None
    return parsed
