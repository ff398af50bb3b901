"""The operator's session: a signed, expiring token in an httpOnly cookie, its CSRF token,
and the checks every cookie-authenticated write goes through.

The token is ``<payload>.<signature>``: the payload says when it expires and carries a
random session id; the signature is an HMAC-SHA256 under a key derived from
``TOCSIN_ADMIN_KEY``, so changing the admin key signs every operator out. Nothing is kept
on the server: any node verifies any node's cookie. (Signing out removes the cookie from
the browser; a copy taken before stays valid until it expires.)

A write with the cookie must come from the page itself: its ``Origin`` is the server's own
(or, without one or with ``null``, ``Sec-Fetch-Site: same-origin``), and it carries the CSRF
token derived from the session (``X-CSRF-Token`` header, or the form's ``csrf`` field). The
cookie is ``SameSite=Strict`` on top.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from tocsin.api.csrf import SAFE_METHODS, own_origins, parse_origin
from tocsin.errors import Forbidden, RateLimited
from tocsin.limits import KeyedLimiter, retry_after_seconds

COOKIE = "tocsin_admin"
COOKIE_PATH = "/admin"
SESSION_SECONDS = 8 * 3600
CSRF_HEADER = "x-csrf-token"
_VERSION = "v1"
_MAX_TOKEN = 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class AdminSession:
    """A signed-in operator: the session's id and when it ends (Unix time)."""

    session_id: str
    expires_at: int


class SessionSigner:
    """Issues and verifies session tokens and their CSRF tokens under one admin key."""

    def __init__(self, admin_key: str) -> None:
        # A key of its own: the admin key itself never signs anything a browser holds.
        self._key = hmac.new(
            admin_key.encode("utf-8"), b"tocsin/admin-session/v1", hashlib.sha256
        ).digest()

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, now: float | None = None) -> tuple[str, AdminSession]:
        """A new session: its token (the cookie's value) and what it stands for."""
        expires = int((time.time() if now is None else now) + SESSION_SECONDS)
        session = AdminSession(secrets.token_urlsafe(18), expires)
        payload = f"{_VERSION}:{expires}:{session.session_id}"
        return f"{_b64(payload.encode('ascii'))}.{self._sign(payload)}", session

    def verify(self, token: str | None, now: float | None = None) -> AdminSession | None:
        """The session a token stands for; None when it is missing, forged or expired."""
        if not token or len(token) > _MAX_TOKEN or token.count(".") != 1:
            return None
        encoded, signature = token.split(".")
        try:
            payload = _unb64(encoded).decode("ascii")
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        version, _, rest = payload.partition(":")
        expires, _, session_id = rest.partition(":")
        if version != _VERSION or not expires.isdigit() or not session_id:
            return None
        if int(expires) <= (time.time() if now is None else now):
            return None
        return AdminSession(session_id, int(expires))

    def csrf_token(self, session: AdminSession) -> str:
        """The token the page sends back with every write of this session."""
        return self._sign(f"csrf:{session.session_id}")

    def csrf_matches(self, session: AdminSession, presented: str | None) -> bool:
        """Whether ``presented`` is this session's CSRF token (constant time)."""
        return presented is not None and hmac.compare_digest(
            self.csrf_token(session).encode("ascii"), presented.encode("utf-8", "replace")
        )


def require_same_origin(method: str, scheme: str, headers: Mapping[str, str]) -> None:
    """Refuse a write that does not come from a page of this server.

    Raises:
        Forbidden: a foreign ``Origin``, or none and no ``Sec-Fetch-Site: same-origin``
            (``field: "Origin"``).
    """
    if method in SAFE_METHODS:
        return
    origin = headers.get("origin")
    # "null": what a browser sends for a page whose referrer policy is no-referrer; the
    # browser's own Sec-Fetch-Site then says where the request comes from.
    if origin is None or origin.strip() == "null":
        if headers.get("sec-fetch-site", "").strip().lower() != "same-origin":
            raise Forbidden(
                "the operator page accepts writes from its own pages only (no Origin)",
                field="Origin",
            )
        return
    found = parse_origin(origin)
    if found is None or found not in own_origins(scheme, headers):
        raise Forbidden(
            f"the operator page accepts writes from its own pages only, not {origin[:200]!r}",
            field="Origin",
        )


def is_https(scheme: str, headers: Mapping[str, str]) -> bool:
    """Whether the browser reached us over TLS (directly, or through a proxy that says so):
    the cookie is then ``Secure``."""
    forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return scheme == "https" or forwarded == "https"


class SignInLimiter:
    """Sign-in attempts per client address (5 at once, then one every 12 s) and for the
    whole node (30 at once, then one a second): guessing the key stays hopeless. Per node:
    behind a load balancer each node counts its own."""

    def __init__(self) -> None:
        self._per_client = KeyedLimiter(rate=1 / 12, burst=5, max_keys=10_000)
        self._everyone = KeyedLimiter(rate=1.0, burst=30, max_keys=1)

    def spend(self, client: str) -> None:
        """Spend one attempt.

        Raises:
            RateLimited: too many attempts; ``retry_after`` says when to try again.
        """
        wait = max(self._per_client.take(client), self._everyone.take(""))
        if wait:
            raise RateLimited(
                "too many sign-in attempts; try again later",
                retry_after=retry_after_seconds(wait),
                field="key",
            )
