"""Publishing over HTTP: request building, safe retries, response parsing; two clients."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from tocsin import __version__
from tocsin.sdk.helpers import (
    BATCH_PATH,
    MAX_RETRY_DELAY,
    NOTIFICATIONS_PATH,
    Notification,
    Result,
    TocsinAPIError,
    _Helpers,
    _wire,
)


@dataclass(frozen=True, slots=True)
class _Call:
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)

    def request(self) -> dict[str, Any]:
        """Keyword arguments of ``httpx.Client.request``."""
        return {
            "method": self.method,
            "url": self.path,
            "json": self.body,
            "headers": self.headers,
            "params": self.params,
        }


DEADLINES_PATH = "/api/v1/deadlines"


def _put_deadline(deadline_id: str, data: Notification) -> _Call:
    # PUT replaces: repeating it is harmless, so it is retried like a publish.
    return _Call(f"{DEADLINES_PATH}/{quote(deadline_id, safe='')}", _wire(data), method="PUT")


def _delete_deadline(deadline_id: str, tenant_id: str | None) -> _Call:
    params = {"tenantId": tenant_id} if tenant_id else {}
    path = f"{DEADLINES_PATH}/{quote(deadline_id, safe='')}"
    return _Call(path, None, method="DELETE", params=params)


def _list_deadlines(
    tenant_id: str | None, due_from: date | None, due_to: date | None, status: str | None
) -> _Call:
    params = {
        name: value
        for name, value in (
            ("tenantId", tenant_id),
            ("dueFrom", due_from.isoformat() if due_from else None),
            ("dueTo", due_to.isoformat() if due_to else None),
            ("status", status),
        )
        if value
    }
    return _Call(DEADLINES_PATH, None, method="GET", params=params)


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
    if response.status_code == 204:
        return None
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

    async def put_deadline(self, deadline_id: str, data: Notification) -> Result:
        """Create or replace a deadline the scheduler watches (``dueAt``, ``userId``…).

        Raises:
            TocsinAPIError, httpx.TransportError: as :meth:`publish`.
        """
        result: Result = await self._send(_put_deadline(deadline_id, data))
        return result

    async def delete_deadline(self, deadline_id: str, tenant_id: str | None = None) -> None:
        """Delete a deadline (the admin key names its ``tenant_id``).

        Raises:
            TocsinAPIError: 404 when there is no such deadline.
        """
        await self._send(_delete_deadline(deadline_id, tenant_id))

    async def list_deadlines(
        self,
        tenant_id: str | None = None,
        *,
        due_from: date | None = None,
        due_to: date | None = None,
        status: str | None = None,
    ) -> list[Result]:
        """Deadlines by tenant and due window, soonest first."""
        body = await self._send(_list_deadlines(tenant_id, due_from, due_to, status))
        items: list[Result] = body["items"]
        return items

    async def _send(self, call: _Call) -> Any:
        policy = _RetryPolicy(self._retries, self._backoff)
        while True:
            try:
                response = await self._http.request(**call.request())
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

    def put_deadline(self, deadline_id: str, data: Notification) -> Result:
        """Create or replace a deadline; see :meth:`AsyncTocsinClient.put_deadline`."""
        result: Result = self._send(_put_deadline(deadline_id, data))
        return result

    def delete_deadline(self, deadline_id: str, tenant_id: str | None = None) -> None:
        """Delete a deadline; see :meth:`AsyncTocsinClient.delete_deadline`."""
        self._send(_delete_deadline(deadline_id, tenant_id))

    def list_deadlines(
        self,
        tenant_id: str | None = None,
        *,
        due_from: date | None = None,
        due_to: date | None = None,
        status: str | None = None,
    ) -> list[Result]:
        """Deadlines, soonest first; see :meth:`AsyncTocsinClient.list_deadlines`."""
        items: list[Result] = self._send(_list_deadlines(tenant_id, due_from, due_to, status))[
            "items"
        ]
        return items

    def _send(self, call: _Call) -> Any:
        policy = _RetryPolicy(self._retries, self._backoff)
        while True:
            try:
                response = self._http.request(**call.request())
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
