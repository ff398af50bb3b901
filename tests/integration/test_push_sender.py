"""send_push against a real push service on 127.0.0.1 (tests/pushservice.py): encrypted,
signed, decrypted, and each answer mapped to what becomes of the subscription."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from tests.helpers import listening_socket
from tests.pushservice import PushService, decrypt_aes128gcm
from tocsin.config import Settings
from tocsin.push.outcome import parse_retry_after
from tocsin.push.payload import MAX_PAYLOAD_BYTES, PayloadTooLarge, encode_payload, topic_for
from tocsin.push.sender import new_push_client, send_push
from tocsin.push.vapid import VapidKey, b64url, generate, load_private_key

SUBJECT = "mailto:ops@cabinet-exemple.fr"
_P256DH = generate().public_key  # any P-256 point will do


def _payload(**extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "ntf_01J8Z3",
        "event": "deadline-alert",
        "title": "Délai critique : OQTF 2026-0042",
        "body": "Le délai expire demain à 18 h.",
        "url": "/dossiers/2026-0042",
        "critical": True,
        "unreadCount": 3,
    }
    payload.update(extra)
    return payload


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture
def vapid() -> VapidKey:
    return load_private_key(generate().private_key)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with new_push_client() as http:
        yield http


async def _send(
    subscription: dict[str, Any],
    vapid: VapidKey,
    client: httpx.AsyncClient | None,
    payload: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    payload = payload or _payload()
    arguments: dict[str, Any] = {
        "vapid": vapid,
        "subject": SUBJECT,
        "ttl": 3600,
        "urgency": "high" if payload.get("critical") else "normal",
        "topic": topic_for(str(payload["id"])),
        "client": client,
    }
    arguments.update(options)
    return await send_push(subscription, payload, **arguments)


@pytest.mark.parametrize(("critical", "urgency"), [(True, "high"), (False, "normal")])
async def test_push_arrives_encrypted_signed_and_decrypts_to_the_payload(
    push_service: PushService,
    vapid: VapidKey,
    client: httpx.AsyncClient,
    critical: bool,
    urgency: str,
) -> None:
    subscription = push_service.subscribe(application_server_key=vapid.public_key)
    payload = _payload(critical=critical)
    before = time.time()

    outcome = await _send(subscription.to_json(), vapid, client, payload, ttl=7200)

    assert (outcome.kind, outcome.status) == ("sent", 201)
    [push] = push_service.pushes
    assert push.payload == payload
    assert push.urgency == urgency
    assert push.ttl == 7200
    assert push.topic == topic_for(payload["id"])
    assert push.headers["content-encoding"] == "aes128gcm"
    assert push.vapid_key == vapid.public_key
    assert push.claims["aud"] == push_service.origin
    assert push.claims["sub"] == SUBJECT
    assert before < push.claims["exp"] <= before + 24 * 3600
    assert push.body_bytes <= 4096


async def test_a_push_signed_with_another_key_is_refused(
    push_service: PushService, vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    subscription = push_service.subscribe(application_server_key=vapid.public_key)
    other = load_private_key(generate().private_key)

    outcome = await _send(subscription.to_json(), other, client)

    assert (outcome.kind, outcome.status) == ("rejected", 403)
    assert push_service.pushes == []


async def test_the_service_checks_the_vapid_signature_itself(
    push_service: PushService, vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    """A token signed by one key but presented with another's `k` is refused (401):
    the service verifies ES256 rather than trusting the header."""
    subscription = push_service.subscribe()
    header = vapid.authorization(audience=push_service.origin, subject=SUBJECT)
    forged = header.split(",k=")[0] + ",k=" + load_private_key(generate().private_key).public_key
    wrong_audience = vapid.authorization(audience="https://fcm.googleapis.com", subject=SUBJECT)
    statuses = []
    for authorization in (forged, wrong_audience):
        response = await client.post(
            subscription.endpoint,
            content=b"x" * 100,
            headers={"Authorization": authorization, "TTL": "60", "Content-Encoding": "aes128gcm"},
        )
        statuses.append(response.status_code)
    assert statuses == [401, 401]
    assert [answer.reason for answer in push_service.answers] == [
        "the JWT's signature does not match k",
        f"aud 'https://fcm.googleapis.com' is not {push_service.origin!r}",
    ]


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (410, {}, "gone", None),
        (404, {}, "gone", None),
        (429, {"Retry-After": "7"}, "retry", 7.0),
        (429, {}, "retry", None),
        (500, {}, "retry", None),
        (503, {"Retry-After": "30"}, "retry", 30.0),
        (400, {}, "rejected", None),
        (401, {}, "rejected", None),
        (403, {}, "rejected", None),
        (413, {}, "rejected", None),
    ],
)
async def test_each_answer_maps_to_its_outcome(
    push_service: PushService,
    vapid: VapidKey,
    client: httpx.AsyncClient,
    status: int,
    headers: dict[str, str],
    kind: str,
    retry_after: float | None,
) -> None:
    subscription = push_service.subscribe()
    push_service.fail_next(status, headers=headers)

    outcome = await _send(subscription.to_json(), vapid, client)

    assert (outcome.kind, outcome.status, outcome.retry_after) == (kind, status, retry_after)
    assert outcome.reason.startswith(str(status))
    assert subscription.endpoint not in outcome.reason


async def test_the_reason_never_quotes_the_endpoint(
    push_service: PushService, vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    """An endpoint is a capability URL: an error answer that quotes it stays out of logs."""
    subscription = push_service.subscribe()
    path = subscription.endpoint.removeprefix(push_service.origin)
    push_service.fail_next(400, text=f"bad subscription {subscription.endpoint} ({path})")

    outcome = await _send(subscription.to_json(), vapid, client)

    assert outcome.reason == "400 Bad Request: bad subscription … (…)"


async def test_retry_after_as_an_http_date(
    push_service: PushService, vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    subscription = push_service.subscribe()
    when = format_datetime(datetime.fromtimestamp(time.time() + 120, UTC), usegmt=True)
    push_service.fail_next(429, headers={"Retry-After": when})

    outcome = await _send(subscription.to_json(), vapid, client)

    assert outcome.kind == "retry"
    assert outcome.retry_after is not None and 100 < outcome.retry_after <= 120


async def test_failures_for_the_next_requests_then_success(
    push_service: PushService, vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    subscription = push_service.subscribe()
    push_service.fail_next(500, count=2)

    kinds = [(await _send(subscription.to_json(), vapid, client)).kind for _ in range(3)]

    assert kinds == ["retry", "retry", "sent"]
    assert [answer.status for answer in push_service.answers] == [500, 500, 201]
    assert len(push_service.pushes) == 1


async def test_a_failing_endpoint_does_not_affect_another(
    push_service: PushService, vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    failing, healthy = push_service.subscribe(), push_service.subscribe()
    push_service.fail_endpoint(failing, 429, headers={"Retry-After": "60"})

    first = await _send(failing.to_json(), vapid, client)
    second = await _send(healthy.to_json(), vapid, client)

    assert (first.kind, first.retry_after) == ("retry", 60.0)
    assert second.kind == "sent"
    assert push_service.pushes_to(healthy) and not push_service.pushes_to(failing)


async def test_real_404_and_410(
    push_service: PushService, vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    expired = push_service.subscribe()
    push_service.unsubscribe(expired)
    unknown = {**expired.to_json(), "endpoint": f"{push_service.origin}/push/never-issued"}

    assert (await _send(expired.to_json(), vapid, client)).status == 410
    assert (await _send(unknown, vapid, client)).kind == "gone"
    assert [answer.status for answer in push_service.answers] == [410, 404]


async def test_claims_do_not_leak_between_push_services(
    vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    """pywebpush's webpush() writes `aud` into the claims dict it is given: one dict shared
    across sends would carry the first service's origin to the next one."""
    settings = Settings(vapid_private_key=vapid.private_raw, vapid_subject=SUBJECT)
    key = load_private_key(settings.vapid_private_key or "")
    payload = _payload()
    sent_payload = json.loads(json.dumps(payload))
    with PushService() as first, PushService() as second:
        assert first.origin != second.origin
        subscriptions = [first.subscribe(), second.subscribe(), first.subscribe()]
        for subscription in subscriptions:
            outcome = await _send(
                subscription.to_json(),
                key,
                client,
                payload,
                subject=settings.vapid_subject,
                ttl=settings.push_ttl,
            )
            assert outcome.kind == "sent"
        audiences = [p.claims["aud"] for p in first.pushes + second.pushes]
        assert audiences == [first.origin, first.origin, second.origin]
        assert {p.ttl for p in first.pushes + second.pushes} == {86_400}
    assert payload == sent_payload


