"""The channels' contract (DESIGN §8): push subscriptions, user profiles and the delivery
log, on every store backend (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.contract.test_store import ALICE_A, ALICE_B, BOB_A
from tocsin.store.base import Delivery, PushSubscription, UserProfile, endpoint_hash
from tocsin.store.sql import SqlStore


def subscription(user: str, endpoint: str, tenant: str = "tenant-a") -> PushSubscription:
    return PushSubscription(tenant, user, endpoint, "p256dh-key", "auth", datetime.now(UTC))


async def test_subscriptions_per_user_bounded_and_taken_over(store: SqlStore) -> None:
    long_endpoint = "https://fcm.googleapis.com/fcm/send/" + "x" * 1500
    assert await store.put_push_subscription(subscription("alice", long_endpoint), limit=2)
    assert await store.put_push_subscription(subscription("alice", "https://push/2"), limit=2)
    # A third is refused; the same endpoint again is not a new one.
    assert not await store.put_push_subscription(subscription("alice", "https://push/3"), limit=2)
    assert await store.put_push_subscription(subscription("alice", "https://push/2"), limit=2)
    assert [s.endpoint for s in await store.push_subscriptions(ALICE_A)] == [
        long_endpoint,
        "https://push/2",
    ]
    # The browser signs in as Bob: the endpoint is his now.
    assert await store.put_push_subscription(subscription("bob", "https://push/2"), limit=2)
    assert [s.endpoint for s in await store.push_subscriptions(ALICE_A)] == [long_endpoint]
    assert [s.endpoint for s in await store.push_subscriptions(BOB_A)] == ["https://push/2"]
    assert await store.push_subscriptions(ALICE_B) == []
    # Only its owner (or the server: None) deletes one.
    assert not await store.delete_push_subscription("https://push/2", ALICE_A)
    assert await store.delete_push_subscription("https://push/2", BOB_A)
    assert await store.delete_push_subscription(long_endpoint, None)
    assert await store.push_subscriptions(ALICE_A) == []


async def test_profiles(store: SqlStore) -> None:
    assert await store.get_profile("tenant-a", "alice") is None
    await store.put_profile(UserProfile("tenant-a", "alice", "a@x.fr", "fr", "Europe/Paris"))
    await store.put_profile(
        UserProfile("tenant-a", "alice", "alice@x.fr", None, None), only_email=True
    )
    assert await store.get_profile("tenant-a", "alice") == UserProfile(
        "tenant-a", "alice", "alice@x.fr", "fr", "Europe/Paris"
    )
    await store.put_profile(UserProfile("tenant-a", "alice", None, "en", None))
    assert await store.get_profile("tenant-a", "alice") == UserProfile(
        "tenant-a", "alice", None, "en", None
    )
    assert await store.get_profile("tenant-b", "alice") is None


async def test_delivery_log(store: SqlStore) -> None:
    at = datetime(2026, 12, 3, 9, tzinfo=UTC)
    await store.add_deliveries(
        [
            Delivery(7, "tenant-a", "alice", "push", "sent", None, at),
            Delivery(7, "tenant-a", "alice", "email", "cancelled", "read before", at),
            Delivery(8, "tenant-a", "bob", "push", "failed", "410", at),
        ]
    )
    log = await store.deliveries(7, 10)
    assert [(d.channel, d.status, d.detail, d.at) for d in log] == [
        ("push", "sent", None, at),
        ("email", "cancelled", "read before", at),
    ]
    assert await store.deliveries(9, 10) == []


async def test_progress_only_moves_forward(store: SqlStore) -> None:
    assert await store.get_progress("escalation") is None
    await store.advance_progress("escalation", 5)
    await store.advance_progress("escalation", 3)
    assert await store.get_progress("escalation") == 5
    await store.advance_progress("escalation", 9)
    assert await store.get_progress("escalation") == 9


async def test_push_subscribers_and_lookup_by_endpoint(store: SqlStore) -> None:
    for user in ("bob", "alice", "alice"):
        await store.put_push_subscription(subscription(user, f"https://push/{user}/{id(user)}"), 5)
    await store.put_push_subscription(subscription("alice", "https://push/a2"), 5)
    await store.put_push_subscription(subscription("carol", "https://push/c", "tenant-b"), 5)
    assert await store.push_subscribers("tenant-a", 10) == [ALICE_A, BOB_A]
    assert await store.push_subscribers("tenant-a", 1) == [ALICE_A]
    found = await store.push_subscription(endpoint_hash("https://push/a2"))
    assert found is not None and (found.user_id, found.endpoint) == ("alice", "https://push/a2")
    assert await store.push_subscription(endpoint_hash("https://nowhere")) is None
