"""One contract suite, run on every store backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from tocsin.models import Audience, Identity
from tocsin.store.base import ApiKeyRecord, DeadlineRecord, Draft, MailboxPosition
from tocsin.store.sql import SqlStore

ALICE_A = Identity("tenant-a", "alice")
BOB_A = Identity("tenant-a", "bob")
ALICE_B = Identity("tenant-b", "alice")  # same user id, other tenant


def draft(
    id: str,
    *,
    tenant: str | None = "tenant-a",
    user: str | None = "alice",
    event: str = "email-received",
    key: str | None = None,
    request_hash: str | None = None,
    source: str | None = None,
    content: str | None = None,
) -> Draft:
    audience = Audience.USER if user else Audience.TENANT if tenant else Audience.ALL
    return Draft(
        id=id,
        event=event,
        audience=audience,
        tenant_id=tenant,
        user_id=user,
        fields={"subject": f"s-{id}", "from": "x@y.z"},
        timestamp=datetime.now(UTC),
        idempotency_key=key,
        request_hash=request_hash,
        source_id=source,
        content_hash=content,
    )


async def test_cursors_increase_and_max_cursor_follows(store: SqlStore) -> None:
    assert await store.max_cursor() == 0
    results = await store.insert([draft("1"), draft("2"), draft("3")])
    assert [r.cursor for r in results] == [1, 2, 3]
    assert all(r.created for r in results)
    assert await store.max_cursor() == 3
    assert [n.id for n in await store.fetch_after(1, 10)] == ["2", "3"]


async def test_migrations_are_idempotent(store_url: str) -> None:
    for _ in range(2):
        s = SqlStore(store_url)
        await s.open(migrate=True)
        await s.close()


async def test_same_content_hash_in_scope_creates_nothing(store: SqlStore) -> None:
    [first] = await store.insert([draft("n1", source="dossier-7", content="c1")])
    [again] = await store.insert([draft("n2", source="dossier-7", content="c1")])
    assert (again.id, again.cursor, again.created) == ("n1", first.cursor, False)
    # The same source id with other content is another notification…
    [update] = await store.insert([draft("n3", source="dossier-7", content="c2")])
    assert update.created and update.id == "n3"
    # …and so is the same content hash in another tenant.
    [other] = await store.insert([draft("n4", tenant="tenant-b", source="dossier-7", content="c1")])
    assert other.created and other.cursor != first.cursor
    assert await store.max_cursor() == 3


async def test_source_ids_are_kept_and_may_repeat(store: SqlStore) -> None:
    await store.insert([draft("n1", source="dossier-7", content="c1"), draft("n2")])
    await store.insert([draft("n3", source="dossier-7", content="c2")])
    fetched = await store.fetch_after(0, 10)
    assert [(n.id, n.source_id) for n in fetched] == [
        ("n1", "dossier-7"),
        ("n2", None),
        ("n3", "dossier-7"),
    ]
    replayed, _cut = await store.replay(ALICE_A, 0, 10)
    assert [i.notification.source_id for i in replayed] == ["dossier-7", None, "dossier-7"]
    assert replayed[0].notification.to_wire()["sourceId"] == "dossier-7"
    assert "sourceId" not in replayed[1].notification.to_wire()


async def test_duplicate_inside_one_batch(store: SqlStore) -> None:
    results = await store.insert([draft("x", content="c"), draft("y", content="c")])
    assert results[0].created and not results[1].created
    assert results[0].cursor == results[1].cursor
    # Without a key or a content hash, nothing is a duplicate.
    results = await store.insert([draft("z"), draft("w")])
    assert all(r.created for r in results)


async def test_idempotency_key_same_request_and_different_request(store: SqlStore) -> None:
    [first] = await store.insert([draft("a", key="k1", request_hash="h1")])
    [same] = await store.insert([draft("b", key="k1", request_hash="h1")])
    assert (same.id, same.cursor, same.created, same.key_conflict) == (
        "a",
        first.cursor,
        False,
        False,
    )
    [other] = await store.insert([draft("c", key="k1", request_hash="h2")])
    assert other.key_conflict and not other.created
    assert await store.max_cursor() == 1


async def test_earlier_ids_and_keys_are_found_at_every_batch_size(store: SqlStore) -> None:
    # Lookups are compiled for power-of-two counts of values: cross a few of them.
    earlier = await store.insert([draft(f"e{i}", key=f"k{i}", request_hash="h") for i in range(5)])
    for size in (1, 2, 3, 5, 9, 17):
        batch = [draft(f"e{i % 5}", key=f"k{i % 5}", request_hash="h") for i in range(size)]
        batch.append(draft(f"new-{size}"))
        results = await store.insert(batch)
        assert [r.cursor for r in results[:-1]] == [earlier[i % 5].cursor for i in range(size)]
        assert not any(r.created for r in results[:-1])
        assert results[-1].created
    assert await store.max_cursor() == 5 + 6


async def test_a_failed_write_leaves_the_store_writable(store: SqlStore) -> None:
    unstorable = draft("bad")
    unstorable.fields["when"] = object()  # not JSON: the insert fails mid-transaction
    with pytest.raises(TypeError):
        await store.insert([draft("before-bad"), unstorable])
    [after] = await store.insert([draft("after")])
    assert after.created and after.cursor == 1
    assert [n.id for n in await store.fetch_after(0, 10)] == ["after"]


async def test_visibility_by_tenant_and_user(store: SqlStore) -> None:
    await store.insert(
        [
            draft("to-alice-a"),
            draft("to-bob-a", user="bob"),
            draft("to-tenant-a", user=None, event="system-notification"),
            draft("to-alice-b", tenant="tenant-b"),
            draft("to-all", tenant=None, user=None, event="system-notification"),
        ]
    )

    async def ids(identity: Identity) -> set[str]:
        items = await store.inbox(identity, limit=50, before=None, event=None, unread_only=False)
        return {i.notification.id for i in items}

    assert await ids(ALICE_A) == {"to-alice-a", "to-tenant-a", "to-all"}
    assert await ids(BOB_A) == {"to-bob-a", "to-tenant-a", "to-all"}
    assert await ids(ALICE_B) == {"to-alice-b", "to-all"}
    replayed, truncated = await store.replay(ALICE_B, 0, 100)
    assert [i.notification.id for i in replayed] == ["to-alice-b", "to-all"]
    assert not truncated


async def test_replay_is_ordered_and_bounded(store: SqlStore) -> None:
    await store.insert([draft(str(i)) for i in range(10)])
    items, truncated = await store.replay(ALICE_A, 2, 100)
    assert [i.notification.cursor for i in items] == list(range(3, 11))
    assert not truncated
    items, truncated = await store.replay(ALICE_A, 0, 4)
    assert truncated
    assert [i.notification.cursor for i in items] == [7, 8, 9, 10]


async def test_inbox_pages_and_filters(store: SqlStore) -> None:
    await store.insert([draft(f"e{i}") for i in range(5)])
    await store.insert([draft("sys", event="system-notification")])
    page = await store.inbox(ALICE_A, limit=3, before=None, event=None, unread_only=False)
    assert [i.notification.id for i in page] == ["sys", "e4", "e3", "e2"]  # limit + 1
    older = await store.inbox(ALICE_A, limit=3, before=4, event=None, unread_only=False)
    assert [i.notification.id for i in older] == ["e2", "e1", "e0"]
    only_sys = await store.inbox(
        ALICE_A, limit=10, before=None, event="system-notification", unread_only=False
    )
    assert [i.notification.id for i in only_sys] == ["sys"]


async def test_read_state_mark_read_all_and_clear(store: SqlStore) -> None:
    await store.insert([draft(f"n{i}") for i in range(4)])
    await store.insert([draft("team", user=None, event="system-notification")])
    assert await store.unread_count(ALICE_A) == 5
    assert await store.unread_count(BOB_A) == 1
    # Bounded by a cursor (the newest one of an inbox page): n0..n2 are cursors 1..3.
    assert await store.unread_count(ALICE_A, up_to=3) == 3
    assert await store.unread_count(ALICE_A, up_to=0) == 0

    marked = await store.mark_read(ALICE_A, ["n1", "n1", "unknown", "team"])
    assert marked == ["n1", "team"]
    assert await store.unread_count(ALICE_A) == 3
    # Alice reading a tenant notification does not read it for Bob.
    assert await store.unread_count(BOB_A) == 1
    # Bob cannot mark Alice's notification.
    assert await store.mark_read(BOB_A, ["n0"]) == []
    assert await store.unread_count(ALICE_A) == 3

    unread = await store.inbox(ALICE_A, limit=10, before=None, event=None, unread_only=True)
    assert {i.notification.id for i in unread} == {"n0", "n2", "n3"}

    watermark = await store.mark_all_read(ALICE_A, 3)
    assert watermark == 3
    assert await store.unread_count(ALICE_A) == 1  # n3
    assert await store.mark_all_read(ALICE_A, 1) == 3  # never lowers
    await store.insert([draft("late")])
    assert await store.unread_count(ALICE_A) == 2
    everything = await store.mark_all_read(ALICE_A, None)
    assert everything == await store.max_cursor()
    assert await store.unread_count(ALICE_A) == 0

    await store.insert([draft("after-read")])
    await store.clear(ALICE_A, None)
    assert await store.inbox(ALICE_A, limit=10, before=None, event=None, unread_only=False) == []
    assert await store.unread_count(ALICE_A) == 0


async def test_concurrent_writers_get_unique_gapless_cursors(store: SqlStore) -> None:
    async def writer(w: int) -> list[int]:
        cursors = []
        for i in range(20):
            [r] = await store.insert([draft(f"w{w}-{i}")])
            cursors.append(r.cursor)
        return cursors

    results = await asyncio.gather(*(writer(w) for w in range(8)))
    every = sorted(c for cursors in results for c in cursors)
    assert every == list(range(1, 161))
    fetched = await store.fetch_after(0, 500)
    assert [n.cursor for n in fetched] == every


async def test_api_keys(store: SqlStore) -> None:
    now = datetime.now(UTC)
    await store.add_api_key(ApiKeyRecord("k1", "tenant-a", "ci", "h" * 64, now, None))
    await store.add_api_key(ApiKeyRecord("k2", "tenant-b", "", "g" * 64, now, None))
    got = await store.get_api_key("k1")
    assert got is not None and got.tenant_id == "tenant-a" and got.revoked_at is None
    assert [k.key_id for k in await store.list_api_keys("tenant-b")] == ["k2"]
    assert len(await store.list_api_keys(None)) == 2
    assert await store.revoke_api_key("k1", now)
    assert not await store.revoke_api_key("k1", now)
    revoked = await store.get_api_key("k1")
    assert revoked is not None and revoked.revoked_at is not None
    assert await store.get_api_key("nope") is None


def deadline(
    id: str, due: date, *, tenant: str = "tenant-a", status: str = "open"
) -> DeadlineRecord:
    return DeadlineRecord(
        tenant_id=tenant,
        id=id,
        user_id="alice",
        dossier_number="D-1",
        deadline_type="OQTF",
        due_date=due,
        due_at=due.isoformat(),
        timezone=None,
        status=status,
        message=None,
        updated_at=datetime.now(UTC),
    )


async def test_deadlines_put_replace_list_delete(store: SqlStore) -> None:
    assert await store.put_deadline(deadline("d1", date(2026, 3, 10)))
    assert await store.put_deadline(deadline("d2", date(2026, 3, 5)))
    assert await store.put_deadline(deadline("d1", date(2026, 3, 1), tenant="tenant-b"))
    # Replacing answers "not created" and changes the row.
    assert not await store.put_deadline(deadline("d1", date(2026, 3, 12), status="closed"))
    got = await store.get_deadline("tenant-a", "d1")
    assert got is not None and got.due_date == date(2026, 3, 12) and got.status == "closed"
    assert [x.id for x in await store.list_deadlines("tenant-a")] == ["d2", "d1"]
    window = await store.list_deadlines(None, due_from=date(2026, 3, 2), due_to=date(2026, 3, 11))
    assert [(x.tenant_id, x.id) for x in window] == [("tenant-a", "d2")]
    assert [x.id for x in await store.list_deadlines(None, status="open")] == ["d1", "d2"]
    assert await store.delete_deadline("tenant-a", "d2")
    assert not await store.delete_deadline("tenant-a", "d2")
    assert await store.get_deadline("tenant-a", "d2") is None


async def test_mailbox_positions(store: SqlStore) -> None:
    assert await store.get_mailbox_position("inbox") is None
    await store.set_mailbox_position(MailboxPosition("inbox", 7, 41))
    await store.set_mailbox_position(MailboxPosition("inbox", 7, 42))
    assert await store.get_mailbox_position("inbox") == MailboxPosition("inbox", 7, 42)
