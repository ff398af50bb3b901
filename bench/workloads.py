"""The workloads, each against one running server, every wait bounded by a deadline.

Times are taken on the generator's ``perf_counter`` clock: a publish's start is the moment
just before its HTTP request is handed to the client library, a receipt the moment its
WebSocket frame is read off the socket (before any decoding).
"""

from __future__ import annotations

import asyncio
import math
import random
import resource
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.servers import ADMIN_KEY, JWT_SECRET, BenchServer
from bench.wsclient import Receipts, SioSocket, connect_many, mint_token

TENANT_SIZE = 100
GAUGE_POLL = 0.01


def identity(index: int) -> tuple[str, str]:
    """(user id, tenant id) of socket ``index``: one user each, tenants of 100 sockets."""
    return f"u{index}", f"t{index // TENANT_SIZE}"


def mark_of(data: dict[str, Any]) -> Any:
    """The ``id`` a notification was published with: Tocsin sends it back as ``sourceId``
    (its own ``id`` is generated), the Node reference as ``id``."""
    return data.get("sourceId", data.get("id"))


def generator_cpu() -> float:
    """CPU seconds this generator process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Phase:
    """Wall time and CPU shares of the server and of the generator over one phase."""

    server: BenchServer
    wall: float = field(init=False)
    server_cpu: float = field(init=False)
    gen_cpu: float = field(init=False)

    def __enter__(self) -> Phase:
        self._t = time.perf_counter()
        self._s = self.server.cpu_seconds()
        self._g = generator_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t
        self.server_cpu = self.server.cpu_seconds() - self._s
        self.gen_cpu = generator_cpu() - self._g

    def shares(self) -> dict[str, float]:
        """CPU used / wall time, for the server and the generator (1.0 = a full core)."""
        wall = max(self.wall, 1e-9)
        return {
            "wall_s": round(self.wall, 4),
            "server_cpu_share": round(self.server_cpu / wall, 3),
            "generator_cpu_share": round(self.gen_cpu / wall, 3),
        }


class Driver:
    """Drives one running server: its sockets, its HTTP API and its connection gauge."""

    def __init__(self, server: BenchServer, http: httpx.AsyncClient) -> None:
        self.server = server
        self.http = http
        self.receipts = Receipts()
        self.sockets: list[SioSocket] = []
        self.details: dict[str, Any] = {}
        self.problems: list[str] = []

    # -- gauge and memory ------------------------------------------------------------

    async def gauge(self) -> int:
        """The server's ``tocsin_connections`` gauge."""
        response = await self.http.get("/metrics")
        for line in response.text.splitlines():
            if line.startswith("tocsin_connections "):
                return int(float(line.split()[1]))
        raise RuntimeError("no tocsin_connections in /metrics")

    async def wait_gauge(self, target: int, within: float) -> float | None:
        """Seconds until the gauge reads ``target`` (polled every 10 ms), None on within."""
        began = time.perf_counter()
        while True:
            try:
                if await self.gauge() == target:
                    return time.perf_counter() - began
            except httpx.HTTPError:
                pass
            if time.perf_counter() - began > within:
                return None
            await asyncio.sleep(GAUGE_POLL)

    async def settled_rss(self, within: float = 3.0) -> int:
        """RSS once two samples 200 ms apart differ by under 0.5 % (or at ``within``)."""
        began = time.perf_counter()
        previous = self.server.rss_kb()
        while time.perf_counter() - began < within:
            await asyncio.sleep(0.2)
            current = self.server.rss_kb()
            if abs(current - previous) <= previous * 0.005:
                return current
            previous = current
        return previous

    # -- connections -----------------------------------------------------------------

    async def connect(self, count: int, first_index: int = 0, within: float = 180.0) -> float:
        """Open ``count`` sockets; returns connections per second."""
        tokens = [
            mint_token(JWT_SECRET, *identity(i)) for i in range(first_index, first_index + count)
        ]
        result = await connect_many(
            self.server.port, tokens, self.receipts, first_index=first_index, within=within
        )
        self.sockets.extend(result.sockets)
        if result.failed:
            self.problems.append(
                f"{self.server.name}: {result.failed}/{count} sockets failed to connect: "
                + "; ".join(result.errors)
            )
        return result.rate

    async def warm_up(self, count: int = 50) -> None:
        """Connect and close a few sockets so that lazy imports and caches are paid for."""
        await self.connect(count, first_index=10_000_000)
        await self.wait_gauge(len(self.sockets), 30)
        await self.broadcast(len(self.sockets), None, 1, within=30)
        await self.disconnect_all(30)
        self.details.clear()

    async def connections(self, count: int) -> dict[str, float | None]:
        """Connect ``count`` sockets: connections/s and server KB per connection (VmRSS)."""
        base = await self.settled_rss()
        with Phase(self.server) as phase:
            rate = await self.connect(count)
        self.details[f"connect_{count}"] = phase.shares()
        if await self.wait_gauge(count, 60) is None:
            self.problems.append(f"{self.server.name}: gauge never read {count}")
        rss = await self.settled_rss()
        self.details[f"rss_{count}"] = {"base_kb": base, "connected_kb": rss}
        return {
            f"connect_{count}_per_s": rate,
            f"kb_per_conn_{count}": (rss - base) / max(len(self.sockets), 1),
        }

    async def disconnect_all(self, within: float) -> float | None:
        """Close every socket at once; seconds until the server's gauge reads 0."""
        began = time.perf_counter()
        with Phase(self.server) as phase:
            for sock in self.sockets:
                sock.close()
            self.sockets = []
            waited = await self.wait_gauge(0, within)
        elapsed = None if waited is None else time.perf_counter() - began
        self.details.setdefault("disconnect", []).append(phase.shares())
        if elapsed is None:
            self.problems.append(f"{self.server.name}: gauge not 0 after {within}s")
        return elapsed

    # -- publishing ------------------------------------------------------------------

    async def post(self, body: dict[str, Any], path: str = "/api/v1/notifications") -> int:
        """POST with the admin key; returns the status code."""
        response = await self.http.post(
            path, json=body, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        return response.status_code

    async def broadcast(
        self, expected: int, tenant: str | None, reps: int, within: float = 60.0
    ) -> dict[str, float | None]:
        """Publish ``reps`` system notifications to everyone (or a tenant), one at a time.

        Each waits for its ``expected`` receipts; returns medians of publish → first receipt
        and publish → last receipt, in ms.
        """
        firsts: list[float] = []
        lasts: list[float] = []
        leaked = 0
        with Phase(self.server) as phase:
            for rep in range(reps):
                self.receipts.clear()
                mark = f"bc-{rep}-{uuid.uuid4().hex[:8]}"
                body: dict[str, Any] = {
                    "event": "system-notification",
                    "id": mark,
                    "title": "Maintenance",
                    "message": "Redémarrage du service à 22h",
                    "type": "warning",
                }
                if tenant is not None:
                    body["tenantId"] = tenant
                began = time.perf_counter()
                status = await self.post(body)
                if status >= 300:
                    self.problems.append(f"{self.server.name}: broadcast answered {status}")
                    break
                complete = await self.receipts.wait(expected, within)
                got = [
                    (when, index)
                    for when, index, _name, data in self.receipts.decoded()
                    if mark_of(data) == mark
                ]
                if not complete or not got:
                    self.problems.append(
                        f"{self.server.name}: broadcast {mark} reached {len(got)}/{expected}"
                    )
                    break
                if tenant is not None:
                    leaked += sum(1 for _, index in got if identity(index)[1] != tenant)
                firsts.append((min(w for w, _ in got) - began) * 1000)
                lasts.append((max(w for w, _ in got) - began) * 1000)
        key = f"broadcast_{'tenant' if tenant else 'all'}_{expected}"
        self.details[key] = {**phase.shares(), "first_ms": firsts, "last_ms": lasts}
        if leaked:
            self.problems.append(f"{self.server.name}: {leaked} tenant receipts outside {tenant}")
        return {
            f"{key}_first_ms": statistics.median(firsts) if firsts else None,
            f"{key}_last_ms": statistics.median(lasts) if lasts else None,
        }

    async def user_throughput(self, clients: int, total: int, batch: int = 1000) -> float | None:
        """``total`` user-targeted notifications over ``clients`` users, published in batches.

        Returns delivered messages per second, from the first publish to the last receipt.
        """
        self.receipts.clear()
        with Phase(self.server) as phase:
            began = time.perf_counter()
            for start in range(0, total, batch):
                items = []
                for i in range(start, min(start + batch, total)):
                    user, tenant = identity(i % clients)
                    items.append(
                        {
                            "event": "email-received",
                            "id": f"tp-{i}",
                            "subject": f"Courrier {i}",
                            "from": "Greffe <greffe@tribunal.fr>",
                            "userId": user,
                            "tenantId": tenant,
                        }
                    )
                status = await self.post(
                    {"notifications": items}, path="/api/v1/notifications/batch"
                )
                if status >= 300:
                    self.problems.append(f"{self.server.name}: batch answered {status}")
                    return None
            published = time.perf_counter() - began
            complete = await self.receipts.wait(total, 120)
        got = len(self.receipts.items)
        last = max((w for w, _, _ in self.receipts.items), default=began)
        self.details["user_throughput"] = {
            **phase.shares(),
            "messages": total,
            "received": got,
            "publish_s": round(published, 4),
        }
        if not complete:
            self.problems.append(f"{self.server.name}: throughput received {got}/{total}")
            return None
        return total / max(last - began, 1e-9)

    async def publish_latency(
        self, clients: int, rate: float, duration: float
    ) -> dict[str, float | None]:
        """Open-loop single publishes at ``rate``/s for ``duration`` s to random users.

        Latency = receipt time - scheduled send time of its POST; p50 and p99 in ms.
        """
        total = int(rate * duration)
        rng = random.Random(7)
        sent: dict[str, float] = {}
        statuses: list[int] = []
        self.receipts.clear()

        async def one(i: int, at: float) -> None:
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            user, tenant = identity(rng.randrange(clients))
            mark = f"lat-{i}"
            sent[mark] = time.perf_counter()
            try:
                statuses.append(
                    await self.post(
                        {
                            "event": "email-received",
                            "id": mark,
                            "subject": "Nouveau courrier",
                            "from": "Greffe <greffe@tribunal.fr>",
                            "userId": user,
                            "tenantId": tenant,
                        }
                    )
                )
            except httpx.HTTPError:
                statuses.append(0)

        with Phase(self.server) as phase:
            start = time.perf_counter() + 0.05
            tasks = [asyncio.create_task(one(i, start + i / rate)) for i in range(total)]
            await asyncio.wait(tasks, timeout=duration + 30)
            for task in tasks:
                task.cancel()
            await self.receipts.wait(total, 15)
        latencies = sorted(
            (when - sent[mark_of(data)]) * 1000
            for when, _, _, data in self.receipts.decoded()
            if mark_of(data) in sent
        )
        failed = sum(1 for s in statuses if not 200 <= s < 300)
        self.details["publish_latency"] = {
            **phase.shares(),
            "rate_per_s": rate,
            "duration_s": duration,
            "sent": len(sent),
            "failed": failed,
            "received": len(latencies),
            "max_ms": latencies[-1] if latencies else None,
        }
        if len(latencies) < total or failed:
            self.problems.append(
                f"{self.server.name}: latency run delivered {len(latencies)}/{total}, "
                f"{failed} publishes failed"
            )
        if not latencies:
            return {"publish_latency_p50_ms": None, "publish_latency_p99_ms": None}
        return {
            "publish_latency_p50_ms": percentile(latencies, 50),
            "publish_latency_p99_ms": percentile(latencies, 99),
        }


def percentile(ordered: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of an ascending list."""
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]
