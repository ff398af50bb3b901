"""Database-strategy sessions: the cookie is an opaque id that only the app can resolve.

Each lookup is a request to the app, so what anyone can make a node spend on cookies it
has never seen is bounded:

- one HTTP client per process (connections reused), opened on first use, closed at shutdown;
- answers cached under a hash of the cookie (so an entry is a few dozen bytes whatever the
  cookie's size): a session for ``TOCSIN_SESSION_CACHE_SECONDS`` and never past its
  expiry, the app's "no such session" for ``TOCSIN_SESSION_REFUSAL_CACHE_SECONDS``; each
  cache keeps at most :data:`MAX_ENTRIES`, the least recently used evicted first. Failures
  to reach the app are not cached: it may be restarting, and real users would be refused;
- concurrent requests with one cookie share one lookup;
- at most ``TOCSIN_SESSION_LOOKUPS`` requests to the app in flight. Others wait for a
  slot up to :data:`QUEUE_WAIT` seconds (so a reconnection storm after a restart is served
  at the app's pace), and at most :data:`MAX_WAITING` lookups wait: beyond either bound a
  lookup is refused at once (``invalid_token``, logged as saturated) rather than queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any, Generic, TypeVar

import httpx

from tocsin import metrics
from tocsin.auth.credentials import Credential
from tocsin.auth.errors import AuthError
from tocsin.redact import redact

log = logging.getLogger("tocsin.auth")

MAX_ENTRIES = 10_000
QUEUE_WAIT = 5.0
MAX_WAITING = 1_000
DEFAULT_COOKIE = "next-auth.session-token"

V = TypeVar("V")


class ExpiringCache(Generic[V]):
    """A bounded map whose entries expire; the least recently used go first when full."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes, now: float) -> V | None:
        """The live value for ``key``, if any (an expired one is dropped)."""
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: bytes, value: V, until: float) -> None:
        """Keep ``value`` until the monotonic time ``until``."""
        self._entries[key] = (until, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class DatabaseSessions:
    """Asks the app's ``/api/auth/session`` who a cookie belongs to, within the bounds above."""

    def __init__(
        self,
        app_url: str,
        cache_seconds: float,
        *,
        refusal_cache_seconds: float = 30.0,
        max_lookups: int = 16,
        timeout: float = 5.0,
    ) -> None:
        self.endpoint = app_url.rstrip("/") + "/api/auth/session"
        self._shown = redact(self.endpoint)  # for logs and diagnoses
        self.cache_seconds = cache_seconds
        self.refusal_cache_seconds = refusal_cache_seconds
        self.max_lookups = max_lookups
        self.timeout = timeout
        self.clients_created = 0
        self._client: httpx.AsyncClient | None = None
        self._sessions: ExpiringCache[dict[str, Any]] = ExpiringCache(MAX_ENTRIES)
        self._refused: ExpiringCache[bool] = ExpiringCache(MAX_ENTRIES)
        self._lookups: dict[bytes, asyncio.Task[dict[str, Any]]] = {}
        self._slots = asyncio.Semaphore(max_lookups)

    @property
    def client(self) -> httpx.AsyncClient | None:
        """The shared HTTP client: None until the first lookup, and again once closed."""
        return self._client

    @property
    def pending(self) -> int:
        """Lookups asking the app or waiting for a slot to."""
        return len(self._lookups)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                limits=httpx.Limits(
                    max_connections=self.max_lookups, max_keepalive_connections=self.max_lookups
                ),
            )
            self.clients_created += 1
        return self._client

    async def aclose(self) -> None:
        """Cancel the lookups under way and close the HTTP client (a later lookup opens one)."""
        for lookup in list(self._lookups.values()):
            lookup.cancel()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def resolve(self, credential: Credential) -> dict[str, Any]:
        """Claims for a session cookie: the session's ``user`` fields plus ``exp``.

        Raises:
            AuthError: ``invalid_token`` when the app has no session for it, cannot be
            reached, or too many lookups are already waiting.
        """
        name = credential.cookie_name or DEFAULT_COOKIE
        key = hashlib.sha256(f"{name}={credential.value}".encode()).digest()
        now = time.monotonic()
        claims = self._sessions.get(key, now)
        if claims is not None:
            metrics.session_lookup("cache_hit").inc()
            return dict(claims)
        if self._refused.get(key, now):
            metrics.session_lookup("refusal_cache_hit").inc()
            raise AuthError("invalid_token", f"{self._shown} knows no session for this cookie")
        lookup = self._lookups.get(key)
        if lookup is not None:
            metrics.session_lookup("joined").inc()
        else:
            if len(self._lookups) >= self.max_lookups + MAX_WAITING:
                metrics.session_lookup("saturated").inc()
                raise AuthError(
                    "invalid_token", f"session lookups saturated: {len(self._lookups)} waiting"
                )
            lookup = asyncio.create_task(self._lookup(key, name, credential.value))
            self._lookups[key] = lookup
            lookup.add_done_callback(lambda done: self._finished(key, done))
        # Shielded: a caller that goes away does not cancel the lookup others share.
        return dict(await asyncio.shield(lookup))

    def _finished(self, key: bytes, lookup: asyncio.Task[dict[str, Any]]) -> None:
        if self._lookups.get(key) is lookup:
            del self._lookups[key]
        if not lookup.cancelled():
            lookup.exception()  # retrieved: every caller may have left

    async def _lookup(self, key: bytes, name: str, value: str) -> dict[str, Any]:
        try:
            async with asyncio.timeout(QUEUE_WAIT):
                await self._slots.acquire()
        except TimeoutError:
            metrics.session_lookup("saturated").inc()
            raise AuthError(
                "invalid_token", f"session lookups saturated: no slot within {QUEUE_WAIT}s"
            ) from None
        metrics.SESSION_LOOKUPS_IN_FLIGHT.inc()
        try:
            body = await self._ask(name, value)
        finally:
            metrics.SESSION_LOOKUPS_IN_FLIGHT.dec()
            self._slots.release()
        user = body.get("user") if isinstance(body, dict) else None
        now = time.monotonic()
        if not isinstance(user, dict):
            metrics.session_lookup("app_no_session").inc()
            if self.refusal_cache_seconds > 0:
                self._refused.put(key, True, now + self.refusal_cache_seconds)
            raise AuthError("invalid_token", f"{self._shown} knows no session for this cookie")
        metrics.session_lookup("app_session").inc()
        claims = dict(user)
        expires = body.get("expires") if isinstance(body, dict) else None
        if isinstance(expires, str):
            with contextlib.suppress(ValueError):
                claims["exp"] = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        ttl = self.cache_seconds
        exp = claims.get("exp")
        if isinstance(exp, float):
            ttl = min(ttl, exp - time.time())
        if ttl > 0:
            self._sessions.put(key, claims, now + ttl)
        return claims

    async def _ask(self, name: str, value: str) -> Any:
        """The app's JSON answer for one cookie (NextAuth answers ``{}`` for no session).

        Raises:
            AuthError: ``invalid_token`` when the app cannot be reached, or answers with
            another status than 200 or with something else than JSON.
        """
        try:
            response = await self._http().get(self.endpoint, headers={"Cookie": f"{name}={value}"})
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            metrics.session_lookup("app_error").inc()
            log.warning("session lookup at %s failed: %s", self._shown, redact(str(exc)))
            raise AuthError("invalid_token", f"could not ask {self._shown}") from None
