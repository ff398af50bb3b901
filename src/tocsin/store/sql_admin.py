"""SQL queries of the operator page (mixed into :class:`SqlStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tocsin.store.tables import notifications

n = notifications.c


class AdminQueries:
    """Publishes per minute, counted from the store (so across every node); needs the host's
    engine."""

    @property
    def engine(self) -> AsyncEngine:
        """The host store's engine."""
        raise NotImplementedError

    async def accepted_since(self, moments: Sequence[datetime], scan: int) -> list[int]:
        """For each of ``moments``, how many of the newest ``scan`` notifications were
        accepted at or after it.

        Cursors are handed out one by one in commit order, and ``accepted_at`` is set under
        the same lock: the newest ``scan`` are one range of the cursor index, so the work is
        bounded whatever the table's size (there is no index on ``accepted_at``).
        """
        if not moments:
            return []
        newest = select(func.coalesce(func.max(n.cursor), 0)).scalar_subquery()
        sums = [
            func.coalesce(func.sum(case((n.accepted_at >= moment, 1), else_=0)), 0)
            for moment in moments
        ]
        query = select(*sums).where(n.cursor > newest - scan)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return [int(value) for value in row]
