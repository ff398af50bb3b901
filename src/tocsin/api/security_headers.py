"""Response headers that keep browsers from sniffing, framing or leaking what Tocsin serves.

Every HTTP response of the API gets ``X-Content-Type-Options: nosniff``; every HTML response
also gets ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and, unless it sets its
own, ``Content-Security-Policy: frame-ancestors 'none'``. The page at ``/`` and ``/docs``
(whose Swagger UI is served from the package) set a whole policy: :func:`page_headers`.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NOSNIFF = (b"x-content-type-options", b"nosniff")
_FOR_HTML = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)
# A Host header that can go into a policy as it is (no ";" or spaces to add directives).
_PLAIN_HOST = re.compile(r"(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?", re.IGNORECASE)


def page_policy(host: str | None) -> str:
    """The ``Content-Security-Policy`` of the page at ``/``.

    Scripts, styles, images and connections from the server's own origin only. ``'self'``
    covers ``ws:``/``wss:`` to the same host in CSP 3 browsers; older ones need them named,
    so the ``Host`` the request came with is added when it is a plain host. Styles also allow
    inline ``<style>``: the NotificationCenter injects its stylesheet as one.
    """
    sockets = f" ws://{host} wss://{host}" if host and _PLAIN_HOST.fullmatch(host) else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; connect-src 'self'{sockets}; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def page_headers(host: str | None) -> dict[str, str]:
    """Headers of an HTML page Tocsin renders itself: its policy, no framing, no referrer."""
    return {
        "Content-Security-Policy": page_policy(host),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }


def _with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    # Starlette writes header names in lower case.
    names = {name for name, _ in headers}
    if b"x-content-type-options" not in names:
        headers.append(_NOSNIFF)
    if b"content-type" in names:
        media_type = next(value for name, value in headers if name == b"content-type")
        if media_type[:9].lower() == b"text/html":
            headers.extend(header for header in _FOR_HTML if header[0] not in names)
    return headers


class SecurityHeaders:
    """ASGI middleware adding the headers above to each HTTP response.

    A plain ASGI class (not ``BaseHTTPMiddleware``, whose task per request would cost more than
    a publish): it only rewrites the ``http.response.start`` message.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A new message and list: a Response may be sent more than once.
                headers = list(message.get("headers", ()))
                message = {**message, "headers": _with_security_headers(headers)}
            await send(message)

        await self.app(scope, receive, send_secured)
