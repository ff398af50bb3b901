"""The inbox-state contract (DESIGN §7), on every store backend (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.contract.test_store import ALICE_A, ALICE_B, BOB_A, draft
from tocsin.store.base import (
    SNOOZE_JOB,
    AuditEntry,
    InboxItem,
    InboxView,
    NewJob,
    snooze_job_key,
)
from tocsin.store.sql import SqlStore


async def ids_in(store: SqlStore, view: InboxView = InboxView.INBOX) -> list[str]:
    items = await store.inbox(
        ALICE_A, limit=50, before=None, event=None, unread_only=False, view=view
    )
    return [i.notification.id for i in items]


async def item(store: SqlStore, cursor: int) -> InboxItem:
    found = await store.item(ALICE_A, cursor)
    assert found is not None
    return found


def later(seconds: float) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


def wake_job(cursor: int, until: datetime) -> NewJob:
    return NewJob(
        snooze_job_key(ALICE_A, cursor, until), SNOOZE_JOB, until, {}, "tenant-a", "alice"
    )


def audit(target: str) -> AuditEntry:
    return AuditEntry(datetime.now(UTC), "tenant-a", "user:alice", "act", target, {})


async def test_seen_is_apart_from_read_and_read_implies_seen(store: SqlStore) -> None:
    await store.insert([draft("n1"), draft("n2"), draft("n3")])
    assert (await store.badge(ALICE_A)).unseen == 3
    assert await store.mark_seen(ALICE_A, ["n1", "nope"]) == ["n1"]
    badge = await store.badge(ALICE_A)
    assert (badge.unread, badge.unseen) == (3, 2)
    await store.mark_read(ALICE_A, ["n2"])
    badge = await store.badge(ALICE_A)
    assert (badge.unread, badge.unseen) == (2, 1)
    n2 = await item(store, 2)
    assert n2.read and n2.seen
    # The read watermark makes everything under it read, and so seen.
    await store.mark_all_read(ALICE_A, None)
    assert await store.badge(ALICE_A) == type(badge)(0, 0)


async def test_archive_leaves_the_inbox_and_the_counts_per_user(store: SqlStore) -> None:
    await store.insert([draft("mine"), draft("team", user=None, event="system-notification")])
    assert await store.archive(ALICE_A, ["team", "mine"], True) == ["team", "mine"]
    assert await ids_in(store) == []
    assert await ids_in(store, InboxView.ARCHIVED) == ["team", "mine"]
    assert (await store.badge(ALICE_A)).unread == 0
    # Bob still has the tenant-wide one in his inbox; Alice of tenant B sees none of it.
    assert (await store.badge(BOB_A)).unread == 1
    assert await store.archive(ALICE_B, ["mine"], True) == []
    assert await store.archive(ALICE_A, ["team"], False) == ["team"]
    assert await ids_in(store) == ["team"]
    counts = await store.counts(ALICE_A)
    assert (counts.total, counts.archived, counts.unread) == (1, 1, 1)
    assert counts.by_event == {"system-notification": (1, 1), "email-received": (0, 0)}


async def test_archive_all_up_to_and_only_read(store: SqlStore) -> None:
    await store.insert([draft(f"n{i}") for i in range(1, 6)])  # cursors 1..5
    await store.mark_read(ALICE_A, ["n2"])
    await store.mark_all_read(ALICE_A, 1)  # n1 read by the watermark
    count, up_to = await store.archive_all(ALICE_A, None, only_read=True)
    assert (count, up_to) == (2, 5)
    assert await ids_in(store, InboxView.ARCHIVED) == ["n2", "n1"]
    count, up_to = await store.archive_all(ALICE_A, 4, only_read=False)
    assert (count, up_to) == (2, 4)  # n3, n4; n5 is above upTo
    assert await ids_in(store) == ["n5"]
    # Again: nothing left to archive below 4.
    assert await store.archive_all(ALICE_A, 4, only_read=False) == (0, 4)


async def test_snooze_hides_until_woken_once_unread_and_unseen(store: SqlStore) -> None:
    await store.insert([draft("n1"), draft("n2")])
    await store.mark_all_read(ALICE_A, None)  # both read by the watermark
    until = later(3600)
    assert await store.snooze(ALICE_A, ["n1", "other"], until, lambda c: wake_job(c, until)) == [
        "n1"
    ]
    assert await ids_in(store) == ["n2"]
    assert await ids_in(store, InboxView.SNOOZED) == ["n1"]
    assert (await item(store, 1)).snoozed_until == until
    [job] = await store.list_jobs(kind=SNOOZE_JOB)
    assert (job.status, job.run_at) == ("pending", until)
    # Another time than the snooze's own does not wake it; its own does, once.
    assert await store.wake(ALICE_A, 1, until + timedelta(seconds=1)) is None
    woken = await store.wake(ALICE_A, 1, until)
    assert woken is not None and not woken.read and not woken.seen and woken.snoozed_until is None
    assert await store.wake(ALICE_A, 1, until) is None
    # Back unread although the read watermark covers it, until read again.
    assert await ids_in(store) == ["n2", "n1"]
    assert (await store.badge(ALICE_A)).unread == 1
    await store.mark_read(ALICE_A, ["n1"])
    assert (await store.badge(ALICE_A)).unread == 0


async def test_mark_all_read_reads_what_a_snooze_brought_back(store: SqlStore) -> None:
    await store.insert([draft("n1")])
    await store.mark_all_read(ALICE_A, None)
    until = later(120)
    await store.snooze(ALICE_A, ["n1"], until, lambda c: wake_job(c, until))
    await store.wake(ALICE_A, 1, until)
    assert (await store.badge(ALICE_A)).unread == 1
    await store.mark_all_read(ALICE_A, None)
    assert (await store.badge(ALICE_A)).unread == 0
    assert (await item(store, 1)).read


async def test_resnooze_unsnooze_and_archive_cancel_the_pending_wake_up(store: SqlStore) -> None:
    await store.insert([draft("n1")])
    first, second = later(600), later(1200)
    await store.snooze(ALICE_A, ["n1"], first, lambda c: wake_job(c, first))
    await store.snooze(ALICE_A, ["n1"], second, lambda c: wake_job(c, second))
    # The first wake-up is gone (a client re-snoozing cannot grow the table).
    statuses = {j.run_at: j.status for j in await store.list_jobs(kind=SNOOZE_JOB)}
    assert statuses == {second: "pending"}
    assert await store.wake(ALICE_A, 1, first) is None  # the first time no longer applies
    assert await store.unsnooze(ALICE_A, ["n1", "n1"]) == ["n1"]
    assert await store.unsnooze(ALICE_A, ["n1"]) == []  # not snoozed any more
    assert await store.list_jobs(kind=SNOOZE_JOB) == []
    assert await ids_in(store) == ["n1"]
    third = later(1800)
    await store.snooze(ALICE_A, ["n1"], third, lambda c: wake_job(c, third))
    await store.archive(ALICE_A, ["n1"], True)
    assert await store.list_jobs(status="pending") == []
    archived = await item(store, 1)
    assert archived.archived and archived.snoozed_until is None


async def test_act_records_the_first_action_once_and_audits_it(store: SqlStore) -> None:
    [stored] = await store.insert([draft("alert")])
    note = stored.id
    # The draft offers no actions: nothing to take.
    assert await store.act(ALICE_A, note, "acknowledge", audit(note)) is None
    offering = draft("with-actions")
    offering.fields["actions"] = [
        {"id": "acknowledge", "label": "OK"},
        {"id": "later", "label": "L"},
    ]
    await store.insert([offering])
    first = await store.act(ALICE_A, "with-actions", "acknowledge", audit("with-actions"))
    assert first is not None and not first.already and first.action == "acknowledge"
    again = await store.act(ALICE_A, "with-actions", "later", audit("with-actions"))
    assert again is not None and again.already and again.action == "acknowledge"
    assert again.acted_at == first.acted_at
    acted = await item(store, 2)
    assert acted.read and acted.action == "acknowledge"
    assert await store.act(BOB_A, "with-actions", "acknowledge", audit("x")) is None
    entries = await store.list_audit("tenant-a", since=None, limit=10)
    assert [(e.action, e.target) for e in entries] == [("act", "with-actions")]


async def test_preferences_per_user_and_tenant(store: SqlStore) -> None:
    assert await store.get_preferences("tenant-a", "alice") is None
    document = {"events": {"email-received": {"push": False}}}
    await store.put_preferences("tenant-a", "alice", document, None)
    await store.put_preferences("tenant-a", "", {"quietHours": None}, audit("tenant-a"))
    assert await store.get_preferences("tenant-a", "alice") == document
    assert await store.get_preferences("tenant-a", "") == {"quietHours": None}
    assert await store.get_preferences("tenant-b", "alice") is None
    await store.put_preferences("tenant-a", "alice", {}, None)
    assert await store.get_preferences("tenant-a", "alice") == {}


async def test_counts_cover_every_view(store: SqlStore) -> None:
    await store.insert(
        [draft("m1"), draft("m2"), draft("s1", event="system-notification"), draft("m3")]
    )
    await store.mark_read(ALICE_A, ["m1"])
    await store.mark_seen(ALICE_A, ["m2"])
    await store.archive(ALICE_A, ["m3"], True)
    until = later(600)
    await store.snooze(ALICE_A, ["s1"], until, lambda c: wake_job(c, until))
    counts = await store.counts(ALICE_A)
    assert counts.to_json() == {
        "unread": 1,
        "unseen": 0,
        "total": 2,
        "archived": 1,
        "snoozed": 1,
        "byEvent": {
            "email-received": {"unread": 1, "total": 2},
            "system-notification": {"unread": 0, "total": 0},
        },
    }
    badge = await store.badge(ALICE_A)
    assert (badge.unread, badge.unseen) == (counts.unread, counts.unseen)


async def test_a_snooze_of_a_cleared_item_ends_without_bringing_it_back(store: SqlStore) -> None:
    await store.insert([draft("n1"), draft("n2")])
    until = later(600)
    await store.snooze(ALICE_A, ["n1"], until, lambda c: wake_job(c, until))
    await store.clear(ALICE_A, None)
    assert await store.wake(ALICE_A, 1, until) is None
    assert await ids_in(store, InboxView.SNOOZED) == []
    assert (await store.badge(ALICE_A)).unread == 0
