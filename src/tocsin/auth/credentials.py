"""Where a user's credential comes from: session cookie, ``auth.token``, or a bearer header."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tocsin.auth.nextauth import SESSION_COOKIES

Source = Literal["cookie", "auth.token", "header", "argument"]


@dataclass(frozen=True, slots=True)
class Credential:
    """A presented token, where it came from, and the cookie name (Auth.js's salt)."""

    value: str
    source: Source
    cookie_name: str | None = None


def parse_cookie_header(header: str | None) -> dict[str, str]:
    """``a=1; b=2`` → ``{"a": "1", "b": "2"}``; malformed pairs are skipped, first wins."""
    cookies: dict[str, str] = {}
    for pair in (header or "").split(";"):
        name, sep, value = pair.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies


def _chunk_number(suffix: str) -> bool:
    # ASCII digits only: "²".isdigit() is true but int("²") fails, and int() of
    # thousands of digits is refused (and slow).
    return 0 < len(suffix) <= 4 and suffix.isascii() and suffix.isdigit()


_SESSION_COOKIE_NAMES = frozenset(SESSION_COOKIES)


def is_session_cookie_name(name: str) -> bool:
    """Whether a cookie named ``name`` is a session cookie or one of its ``.0``, ``.1``…
    chunks (what :func:`session_cookie` reads)."""
    if name in _SESSION_COOKIE_NAMES:
        return True
    stem, _, chunk = name.rpartition(".")
    return stem in _SESSION_COOKIE_NAMES and _chunk_number(chunk)


def session_cookie(cookies: Mapping[str, str]) -> Credential | None:
    """The NextAuth/Auth.js session cookie, whole or reassembled from ``.0``, ``.1``… chunks."""
    if not cookies:
        return None
    for name in SESSION_COOKIES:
        if cookies.get(name):
            return Credential(cookies[name], "cookie", name)
        prefix = name + "."
        chunks = sorted(
            (int(key[len(prefix) :]), value)
            for key, value in cookies.items()
            if key.startswith(prefix) and _chunk_number(key[len(prefix) :])
        )
        if chunks:
            return Credential("".join(value for _, value in chunks), "cookie", name)
    return None


def bearer(authorization: str | None) -> Credential | None:
    """The token of an ``Authorization: Bearer …`` header value, if any."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return Credential(value.strip(), "header")


def from_handshake(auth: Any, environ: Mapping[str, Any]) -> Credential | None:
    """A Socket.IO handshake's credential: cookie first, then ``auth.token``, then header."""
    found = session_cookie(parse_cookie_header(environ.get("HTTP_COOKIE")))
    if found is not None:
        return found
    if isinstance(auth, Mapping):
        token = auth.get("token")
        if isinstance(token, str) and token.strip():
            return Credential(token.strip(), "auth.token")
    return bearer(environ.get("HTTP_AUTHORIZATION"))


def from_http(cookie: str | None, authorization: str | None) -> Credential | None:
    """An HTTP request's credential: session cookie first, then bearer header."""
    return session_cookie(parse_cookie_header(cookie)) or bearer(authorization)


def from_text(text: str) -> Credential:
    """What someone pastes into `tocsin checktoken`: a token, or a ``Cookie`` header value."""
    text = text.strip()
    if text.lower().startswith("cookie:"):
        text = text[len("cookie:") :].strip()
    if "=" in text and not text.startswith("ey"):
        found = session_cookie(parse_cookie_header(text))
        if found is not None:
            return found
    return Credential(text, "argument")
