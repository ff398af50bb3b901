"""Fixtures of the store contract suites (each runs on SQLite and PostgreSQL: ``store_url``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tocsin.store.sql import SqlStore


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    """A migrated store on the backend under test."""
    s = SqlStore(store_url)
    await s.open(migrate=True)
    try:
        yield s
    finally:
        await s.close()
