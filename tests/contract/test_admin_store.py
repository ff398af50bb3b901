"""The operator page's store queries, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.contract.test_store import draft
from tocsin.store.sql import SqlStore


async def test_publishes_are_counted_from_moments_within_the_scan(store: SqlStore) -> None:
    assert await store.accepted_since([datetime.now(UTC) - timedelta(hours=1)], 100) == [0]
    before = datetime.now(UTC) - timedelta(seconds=1)
    await store.insert([draft("n1"), draft("n2")])
    await store.insert([draft("n3")])
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert await store.accepted_since([before, after], 100) == [3, 0]
    # Only the newest ``scan`` notifications are looked at: bounded work on a large table.
    assert await store.accepted_since([before], 2) == [2]
    assert await store.accepted_since([], 100) == []
