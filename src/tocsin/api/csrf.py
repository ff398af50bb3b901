"""Cross-site request forgery: what a request riding the session cookie must show to write.

A browser attaches the session cookie (``SameSite=Lax``) to requests from any page of the same
site, and sends a ``text/plain`` POST across origins without asking first. So a request that
is authenticated by the cookie and changes state must carry ``Content-Type: application/json``
(which a page of another origin cannot send without a CORS preflight, and Tocsin's HTTP API
answers none) and come from an allowed origin: its ``Origin`` is the server's own (scheme,
host and port as the request reached it, or as ``X-Forwarded-Proto`` / ``X-Forwarded-Host``
say) or one listed in ``WEBSOCKET_CORS_ORIGIN``; without ``Origin``, ``Sec-Fetch-Site`` must
say ``same-origin``. Bearer tokens are not sent by browsers on their own: they need none of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tocsin.errors import Forbidden, UnsupportedMediaType

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
_ADVICE = (
    "send the session token as Authorization: Bearer, or list the page's origin in "
    "WEBSOCKET_CORS_ORIGIN"
)


def normal_origin(scheme: str, host: str) -> str:
    """``scheme://host[:port]`` in lower case, without the scheme's default port."""
    scheme = scheme.strip().lower()
    host = host.strip().lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default is not None and host.endswith(":" + default):
        host = host[: -len(default) - 1]
    return f"{scheme}://{host}"


def parse_origin(value: str) -> str | None:
    """An ``Origin`` header or configured origin, normalised; ``None`` for ``null`` or junk."""
    scheme, sep, host = value.strip().partition("://")
    if not sep or not scheme or not host or "/" in host.rstrip("/"):
        return None
    return normal_origin(scheme, host.rstrip("/"))


def own_origins(scheme: str, headers: Mapping[str, str]) -> set[str]:
    """The origins a request reached: its ``Host``, and the proxy's forwarded host and scheme."""
    origins: set[str] = set()
    host = headers.get("host")
    if host:
        origins.add(normal_origin(scheme, host))
    forwarded_host = headers.get("x-forwarded-host")
    forwarded_proto = headers.get("x-forwarded-proto")
    if forwarded_host or forwarded_proto:
        outer_host = (forwarded_host or host or "").split(",")[0]
        outer_scheme = (forwarded_proto or scheme).split(",")[0]
        if outer_host.strip():
            origins.add(normal_origin(outer_scheme, outer_host))
    return origins


def configured_origins(cors_origins: Iterable[str] | str) -> frozenset[str]:
    """``WEBSOCKET_CORS_ORIGIN``'s list, normalised. ``*`` allows no cookie write from anywhere:
    it would hand every site the user's inbox."""
    if isinstance(cors_origins, str):
        return frozenset()
    return frozenset(o for o in map(parse_origin, cors_origins) if o is not None)


def require_same_origin_json(
    method: str, scheme: str, headers: Mapping[str, str], allowed: frozenset[str]
) -> None:
    """Refuse a state-changing, cookie-authenticated request that a foreign page could forge.

    ``headers`` has lower-case names (as Starlette's ``Headers``); ``allowed`` comes from
    :func:`configured_origins`.

    Raises:
        Forbidden: the ``Origin`` is not the server's own nor allowed, or there is no
            ``Origin`` and ``Sec-Fetch-Site`` is not ``same-origin`` (``field: "Origin"``).
        UnsupportedMediaType: the body is not declared ``application/json``
            (``field: "Content-Type"``).
    """
    if method in SAFE_METHODS:
        return
    origin = headers.get("origin")
    if origin is None:
        if headers.get("sec-fetch-site", "").strip().lower() != "same-origin":
            raise Forbidden(
                "a request that changes state with the session cookie needs an Origin header "
                f"(or Sec-Fetch-Site: same-origin): {_ADVICE}",
                field="Origin",
            )
    else:
        found = parse_origin(origin)
        if found is None or (found not in allowed and found not in own_origins(scheme, headers)):
            raise Forbidden(
                f"Origin {origin[:200]!r} may not change state with the session cookie: {_ADVICE}",
                field="Origin",
            )
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(
            "a request that changes state with the session cookie must send "
            "Content-Type: application/json",
            field="Content-Type",
        )
