"""Database-strategy sessions: the cookie is an opaque id that only the app can resolve."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import Any

import httpx

from tocsin.auth.credentials import Credential
from tocsin.auth.errors import AuthError


class DatabaseSessions:
    """Asks the app's ``/api/auth/session`` who a cookie belongs to; answers are cached."""

    def __init__(self, app_url: str, cache_seconds: float, timeout: float = 5.0) -> None:
        self.endpoint = app_url.rstrip("/") + "/api/auth/session"
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    async def resolve(self, credential: Credential) -> dict[str, Any]:
        """Claims for a session cookie: the session's ``user`` fields plus ``exp``.

        Raises:
            AuthError: ``invalid_token`` when the app has no session for it or cannot be reached.
        """
        name = credential.cookie_name or "next-auth.session-token"
        key = (name, credential.value)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(
                    self.endpoint, headers={"Cookie": f"{name}={credential.value}"}
                )
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthError("invalid_token", f"could not ask {self.endpoint}: {exc}") from None
        user = body.get("user") if isinstance(body, dict) else None
        if not isinstance(user, dict):
            raise AuthError("invalid_token", f"{self.endpoint} knows no session for this cookie")
        claims = dict(user)
        expires = body.get("expires") if isinstance(body, dict) else None
        if isinstance(expires, str):
            with contextlib.suppress(ValueError):
                claims["exp"] = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now, claims)
        return claims
