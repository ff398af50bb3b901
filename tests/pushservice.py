"""A local Web Push service for the tests, the part of FCM or Mozilla's autopush that a
sender sees (RFC 8030), plus the browser that decrypts (RFC 8291).

It runs in its own thread and event loop on a free 127.0.0.1 port, so that tests of any
kind (async, Playwright's sync API, server nodes in subprocesses) can push to it::

    with PushService() as service:
        subscription = service.subscribe()      # keys made as a browser makes them
        ...send to subscription.to_json()...
        [push] = service.wait_for_pushes(1)     # headers, verified claims, decrypted JSON

Each push is checked as the real services check it: the VAPID ``Authorization: vapid
t=<jwt>, k=<key>`` header (ES256 signature with ``k``, ``aud`` equal to this service's
origin, ``exp`` within 24 h, a ``sub``; 401 otherwise, 403 when ``k`` is not the
subscription's application server key), ``TTL`` present, ``Urgency`` and ``Topic`` well
formed (400), at most 4096 bytes (413), then decrypted (aes128gcm; 400 if that fails).
Decryption is written here from RFC 8291 with ``cryptography`` rather than taken from
http-ece, so that a mistake in the sender's library is not mirrored by its own decrypt.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tests.helpers import listening_socket

MAX_MESSAGE = 4096
MAX_EXP_AHEAD = 24 * 3600
URGENCIES = ("very-low", "low", "normal", "high")
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


class Refused(Exception):
    """A push the service answers with an error status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class BrowserSubscription:
    """A subscription as a browser makes one: endpoint on the service, and the keys."""

    endpoint: str
    token: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth_secret: bytes = field(repr=False)
    application_server_key: str | None = None

    @property
    def p256dh(self) -> str:
        """The browser's public key, base64url."""
        return _b64(_point(self.private_key.public_key()))

    @property
    def auth(self) -> str:
        """The auth secret, base64url."""
        return _b64(self.auth_secret)

    def to_json(self) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` gives the page."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }


@dataclass(frozen=True)
class ReceivedPush:
    """One push the service accepted (201), decrypted."""

    token: str
    headers: dict[str, str]  # lower-case names
    ttl: int
    urgency: str | None
    topic: str | None
    claims: dict[str, Any]  # the verified VAPID JWT claims
    vapid_key: str  # the `k` of the Authorization header
    body_bytes: int
    payload: Any  # the decrypted JSON
    received_at: float  # time.monotonic()


@dataclass(frozen=True)
class Answer:
    """Every request's answer, accepted or not, in order."""

    token: str
    status: int
    reason: str


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]
    text: str
    remaining: int | None  # None: until cleared


def decrypt_aes128gcm(
    body: bytes, private_key: ec.EllipticCurvePrivateKey, auth_secret: bytes
) -> bytes:
    """Decrypt a Web Push message body as the browser does (RFC 8291 §3.4, RFC 8188 §2).

    Raises:
        ValueError: malformed, or the key or secret does not open it.
    """
    if len(body) < 21:
        raise ValueError("shorter than the aes128gcm header")
    salt, record_size, id_length = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    sender_point = body[21 : 21 + id_length]
    ciphertext = body[21 + id_length :]
    if id_length != 65 or len(ciphertext) < 17 or len(ciphertext) > record_size:
        raise ValueError("not one aes128gcm record keyed by a P-256 point")
    sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_point)
    shared = private_key.exchange(ec.ECDH(), sender)
    receiver_point = _point(private_key.public_key())
    key_info = b"WebPush: info\x00" + receiver_point + sender_point
    ikm = HKDF(hashes.SHA256(), 32, auth_secret, key_info).derive(shared)
    cek = HKDF(hashes.SHA256(), 16, salt, b"Content-Encoding: aes128gcm\x00").derive(ikm)
    nonce = HKDF(hashes.SHA256(), 12, salt, b"Content-Encoding: nonce\x00").derive(ikm)
    try:
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
    except InvalidTag:
        raise ValueError("the keys do not open it (AES-GCM tag mismatch)") from None
    unpadded = padded.rstrip(b"\x00")
    if not unpadded.endswith(b"\x02"):
        raise ValueError("no last-record delimiter")
    return unpadded[:-1]


def verify_vapid(authorization: str, audience: str, now: float) -> tuple[dict[str, Any], str]:
    """Check an ``Authorization: vapid t=…, k=…`` header (RFC 8292); its claims and key.

    Raises:
        Refused: 401 with the reason.
    """
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise Refused(401, f"authorization scheme {scheme!r}, not vapid")
    values = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
    token, key = values.get("t", ""), values.get("k", "")
    try:
        head_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(_unb64(head_b64))
        claims = json.loads(_unb64(claims_b64))
        signature = _unb64(signature_b64)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(key))
    except (ValueError, binascii.Error):
        raise Refused(401, "malformed vapid t or k") from None
    if header.get("alg") != "ES256" or len(signature) != 64:
        raise Refused(401, "the JWT is not ES256")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused(401, "the JWT's signature does not match k") from None
    if claims.get("aud") != audience:
        raise Refused(401, f"aud {claims.get('aud')!r} is not {audience!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or not now < exp <= now + MAX_EXP_AHEAD:
        raise Refused(401, f"exp {exp!r} is not within 24 h")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise Refused(401, "no mailto: or https: sub")
    return claims, key


class PushService:
    """A push service on 127.0.0.1, in a thread; a context manager."""

    def __init__(self) -> None:
        self._sock = listening_socket()
        self.port: int = self._sock.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Condition()
        self._subscriptions: dict[str, BrowserSubscription] = {}
        self._expired: set[str] = set()
        self._pushes: list[ReceivedPush] = []
        self._answers: list[Answer] = []
        self._next: deque[_Failure] = deque()
        self._per_endpoint: dict[str, _Failure] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- life --------------------------------------------------------------------------

    def start(self) -> None:
        """Start serving; returns once the port answers."""
        self._thread = threading.Thread(target=self._run, name="push-service", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the push service did not start within 10 s")
        if self._error is not None:
            raise RuntimeError("the push service failed to start") from self._error

    def stop(self) -> None:
        """Stop serving and close the port."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
        self._sock.close()

    def __enter__(self) -> PushService:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_post("/push/{token}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await runner.setup()
        await web.SockSite(runner, self._sock.dup()).start()
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    # -- what a test sets up -----------------------------------------------------------

    def subscribe(self, application_server_key: str | None = None) -> BrowserSubscription:
        """A new subscription with keys made as a browser makes them.

        With ``application_server_key`` (the VAPID public key the page subscribed with),
        pushes signed by any other key are refused with 403, as FCM does.
        """
        token = secrets.token_urlsafe(16)
        subscription = BrowserSubscription(
            endpoint=f"{self.origin}/push/{token}",
            token=token,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
            application_server_key=application_server_key,
        )
        with self._lock:
            self._subscriptions[token] = subscription
        return subscription

    def unsubscribe(self, subscription: BrowserSubscription) -> None:
        """Expire a subscription: pushes to it are answered 410 Gone."""
        with self._lock:
            self._expired.add(subscription.token)

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        headers: Mapping[str, str] | None = None,
        text: str = "injected",
    ) -> None:
        """Answer the next ``count`` requests (to any endpoint) with ``status``, ``headers``
        (e.g. ``Retry-After``) and ``text`` as the body."""
        with self._lock:
            self._next.append(_Failure(status, dict(headers or {}), text, count))

    def fail_endpoint(
        self,
        subscription: BrowserSubscription,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer every request to this subscription with ``status`` until cleared."""
        with self._lock:
            failure = _Failure(status, dict(headers or {}), "injected", None)
            self._per_endpoint[subscription.token] = failure

    def clear_failures(self) -> None:
        """Forget every failure set up with ``fail_next`` and ``fail_endpoint``."""
        with self._lock:
            self._next.clear()
            self._per_endpoint.clear()

    # -- what a test reads -------------------------------------------------------------

    @property
    def pushes(self) -> list[ReceivedPush]:
        """The pushes accepted so far, in order."""
        with self._lock:
            return list(self._pushes)

    @property
    def answers(self) -> list[Answer]:
        """Every request's answer so far, in order."""
        with self._lock:
            return list(self._answers)

    def pushes_to(self, subscription: BrowserSubscription) -> list[ReceivedPush]:
        """The pushes accepted for one subscription."""
        return [push for push in self.pushes if push.token == subscription.token]

    def wait_for_pushes(self, count: int, timeout: float = 5.0) -> list[ReceivedPush]:
        """Block until ``count`` pushes were accepted; all of them.

        Raises:
            TimeoutError: fewer arrived within ``timeout`` (the answers say why).
        """
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._pushes) >= count, timeout):
                raise TimeoutError(
                    f"{len(self._pushes)} of {count} pushes within {timeout} s; "
                    f"answers: {self._answers}"
                )
            return list(self._pushes)

    async def wait_for_pushes_async(self, count: int, timeout: float = 5.0) -> list[ReceivedPush]:
        """``wait_for_pushes`` for async tests (waits in a thread, the loop runs on)."""
        return await asyncio.to_thread(self.wait_for_pushes, count, timeout)

    # -- the service -------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        body = await request.read()
        failure = self._take_failure(token)
        if failure is not None:
            return self._answer(token, failure.status, failure.text, failure.headers)
        try:
            push = self._accept(token, request, body)
        except Refused as refusal:
            return self._answer(token, refusal.status, refusal.reason)
        with self._lock:
            self._pushes.append(push)
        location = f"{self.origin}/message/{secrets.token_urlsafe(8)}"
        return self._answer(token, 201, "Created", {"Location": location, "TTL": str(push.ttl)})

    def _answer(
        self, token: str, status: int, reason: str, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        with self._lock:
            self._answers.append(Answer(token, status, reason))
            self._lock.notify_all()
        text = None if status < 300 else reason
        return web.Response(status=status, text=text, headers=headers)

    def _take_failure(self, token: str) -> _Failure | None:
        """The failure set up for this request, if any (counting down ``fail_next``)."""
        with self._lock:
            failure = self._per_endpoint.get(token)
            if failure is None and self._next:
                failure = self._next[0]
                failure.remaining = (failure.remaining or 1) - 1
                if failure.remaining <= 0:
                    self._next.popleft()
            return failure

    def _accept(self, token: str, request: web.Request, body: bytes) -> ReceivedPush:
        with self._lock:
            subscription = self._subscriptions.get(token)
            expired = token in self._expired
        if subscription is None:
            raise Refused(404, "no such subscription")
        if expired:
            raise Refused(410, "subscription expired")
        claims, key = verify_vapid(
            request.headers.get("Authorization", ""), self.origin, time.time()
        )
        expected = subscription.application_server_key
        if expected is not None and key != expected:
            raise Refused(403, "k is not the key the subscription was made with")
        ttl_text = request.headers.get("TTL", "")
        if not ttl_text.isdigit():
            raise Refused(400, f"TTL {ttl_text!r} is not a number of seconds")
        urgency = request.headers.get("Urgency")
        if urgency is not None and urgency not in URGENCIES:
            raise Refused(400, f"Urgency {urgency!r}")
        topic = request.headers.get("Topic")
        if topic is not None and not _TOPIC.fullmatch(topic):
            raise Refused(400, f"Topic {topic!r} is not 1-32 base64url characters")
        if request.headers.get("Content-Encoding") != "aes128gcm":
            raise Refused(400, "Content-Encoding is not aes128gcm")
        if len(body) > MAX_MESSAGE:
            raise Refused(413, f"{len(body)} bytes, more than {MAX_MESSAGE}")
        try:
            plain = decrypt_aes128gcm(body, subscription.private_key, subscription.auth_secret)
            payload = json.loads(plain)
        except ValueError as exc:
            raise Refused(400, f"cannot decrypt: {exc}") from None
        return ReceivedPush(
            token=token,
            headers={name.lower(): value for name, value in request.headers.items()},
            ttl=int(ttl_text),
            urgency=urgency,
            topic=topic,
            claims=claims,
            vapid_key=key,
            body_bytes=len(body),
            payload=payload,
            received_at=time.monotonic(),
        )
