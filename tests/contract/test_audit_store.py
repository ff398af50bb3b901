"""The audit log's store contract (DESIGN §9), on SQLite and PostgreSQL: paging on the
row's position, time windows, tenants apart, and key changes audited with the change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tocsin.store.base import ApiKeyRecord, AuditEntry
from tocsin.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def entry(minute: int, tenant: str | None = "firm-a", target: str = "x") -> AuditEntry:
    return AuditEntry(T0 + timedelta(minutes=minute), tenant, "key:k1", "act", target, {"n": 1})


async def test_pages_follow_the_log_and_never_overlap(store: SqlStore) -> None:
    for i in range(7):
        await store.add_audit(entry(i, target=f"a{i}"))
        await store.add_audit(entry(i, tenant="firm-b", target=f"b{i}"))
    await store.add_audit(entry(3, tenant=None, target="global"))
    seen: list[str | None] = []
    after = None
    while True:
        page = await store.list_audit("firm-a", since=None, limit=3, after=after)
        seen += [e.target for e in page]
        if len(page) < 3:
            break
        after = page[-1].pk
    assert seen == [f"a{i}" for i in range(7)]
    everything = await store.list_audit(None, since=None, limit=100)
    assert len(everything) == 15
    positions = [e.pk for e in everything]
    assert all(isinstance(p, int) for p in positions)
    assert positions == sorted(positions) and len(set(positions)) == 15
    assert everything[0].detail == {"n": 1} and everything[0].at == T0


async def test_since_is_inclusive_and_until_exclusive(store: SqlStore) -> None:
    for i in range(5):
        await store.add_audit(entry(i, target=f"a{i}"))
    window = await store.list_audit(
        "firm-a", since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3), limit=10
    )
    assert [e.target for e in window] == ["a1", "a2"]


async def test_a_key_and_its_audit_entry_are_stored_together(store: SqlStore) -> None:
    record = ApiKeyRecord("k9", "firm-a", "ci", "0" * 64, T0, None)
    created = AuditEntry(T0, "firm-a", "cli:ops", "key.create", "k9", {"name": "ci"})
    await store.add_api_key(record, created)
    revoked = AuditEntry(T0, "firm-a", "cli:ops", "key.revoke", "k9", {"name": "ci"})
    assert await store.revoke_api_key("k9", T0, revoked)
    # Revoking again changes nothing, and so writes nothing.
    assert not await store.revoke_api_key("k9", T0, revoked)
    log = await store.list_audit("firm-a", since=None, limit=10)
    assert [(e.action, e.target, e.actor) for e in log] == [
        ("key.create", "k9", "cli:ops"),
        ("key.revoke", "k9", "cli:ops"),
    ]
