"""Send one Web Push (RFC 8030/8291/8292): encrypt, sign, POST, and say what the answer means.

Encryption is pywebpush's (aes128gcm through http-ece), the VAPID header py-vapid's. The
POST is httpx's rather than pywebpush's ``webpush_async``: that one follows redirects (an
allow-listed endpoint could then send Tocsin to any address), reads the whole answer, and
needs aiohttp sessions beside the httpx the server already uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPusher

from tocsin.push.outcome import PushOutcome, outcome_for
from tocsin.push.payload import TOPIC_PATTERN, encode_payload
from tocsin.push.vapid import VapidKey, b64url_decode, check_subject, origin_of

Urgency = Literal["very-low", "low", "normal", "high"]
SEND_TIMEOUT = 10.0
# Enough of an error answer for the logs; a push service's answers are small.
_DETAIL_BYTES = 512


@dataclass(frozen=True, slots=True)
class Subscription:
    """A browser's ``PushSubscription``: where to POST, and the keys to encrypt for."""

    endpoint: str
    p256dh: str
    auth: str

    def to_json(self) -> dict[str, Any]:
        """The ``PushSubscription.toJSON()`` shape."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def parse_subscription(data: Mapping[str, Any]) -> Subscription:
    """Read and check a ``{endpoint, keys: {p256dh, auth}}`` subscription.

    Raises:
        ValueError: a field is missing, or a key is not a P-256 point / 16-byte secret.
    """
    keys = data.get("keys")
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not isinstance(keys, Mapping):
        raise ValueError("a subscription needs an endpoint and keys")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise ValueError("a subscription's keys need p256dh and auth")
    origin_of(endpoint)
    point = b64url_decode(p256dh)
    if len(point) != 65 or point[0] != 4:
        raise ValueError("p256dh is not an uncompressed P-256 point")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise ValueError("p256dh is not a point of the P-256 curve") from None
    if len(b64url_decode(auth)) != 16:
        raise ValueError("auth is not a 16-byte secret")
    return Subscription(endpoint=endpoint, p256dh=p256dh, auth=auth)


def new_push_client(timeout: float = SEND_TIMEOUT) -> httpx.AsyncClient:
    """An HTTP client for pushes: share one across sends (connections are reused).

    Building it loads the CA certificates (blocking, a few ms): do it at start-up, or
    through ``asyncio.to_thread``. Redirects are not followed.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


def _encrypt(subscription: Subscription, data: bytes) -> bytes:
    encoded = WebPusher(subscription.to_json()).encode(data, "aes128gcm")
    body: bytes = encoded["body"]
    return body


async def _post(
    client: httpx.AsyncClient, endpoint: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str, str | None]:
    async with client.stream("POST", endpoint, content=body, headers=headers) as response:
        detail = b""
        async for chunk in response.aiter_bytes():
            detail += chunk
            if len(detail) >= _DETAIL_BYTES:
                break
    text = detail[:_DETAIL_BYTES].decode("utf-8", "replace").strip()
    # The endpoint is a capability: an answer that quotes it must not carry it to the logs.
    for secret in (endpoint, urlsplit(endpoint).path):
        if len(secret) > 1:
            text = text.replace(secret, "…")
    reason = response.reason_phrase + (f": {text}" if text else "")
    return response.status_code, reason, response.headers.get("retry-after")


async def send_push(
    subscription: Mapping[str, Any],
    payload: Mapping[str, Any],
    *,
    vapid: VapidKey,
    subject: str,
    ttl: int,
    urgency: Urgency,
    topic: str,
    client: httpx.AsyncClient | None = None,
    # Bounded by default, so that no caller can forget; the caller's own deadline may be
    # shorter still.
    timeout: float = SEND_TIMEOUT,  # noqa: ASYNC109
) -> PushOutcome:
    """Encrypt ``payload`` for ``subscription`` and POST it to its push service.

    ``ttl``: seconds the service keeps it for an offline device; ``urgency``: ``high``
    for critical items; ``topic``: ``payload.topic_for(notification id)``. ``client``:
    one from ``new_push_client``, shared (without it, one is built for this call). The
    whole exchange is bounded by ``timeout`` seconds. Nothing given is modified.

    Returns a ``PushOutcome``: ``gone`` too for a subscription whose keys are unusable
    (it can never be delivered), without any request.

    Raises:
        ValueError: ``ttl``, ``topic`` or ``subject`` is invalid (a caller's mistake).
        PayloadTooLarge: the payload cannot be brought under 3 KB.
    """
    if ttl <= 0:
        raise ValueError(f"ttl must be more than 0 seconds, got {ttl}")
    if not TOPIC_PATTERN.fullmatch(topic):
        raise ValueError("topic must be 1 to 32 URL-safe base64 characters")
    check_subject(subject)
    data = encode_payload(payload)
    try:
        target = parse_subscription(subscription)
        authorization = vapid.authorization(audience=origin_of(target.endpoint), subject=subject)
    except ValueError as exc:
        return PushOutcome("gone", None, f"unusable subscription: {exc}")
    headers = {
        "Authorization": authorization,
        "TTL": str(ttl),
        "Urgency": urgency,
        "Topic": topic,
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
    }
    body = _encrypt(target, data)
    own_client = client is None
    http = await asyncio.to_thread(new_push_client, timeout) if client is None else client
    try:
        async with asyncio.timeout(timeout):
            status, reason, retry_after = await _post(http, target.endpoint, body, headers)
    except TimeoutError:
        return PushOutcome("retry", None, f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        # The message of a transport error never holds the URL; the class says what failed.
        return PushOutcome("retry", None, f"{type(exc).__name__}: {exc}".rstrip(": "))
    finally:
        if own_client:
            await http.aclose()
    return outcome_for(status, reason, retry_after)
