"""Publish notifications from Python with the seed's helper names.

Three publishers share one set of helpers (``emit_to_user``, ``notify_email_received``…):

- :class:`AsyncTocsinClient` — over HTTP to a Tocsin server, with safe retries;
- :class:`TocsinClient` — the same, for synchronous code;
- :class:`EmbeddedPublisher` — in-process, for an app that embeds Tocsin with ``create_app``.

Module-level functions (``tocsin.sdk.notify_email_received(…)``) use a default
:class:`TocsinClient` set by :func:`configure`, or built from ``TOCSIN_URL`` and
``TOCSIN_API_KEY``.

Errors::

    TocsinAPIError        refused (4xx), or still failing (5xx, 429) after the retries
    httpx.TransportError  the server could not be reached, after the retries
    ValueError            a helper lacks what it needs to route (e.g. a user's tenant)
    RuntimeError          a module-level helper was called before :func:`configure`
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx

from tocsin import __version__
from tocsin.auth.apikeys import Publisher
from tocsin.errors import TocsinError
from tocsin.models import (
    DEADLINE_ALERT,
    DOSSIER_UPDATED,
    EMAIL_RECEIVED,
    SYSTEM_NOTIFICATION,
    iso_timestamp,
)
from tocsin.service import NotificationService, Published

NOTIFICATIONS_PATH = "/api/v1/notifications"
BATCH_PATH = "/api/v1/notifications/batch"
MAX_RETRY_DELAY = 30.0

Notification = Mapping[str, Any]
Result = dict[str, Any]
R = TypeVar("R")


class TocsinAPIError(Exception):
    """Tocsin refused a notification: ``status`` (HTTP), ``code``, ``message``, ``field``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    @classmethod
    def from_error(cls, error: TocsinError) -> TocsinAPIError:
        """The same error as the HTTP API would have answered for ``error``."""
        return cls(error.status, error.code, error.message, error.field)


