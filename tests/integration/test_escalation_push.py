"""Escalation to Web Push (DESIGN §8) against a local push service that verifies VAPID and
decrypts what it receives: critical at once with Urgency high, unseen after the delay,
nothing once seen, preferences, and the push service's answers (410, 429)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import make_settings
from tests.helpers import (
    ServerThread,
    bearer,
    critical_alert,
    delivery_log,
    email,
    publish,
)
from tests.pushservice import BrowserSubscription, PushService
from tocsin.app import create_service
from tocsin.auth.apikeys import Publisher
from tocsin.config import Settings
from tocsin.escalation import PUSH_TO_JOB, Escalation
from tocsin.models import Identity
from tocsin.push.vapid import generate
from tocsin.store.base import JobRecord, PushSubscription, endpoint_hash
from tocsin.store.sql import SqlStore

TENANT = "firm-a"
AS_ALICE, AS_BOB = bearer("alice", TENANT), bearer("bob", TENANT)
ALICE = Identity(TENANT, "alice")
PUSH_AFTER = 1.5
KEYS = generate()


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(
        sqlite_url,
        vapid_private_key=KEYS.private_key,
        vapid_subject="mailto:ops@firm-a.fr",
        push_services=["http://127.0.0.1:*"],
        push_after=PUSH_AFTER,
        jobs_poll_interval=0.2,
    )


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture
async def subscribed(
    server: ServerThread, http: httpx.AsyncClient, push_service: PushService
) -> AsyncIterator[BrowserSubscription]:
    subscription = push_service.subscribe(application_server_key=KEYS.public_key)
    answer = await http.post(
        "/api/v1/push/subscriptions", json=subscription.to_json(), headers=AS_ALICE
    )
    assert answer.status_code == 201, answer.text
    yield subscription


async def test_a_critical_alert_is_pushed_at_once_with_urgency_high(
    http: httpx.AsyncClient, push_service: PushService, subscribed: BrowserSubscription
) -> None:
    started = time.monotonic()
    published = (await publish(http, critical_alert("alice", TENANT))).json()
    [push] = await push_service.wait_for_pushes_async(1, timeout=2.0)
    took = push.received_at - started
    print(f"\ncritical alert: publish → push received and decrypted in {took * 1000:.0f} ms")
    assert took < 2.0
    assert push.urgency == "high" and push.topic and push.ttl > 0
    assert push.payload["id"] == published["id"] and push.payload["critical"] is True
    assert push.payload["event"] == "deadline-alert" and "OQTF" in push.payload["title"]
    assert push.payload["unreadCount"] == 1
    assert push.claims["aud"] == push_service.origin
    log = await delivery_log(http, published["id"], "sent")
    assert [(d["channel"], d["status"]) for d in log] == [("push", "sent")]


async def test_unseen_after_the_delay_is_pushed_and_seen_is_not(
    http: httpx.AsyncClient, push_service: PushService, subscribed: BrowserSubscription
) -> None:
    seen = (await publish(http, email("alice", TENANT, subject="Vu à temps"))).json()
    unseen = (await publish(http, email("alice", TENANT, subject="Pas vu"))).json()
    marked = await http.post("/api/v1/inbox/seen", json={"ids": [seen["id"]]}, headers=AS_ALICE)
    assert marked.status_code == 200
    started = time.monotonic()
    [push] = await push_service.wait_for_pushes_async(1, timeout=PUSH_AFTER + 3)
    assert push.payload["id"] == unseen["id"] and push.urgency == "normal"
    assert push.received_at - started >= PUSH_AFTER - 0.5
    log = await delivery_log(http, seen["id"], "cancelled")
    assert [(d["status"], d["detail"]) for d in log] == [
        ("cancelled", "seen before the push delay")
    ]
    # A critical marker pushed after both proves no second push of either came.
    marker = (await publish(http, critical_alert("alice", TENANT))).json()
    pushes = await push_service.wait_for_pushes_async(2, timeout=3.0)
    assert [p.payload["id"] for p in pushes] == [unseen["id"], marker["id"]]


async def test_muted_events_are_not_pushed_but_critical_ones_are(
    http: httpx.AsyncClient, push_service: PushService, subscribed: BrowserSubscription
) -> None:
    muted = {"events": {"email-received": {"push": False}, "deadline-alert": {"push": False}}}
    assert (await http.put("/api/v1/preferences", json=muted, headers=AS_ALICE)).status_code == 200
    quiet = (await publish(http, email("alice", TENANT))).json()
    log = await delivery_log(http, quiet["id"], "cancelled", timeout=PUSH_AFTER + 3)
    assert log[0]["detail"] == "push is off for this event in the user's preferences"
    loud = (await publish(http, critical_alert("alice", TENANT))).json()
    [push] = await push_service.wait_for_pushes_async(1, timeout=2.0)
    assert push.payload["id"] == loud["id"]


async def test_a_gone_subscription_is_deleted(
    http: httpx.AsyncClient,
    settings: Settings,
    push_service: PushService,
    subscribed: BrowserSubscription,
) -> None:
    push_service.unsubscribe(subscribed)
    published = (await publish(http, critical_alert("alice", TENANT))).json()
    log = await delivery_log(http, published["id"], "failed")
    assert [(d["status"], d["detail"]) for d in log] == [("failed", "subscription gone (410)")]
    store = SqlStore(settings.database_url)
    await store.open(migrate=False)
    try:
        assert await store.push_subscriptions(ALICE) == []
    finally:
        await store.close()


async def test_429_is_retried_after_retry_after_and_delays_no_one_else(
    server: ServerThread,
    http: httpx.AsyncClient,
    push_service: PushService,
    subscribed: BrowserSubscription,
) -> None:
    bobs = push_service.subscribe(application_server_key=KEYS.public_key)
    answer = await http.post("/api/v1/push/subscriptions", json=bobs.to_json(), headers=AS_BOB)
    assert answer.status_code == 201
    push_service.fail_endpoint(subscribed, 429, headers={"Retry-After": "2"})
    started = time.monotonic()
    alices = (await publish(http, critical_alert("alice", TENANT))).json()
    bob = (await publish(http, critical_alert("bob", TENANT))).json()
    [first] = await push_service.wait_for_pushes_async(1, timeout=2.0)
    assert first.payload["id"] == bob["id"] and first.received_at - started < 2.0
    push_service.clear_failures()
    pushes = await push_service.wait_for_pushes_async(2, timeout=6.0)
    assert pushes[1].payload["id"] == alices["id"]
    assert pushes[1].received_at - started >= 2.0
    # The push service answers before the node writes "sent": wait for the log line.
    log = await delivery_log(http, alices["id"], "sent")
    assert [d["status"] for d in log] == ["deferred", "sent"]


@pytest.mark.attack(
    title="A push meant for one firm's user sent to a same-named user of another firm (issue 18)",
    tried="a subscription taken over by firm-b's alice between the fan-out and the send of "
    "firm-a's alice's push",
    times=1,
)
async def test_a_subscription_taken_over_by_another_tenant_gets_nothing(
    settings: Settings, push_service: PushService
) -> None:
    service = create_service(settings)
    await service.store.open(migrate=True)
    escalation = Escalation(service)
    try:
        admin = Publisher(tenant_id=None, key_id="admin")
        published = await service.publish(critical_alert("alice", TENANT), admin)
        subscription = push_service.subscribe(application_server_key=KEYS.public_key)
        # The browser now belongs to alice of firm-b (same user id, another tenant).
        await service.store.put_push_subscription(
            PushSubscription(
                "firm-b",
                "alice",
                subscription.endpoint,
                subscription.p256dh,
                subscription.auth,
                datetime.now(UTC),
            ),
            limit=10,
        )
        job = JobRecord(
            key="pushto:test", kind=PUSH_TO_JOB, run_at=datetime.now(UTC),
            payload={"cursor": published.cursor, "rule": "critical",
                     "endpoint": endpoint_hash(subscription.endpoint)},
            tenant_id=TENANT, user_id="alice", attempts=1, status="pending", last_error=None,
        )  # fmt: skip
        await escalation.run_push_to(job)
        [logged] = await service.store.deliveries(published.cursor, 10)
        assert (logged.status, logged.detail) == ("cancelled", "the subscription is gone")
        assert push_service.pushes == []
    finally:
        await escalation.close()
        await service.store.close()
