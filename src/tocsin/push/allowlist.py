"""Which push services a subscription's endpoint may point at (DESIGN §8).

An endpoint is a URL the server will POST to: without a list, any user could aim Tocsin at
an internal address (``http://169.254.169.254/…``, the database's port). Patterns are URLs
whose host may start with ``*.`` (any subdomain, not the bare domain), whose port may be
``*`` (any) and whose path may end with ``*`` (any suffix): ``https://fcm.googleapis.com/*``,
``https://*.push.services.mozilla.com/*``, ``http://127.0.0.1:*`` (tests).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ENDPOINT = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class ServicePattern:
    """One allowed push service."""

    scheme: str
    host: str  # lower case; "*.example.com" for any subdomain
    port: int | None  # None: any
    path: str  # a prefix when it ends with "*", else exact ("" = any)

    def matches(self, scheme: str, host: str, port: int, path: str) -> bool:
        """Whether a parsed endpoint belongs to this service."""
        if scheme != self.scheme or (self.port is not None and port != self.port):
            return False
        if self.host.startswith("*."):
            if not host.endswith(self.host[1:]) or host == self.host[2:]:
                return False
        elif host != self.host:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return not self.path or path == self.path


def parse_pattern(text: str) -> ServicePattern:
    """A pattern of ``TOCSIN_PUSH_SERVICES``.

    Raises:
        ValueError: not an http(s) URL pattern.
    """
    scheme, _, rest = text.strip().partition("://")
    if scheme not in _DEFAULT_PORTS or not rest:
        raise ValueError(f"push service {text!r}: must start with https:// or http://")
    authority, slash, path = rest.partition("/")
    host, colon, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    if not host or "@" in host:
        raise ValueError(f"push service {text!r}: no host")
    if colon and port != "*" and not port.isdigit():
        raise ValueError(f"push service {text!r}: bad port {port!r}")
    return ServicePattern(
        scheme=scheme,
        host=host.lower(),
        port=None if port == "*" else int(port) if port else _DEFAULT_PORTS[scheme],
        path=slash + path if slash else "",
    )


def endpoint_allowed(endpoint: str, patterns: Iterable[ServicePattern]) -> bool:
    """Whether ``endpoint`` is a plain URL (no credentials, no odd characters) of one of
    the allowed services."""
    if (
        len(endpoint) > MAX_ENDPOINT
        or not endpoint.isascii()
        or any(c in endpoint for c in " \\\r\n\t")
    ):
        return False
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or parts.username or parts.password or not parts.hostname:
        return False
    host = parts.hostname.lower()
    port = port if port is not None else _DEFAULT_PORTS[parts.scheme]
    return any(p.matches(parts.scheme, host, port, parts.path or "/") for p in patterns)