def _wire(notification: Notification) -> dict[str, Any]:
    if not isinstance(notification, Mapping):
        raise TypeError(f"a notification is a mapping, not {type(notification).__name__}")
    return {key: _json_value(value) for key, value in notification.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # Like JavaScript's Date: an instant. A naive datetime is local time, as in Python.
        return iso_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class _Helpers(ABC, Generic[R]):
    """The seed's helpers over one ``publish``; ``R`` is its result (or an awaitable of it)."""

    @abstractmethod
    def publish(self, notification: Notification, *, idempotency_key: str | None = None) -> R:
        """Publish one notification object (the seed's fields plus ``event``)."""

    @abstractmethod
    def publish_batch(
        self, notifications: Sequence[Notification], *, idempotency_key: str | None = None
    ) -> Any:
        """Publish up to 1,000 notifications; each result is ``{id, cursor}`` or an error."""

    def emit_to_user(
        self, user_id: str, event: str, data: Notification, *, tenant_id: str | None = None
    ) -> R:
        """Send ``event`` to one user; their tenant is ``tenant_id`` or ``data["tenantId"]``.

        Raises:
            ValueError: no tenant: user ids are unique only within a tenant.
        """
        tenant = tenant_id if tenant_id is not None else data.get("tenantId")
        if tenant is None:
            raise ValueError(
                "emit_to_user needs the user's tenant: pass tenant_id=… or data['tenantId']"
            )
        return self.publish({**data, "event": event, "userId": user_id, "tenantId": tenant})

    def emit_to_tenant(self, tenant_id: str, event: str, data: Notification) -> R:
        """Send ``event`` to every user of a tenant (a ``userId`` in ``data`` is dropped)."""
        body = {k: v for k, v in data.items() if k != "userId"}
        return self.publish({**body, "event": event, "tenantId": tenant_id})

    def emit_to_all(self, event: str, data: Notification) -> R:
        """Send ``event`` to everyone (``system-notification`` only; needs the admin key)."""
        body = {k: v for k, v in data.items() if k not in ("userId", "tenantId")}
        return self.publish({**body, "event": event})

    def notify_email_received(self, data: Notification) -> R:
        """``email-received`` {id, subject, from, dossierNumber?, userId, tenantId, timestamp}."""
        return self.publish({**data, "event": EMAIL_RECEIVED})

    def notify_dossier_updated(self, data: Notification) -> R:
        """``dossier-updated`` {id, dossierNumber, dossierTitle, action, status?, userId, …}."""
        return self.publish({**data, "event": DOSSIER_UPDATED})

    def notify_deadline_alert(self, data: Notification) -> R:
        """``deadline-alert`` {id, dossierNumber, message, urgency, deadlineType, …}."""
        return self.publish({**data, "event": DEADLINE_ALERT})

    def notify_system(self, data: Notification) -> R:
        """``system-notification`` to ``userId``, else ``tenantId``, else everyone."""
        return self.publish({**data, "event": SYSTEM_NOTIFICATION})


# -- HTTP: request building, retry decisions and response parsing, shared by both clients --


@dataclass(frozen=True, slots=True)
class _Call:
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _single(notification: Notification, idempotency_key: str | None) -> _Call:
    return _Call(NOTIFICATIONS_PATH, _wire(notification), _key_header(idempotency_key))


def _batch(notifications: Sequence[Notification], idempotency_key: str | None) -> _Call:
    body = {"notifications": [_wire(n) for n in notifications]}
    return _Call(BATCH_PATH, body, _key_header(idempotency_key))


def _key_header(idempotency_key: str | None) -> dict[str, str]:
    # A key per call, reused by every retry of it: a retry can never publish twice.
    return {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}


def _http_options(url: str, api_key: str, timeout: float, retries: int) -> dict[str, Any]:
    if not url:
        raise ValueError("url: the Tocsin server's base URL, e.g. http://127.0.0.1:8000")
    if not api_key:
        raise ValueError("api_key: a tenant key (tsk_…) or the admin key")
    if retries < 0:
        raise ValueError("retries: must be 0 or more")
    return {
        "base_url": url,
        "timeout": timeout,
        "headers": {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": f"tocsin-python/{__version__}",
        },
    }


_RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class _RetryPolicy:
    """After each attempt: try again after how long, or ``None`` when the outcome is final."""

    def __init__(self, retries: int, backoff: float) -> None:
        self.retries = retries
        self.backoff = backoff
        self.attempt = 0

    def after_response(self, response: httpx.Response) -> float | None:
        status = response.status_code
        if status != 429 and status < 500:
            return None
        return self._next(_retry_after(response))

    def after_error(self, error: httpx.TransportError) -> float | None:
        return self._next(None) if isinstance(error, _RETRYABLE_ERRORS) else None

    def _next(self, asked: float | None) -> float | None:
        if self.attempt >= self.retries:
            return None
        delay = asked if asked is not None else self.backoff * 2**self.attempt
        self.attempt += 1
        return min(max(delay, 0.0), MAX_RETRY_DELAY)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


def _decode(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        # Not Tocsin's answer: a proxy's error page, for instance.
        text = response.text.strip()[:200] or response.reason_phrase
        raise TocsinAPIError(response.status_code, f"http_{response.status_code}", text)
    raise TocsinAPIError(
        response.status_code,
        str(body.get("error") or f"http_{response.status_code}"),
        str(body.get("message") or body.get("reason") or response.reason_phrase),
        body.get("field"),
    )


def _one(body: Any) -> Result:
    return {"id": body["id"], "cursor": body["cursor"]}


def _many(body: Any) -> list[Result]:
    results: list[Result] = body["results"]
    return results


class AsyncTocsinClient(_Helpers[Coroutine[Any, Any, Result]]):
    """Publish to a Tocsin server over HTTP, retrying safely with an ``Idempotency-Key``.

    Connection errors, timeouts, 5xx and 429 are retried up to ``retries`` times, after
    ``backoff * 2**n`` seconds or the server's ``Retry-After``; other 4xx are not.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options = _http_options(url, api_key, timeout, retries)
        self._http = httpx.AsyncClient(transport=transport, **options)
        self._retries = retries
        self._backoff = backoff

    async def publish(
        self, notification: Notification, *, idempotency_key: str | None = None
    ) -> Result:
        """Publish one notification; returns ``{id, cursor}`` once it is durably stored.

        Raises:
            TocsinAPIError: refused (4xx), or still failing (5xx, 429) after the retries.
            httpx.TransportError: the server could not be reached, after the retries.
        """
        return _one(await self._send(_single(notification, idempotency_key)))

    async def publish_batch(
        self, notifications: Sequence[Notification], *, idempotency_key: str | None = None
    ) -> list[Result]:
        """Publish up to 1,000 notifications in one request.

        Returns one result per notification, in order: ``{id, cursor}``, or
        ``{status, error, message, field}`` for one that was refused (the others stand).

        Raises:
            TocsinAPIError, httpx.TransportError: as :meth:`publish`, for the whole batch.
        """
        return _many(await self._send(_batch(notifications, idempotency_key)))

    async def _send(self, call: _Call) -> Any:
        policy = _RetryPolicy(self._retries, self._backoff)
        while True:
            try:
                response = await self._http.post(call.path, json=call.body, headers=call.headers)
            except httpx.TransportError as exc:
                delay = policy.after_error(exc)
                if delay is None:
                    raise
            else:
                delay = policy.after_response(response)
                if delay is None:
                    return _decode(response)
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class TocsinClient(_Helpers[Result]):
    """:class:`AsyncTocsinClient` for synchronous code (same arguments, retries and errors)."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        options = _http_options(url, api_key, timeout, retries)
        self._http = httpx.Client(transport=transport, **options)
        self._retries = retries
        self._backoff = backoff

    def publish(self, notification: Notification, *, idempotency_key: str | None = None) -> Result:
        """Publish one notification; see :meth:`AsyncTocsinClient.publish`."""
        return _one(self._send(_single(notification, idempotency_key)))

    def publish_batch(
        self, notifications: Sequence[Notification], *, idempotency_key: str | None = None
    ) -> list[Result]:
        """Publish up to 1,000 notifications; see :meth:`AsyncTocsinClient.publish_batch`."""
        return _many(self._send(_batch(notifications, idempotency_key)))

    def _send(self, call: _Call) -> Any:
        policy = _RetryPolicy(self._retries, self._backoff)
        while True:
            try:
                response = self._http.post(call.path, json=call.body, headers=call.headers)
            except httpx.TransportError as exc:
                delay = policy.after_error(exc)
                if delay is None:
                    raise
            else:
                delay = policy.after_response(response)
                if delay is None:
                    return _decode(response)
            time.sleep(delay)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EmbeddedPublisher(_Helpers[Coroutine[Any, Any, Result]]):
    """Publish in-process through a :class:`NotificationService` (an app embedding Tocsin).

    It publishes with the admin's rights, in the service's event loop: use the service of
    the running app (``app.other_asgi_app.state.service``, or the one given to
    ``create_app``).
    """

    PUBLISHER = Publisher(tenant_id=None, key_id="embedded")

    def __init__(self, service: NotificationService) -> None:
        self.service = service

    async def publish(
        self, notification: Notification, *, idempotency_key: str | None = None
    ) -> Result:
        """Validate, store and deliver one notification; returns ``{id, cursor}``.

        Raises:
            TocsinAPIError: refused, with the status the HTTP API would have answered.
        """
        try:
            published = await self.service.publish(
                _wire(notification), self.PUBLISHER, idempotency_key
            )
        except TocsinError as exc:
            raise TocsinAPIError.from_error(exc) from None
        return published.to_json()

    async def publish_batch(
        self, notifications: Sequence[Notification], *, idempotency_key: str | None = None
    ) -> list[Result]:
        """Publish many; results as :meth:`AsyncTocsinClient.publish_batch`.

        Raises:
            TocsinAPIError: the batch as a whole was refused (over 1,000 notifications).
        """
        try:
            outcomes = await self.service.publish_many(
                [_wire(n) for n in notifications], self.PUBLISHER, idempotency_key
            )
        except TocsinError as exc:
            raise TocsinAPIError.from_error(exc) from None
        return [
            o.to_json() if isinstance(o, Published) else {"status": o.status, **o.to_json()}
            for o in outcomes
        ]


# -- module-level helpers over a default synchronous client --------------------------------

_default: TocsinClient | None = None
_default_lock = threading.Lock()


def configure(url: str, api_key: str, *, timeout: float = 10.0, retries: int = 3) -> TocsinClient:
    """Set (and return) the client that the module-level helpers use.

    Raises:
        ValueError: empty ``url`` or ``api_key``, negative ``retries``.
    """
    global _default
    client = TocsinClient(url, api_key, timeout=timeout, retries=retries)
    with _default_lock:
        previous, _default = _default, client
    if previous is not None:
        previous.close()
    return client


def close() -> None:
    """Close and forget the default client (the next helper call configures anew)."""
    global _default
    with _default_lock:
        previous, _default = _default, None
    if previous is not None:
        previous.close()


def default_client() -> TocsinClient:
    """The client set by :func:`configure`, else one from ``TOCSIN_URL``/``TOCSIN_API_KEY``.

    Raises:
        RuntimeError: neither was done.
    """
    global _default
    with _default_lock:
        if _default is None:
            url, api_key = os.environ.get("TOCSIN_URL"), os.environ.get("TOCSIN_API_KEY")
            if not url or not api_key:
                raise RuntimeError(
                    "call tocsin.sdk.configure(url, api_key) first "
                    "(or set TOCSIN_URL and TOCSIN_API_KEY)"
                )
            _default = TocsinClient(url, api_key)
        return _default


def emit_to_user(
    user_id: str, event: str, data: Notification, *, tenant_id: str | None = None
) -> Result:
    """:meth:`TocsinClient.emit_to_user` on :func:`default_client` (which may raise)."""
    return default_client().emit_to_user(user_id, event, data, tenant_id=tenant_id)


def emit_to_tenant(tenant_id: str, event: str, data: Notification) -> Result:
    """:meth:`TocsinClient.emit_to_tenant` on :func:`default_client` (which may raise)."""
    return default_client().emit_to_tenant(tenant_id, event, data)


def emit_to_all(event: str, data: Notification) -> Result:
    """:meth:`TocsinClient.emit_to_all` on :func:`default_client` (which may raise)."""
    return default_client().emit_to_all(event, data)


def notify_email_received(data: Notification) -> Result:
    """:meth:`TocsinClient.notify_email_received` on :func:`default_client` (which may raise)."""
    return default_client().notify_email_received(data)


def notify_dossier_updated(data: Notification) -> Result:
    """:meth:`TocsinClient.notify_dossier_updated` on :func:`default_client` (which may raise)."""
    return default_client().notify_dossier_updated(data)


def notify_deadline_alert(data: Notification) -> Result:
    """:meth:`TocsinClient.notify_deadline_alert` on :func:`default_client` (which may raise)."""
    return default_client().notify_deadline_alert(data)


def notify_system(data: Notification) -> Result:
    """:meth:`TocsinClient.notify_system` on :func:`default_client` (which may raise)."""
    return default_client().notify_system(data)


__all__ = [
    "AsyncTocsinClient",
    "EmbeddedPublisher",
    "TocsinAPIError",
    "TocsinClient",
    "close",
    "configure",
    "default_client",
    "emit_to_all",
    "emit_to_tenant",
    "emit_to_user",
    "notify_deadline_alert",
    "notify_dossier_updated",
    "notify_email_received",
    "notify_system",
]
