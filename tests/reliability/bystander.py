"""A well-behaved client and a steady publisher, to show that an attack hurts no one else."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.helpers import Client, email, publish


class TimedClient(Client):
    """A python-socketio client that also notes when each notification arrived."""

    def __init__(self, url: str, user: str, tenant: str) -> None:
        super().__init__(url, user, tenant)
        self.arrived: dict[str, float] = {}

    async def _any(self, event: str, data: Any = None) -> None:
        if isinstance(data, dict) and "cursor" in data and "id" in data:
            self.arrived.setdefault(str(data["id"]), time.monotonic())
        await super()._any(event, data)


@dataclass
class Bystander:
    """Publishes to one user at a steady pace while that user's socket reads.

    ``async with Bystander(url):`` connects the socket and starts publishing; leaving the
    block stops publishing and waits for every notification. ``report()`` then says what was
    lost, duplicated or reordered, how late the worst one was, and whether any publish
    failed or the socket was disconnected.
    """

    url: str
    user: str = "bystander"
    tenant: str = "firm-calm"
    interval: float = 0.02
    client: TimedClient = field(init=False)
    sent: list[str] = field(default_factory=list)
    committed: dict[str, float] = field(default_factory=dict)
    failures: list[int] = field(default_factory=list)
    disconnects: int = 0
    unexpected_disconnects: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Bystander:
        self.client = TimedClient(self.url, self.user, self.tenant)

        def gone(reason: Any = None) -> None:
            self.disconnects += 1

        self.client.sio.on("disconnect", gone)
        await self.client.connect()
        self._task = asyncio.create_task(self._publish())
        return self

    async def _publish(self) -> None:
        run = uuid.uuid4().hex[:8]  # source ids unique across runs: easy to trace
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            n = 0
            while not self._stop.is_set():
                notification_id = f"calm-{run}-{n}"
                try:
                    response = await publish(
                        http, email(self.user, self.tenant, id=notification_id)
                    )
                except httpx.HTTPError:
                    self.failures.append(-1)
                else:
                    if response.status_code == 202:
                        # Tocsin's id, the one the socket receives.
                        tocsin_id = response.json()["id"]
                        self.sent.append(tocsin_id)
                        self.committed[tocsin_id] = time.monotonic()
                    else:
                        self.failures.append(response.status_code)
                n += 1
                # Pacing, not synchronisation: a steady publisher.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval)

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        try:
            await self.client.wait_notifications(len(self.sent), timeout=30)
        except AssertionError:
            pass  # reported by report()
        finally:
            self.unexpected_disconnects = self.disconnects
            await self.client.disconnect()

    def report(self) -> dict[str, Any]:
        """Counts: sent, lost, duplicated, reordered, worst lag, failures, disconnects."""
        got = [n["id"] for n in self.client.notifications()]
        counts = Counter(got)
        lags = [
            self.client.arrived[i] - self.committed[i]
            for i in self.sent
            if i in self.client.arrived
        ]
        return {
            "sent": len(self.sent),
            "lost": len(set(self.sent) - set(got)),
            "duplicated": sum(c - 1 for c in counts.values() if c > 1),
            "in_order": got == self.sent,
            "max_lag_s": round(max(lags, default=0.0), 3),
            "publish_failures": self.failures,
            "disconnects": self.unexpected_disconnects,
        }