async def test_without_a_client_one_is_made_for_the_call(
    push_service: PushService, vapid: VapidKey
) -> None:
    subscription = push_service.subscribe()

    outcome = await _send(subscription.to_json(), vapid, None)

    assert outcome.kind == "sent"


async def test_redirects_are_not_followed(
    push_service: PushService, vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    """The allow-list vouches for the endpoint only: a redirect elsewhere is not taken."""
    with PushService() as elsewhere:
        target = elsewhere.subscribe()
        push_service.fail_next(307, headers={"Location": target.endpoint})

        outcome = await _send(push_service.subscribe().to_json(), vapid, client)

        assert (outcome.kind, outcome.status) == ("rejected", 307)
        assert elsewhere.answers == []


async def test_a_service_that_does_not_answer_is_a_retry(
    vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    silent = listening_socket()  # accepts connections (backlog), never answers
    try:
        with PushService() as service:
            subscription = service.subscribe().to_json()
        subscription["endpoint"] = f"http://127.0.0.1:{silent.getsockname()[1]}/push/x"
        started = time.monotonic()

        outcome = await _send(subscription, vapid, client, timeout=0.5)

        assert (outcome.kind, outcome.status) == ("retry", None)
        assert "0.5 s" in outcome.reason
        assert time.monotonic() - started < 5
    finally:
        silent.close()


async def test_a_refused_connection_is_a_retry(vapid: VapidKey, client: httpx.AsyncClient) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    try:
        with PushService() as service:
            subscription = service.subscribe().to_json()
        subscription["endpoint"] = f"http://127.0.0.1:{closed.getsockname()[1]}/push/x"

        outcome = await _send(subscription, vapid, client)

        assert (outcome.kind, outcome.status) == ("retry", None)
        assert outcome.reason.startswith("ConnectError")
    finally:
        closed.close()


@pytest.mark.parametrize(
    "broken",
    [
        {"endpoint": "https://fcm.googleapis.com/fcm/send/x"},
        {"endpoint": "ftp://push.example/x", "keys": {"p256dh": "BA", "auth": "AAAA"}},
        {"endpoint": "https://fcm.googleapis.com/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}},
        {
            "endpoint": "https://fcm.googleapis.com/x",
            "keys": {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": b64url(b"a" * 16)},
        },
        {"endpoint": "https://[::1]/x", "keys": {"p256dh": _P256DH, "auth": b64url(b"a" * 16)}},
    ],
)
async def test_an_unusable_subscription_is_gone_without_a_request(
    vapid: VapidKey, client: httpx.AsyncClient, broken: dict[str, Any]
) -> None:
    outcome = await _send(broken, vapid, client)

    assert (outcome.kind, outcome.status) == ("gone", None)
    assert outcome.reason.startswith("unusable subscription")


async def test_a_long_body_is_trimmed_to_fit(
    push_service: PushService, vapid: VapidKey, client: httpx.AsyncClient
) -> None:
    subscription = push_service.subscribe()
    payload = _payload(body="Conclusions adverses reçues. " * 400)

    outcome = await _send(subscription.to_json(), vapid, client, payload)

    assert outcome.kind == "sent"
    [push] = push_service.pushes
    received = push.payload
    assert len(json.dumps(received, ensure_ascii=False, separators=(",", ":")).encode()) <= 3072
    assert received["body"].endswith("…") and payload["body"].startswith(received["body"][:-1])
    assert {k: v for k, v in received.items() if k != "body"} == {
        k: v for k, v in payload.items() if k != "body"
    }


async def test_caller_mistakes_raise(vapid: VapidKey, client: httpx.AsyncClient) -> None:
    with PushService() as service:
        subscription = service.subscribe().to_json()
        with pytest.raises(ValueError, match="ttl"):
            await _send(subscription, vapid, client, ttl=0)
        with pytest.raises(ValueError, match="topic"):
            await _send(subscription, vapid, client, topic="not a topic")
        with pytest.raises(ValueError, match="localhost"):
            await _send(subscription, vapid, client, subject="mailto:me@localhost")
        with pytest.raises(PayloadTooLarge):
            await _send(subscription, vapid, client, _payload(id="x" * 4000))
        assert service.answers == []


# -- the pure parts: payload, topic, Retry-After, and the test service's own decryption --


def test_payload_fits_as_is_when_small() -> None:
    payload = _payload()
    assert json.loads(encode_payload(payload)) == payload


def test_payload_trims_body_then_title_then_drops_url() -> None:
    big = _payload(title="T" * 2000, body="B" * 2000, url="/u" * 600)
    encoded = encode_payload(big)
    decoded = json.loads(encoded)
    assert len(encoded) <= MAX_PAYLOAD_BYTES
    assert decoded["body"] == "" and decoded["title"].endswith("…")
    assert decoded["url"] == big["url"]
    huge_url = json.loads(encode_payload(_payload(url="/" + "u" * 5000)))
    assert "url" not in huge_url and huge_url["body"] == "" and huge_url["title"] == ""


def test_payload_counts_bytes_not_characters() -> None:
    payload = _payload(body="é" * 3000)  # two bytes each in UTF-8
    encoded = encode_payload(payload)
    assert len(encoded) <= MAX_PAYLOAD_BYTES
    assert len(encoded) > MAX_PAYLOAD_BYTES - 10  # as much text as fits is kept


def test_topic_is_short_url_safe_and_stable() -> None:
    topics = {topic_for("ntf_" + str(n)) for n in range(100)}
    assert len(topics) == 100
    assert all(len(t) == 32 and t.replace("-", "").replace("_", "").isalnum() for t in topics)
    assert topic_for("a" * 500) == topic_for("a" * 500)


def test_retry_after_forms() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Tue, 10 Mar 2026 12:01:30 GMT", now) == 90.0
    assert parse_retry_after("Tue, 10 Mar 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_the_service_decryption_refuses_a_wrong_secret(push_service: PushService) -> None:
    from pywebpush import WebPusher

    subscription = push_service.subscribe()
    body = WebPusher(subscription.to_json()).encode(b'{"a":1}', "aes128gcm")["body"]
    assert decrypt_aes128gcm(body, subscription.private_key, subscription.auth_secret) == b'{"a":1}'
    with pytest.raises(ValueError, match="tag mismatch"):
        decrypt_aes128gcm(body, subscription.private_key, b"\x00" * 16)
