"""Soak: thousands of sockets, steady publishes and churn for a bounded time, with figures.

    .venv/bin/python -m tests.reliability.soak --duration 60 [--connections 5000]
    make soak DURATION=60

A node process (SQLite in a temporary folder, or ``--database-url``) holds the sockets of
client worker processes (raw WebSockets speaking Socket.IO, light enough for thousands).
Users are spread over 50 tenants. Meanwhile the main process publishes to single users and
to tenants at a steady rate (20/s), and each worker closes a share of its sockets every
second (0.2 %: 10 a second of 5,000) and reconnects them with their last cursor. Every
second it samples the node's resident memory (``/proc/<pid>/status``), its CPU, its socket
count (``/metrics``) and the round trip of ``/healthz`` (which waits for the node's event
loop, so it measures its lag).

At the end it prints the table, the least-squares slope of RSS over time (whole run and
second half), and checks every socket got exactly its notifications (a final broadcast
marks the end). Exit status 1 on a lost, duplicated or leaked notification, a publish
unanswered within 30 s, or (in runs of 180 s or more: before that, memory is still settling)
an RSS slope over the second half above ``--max-slope`` MiB/min. Figures go to
``test-artifacts/reliability/soak.json`` for RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from tests.cluster import NodeProcess
from tests.helpers import ADMIN_KEY, token
from tests.reliability.rawsio import RawClient, ws_url
from tests.reliability.results import Result

TENANTS = 50
MIN_TREND_SECONDS = 180
SENTINEL = "soak-end"


def identity(n: int) -> tuple[str, str]:
    """The (tenant, user) of connection ``n``."""
    return f"soak-t{n % TENANTS}", f"soak-u{n}"


# -- client workers (separate processes) ---------------------------------------------------


async def _worker_main(
    url: str, numbers: list[int], churn: float, stop: Any, ready: Any, pipe: Connection
) -> None:
    clients: dict[int, RawClient] = {}
    received: dict[int, list[str]] = {n: [] for n in numbers}
    since: dict[int, int | None] = dict.fromkeys(numbers)  # a first visit sends no cursor
    gate = asyncio.Semaphore(100)
    errors = Counter[str]()

    async def open_one(n: int) -> None:
        tenant, user = identity(n)
        for attempt in range(20):
            client = RawClient(ws_url(url), max_queue=None)
            try:
                async with gate:
                    auth: dict[str, Any] = {"token": token(user, tenant)}
                    if since[n] is not None:
                        auth["since"] = since[n]
                    await client.connect(auth)
            except Exception as exc:
                errors[type(exc).__name__] += 1
                await client.close()
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            clients[n] = client
            return
        raise RuntimeError(f"connection {n} could not be opened")

    def harvest(n: int) -> None:
        client = clients.get(n)
        if client is None:
            return
        # Known by the id published (the sourceId): what the main process tallies.
        received[n] += [str(e.data.get("sourceId")) for e in client.notifications()]
        client.events.clear()
        # From now on this socket comes back with its cursor (0 if it got nothing yet).
        since[n] = max(since[n] or 0, client.since or 0)

    began = time.monotonic()
    await asyncio.gather(*(open_one(n) for n in numbers))
    ready.put((os.getpid(), time.monotonic() - began))
    churned = 0
    rng = random.Random(os.getpid())
    while not stop.is_set():
        tick = time.monotonic()
        chosen = rng.sample(numbers, max(1, int(len(numbers) * churn)))
        for n in chosen:
            harvest(n)
            await clients.pop(n).close()
        await asyncio.gather(*(open_one(n) for n in chosen))
        churned += len(chosen)
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    # The main process has published the sentinel: wait for every socket to have it.
    deadline = time.monotonic() + 90
    for n in numbers:
        client = clients[n]
        with contextlib.suppress(AssertionError):
            await client.wait(
                lambda c=client: any(e.data.get("sourceId") == SENTINEL for e in c.notifications()),
                max(0.1, deadline - time.monotonic()),
                "the sentinel",
            )
        harvest(n)
    await asyncio.gather(*(c.close() for c in clients.values()))
    pipe.send({"received": received, "churned": churned, "errors": dict(errors)})
    pipe.close()


def worker(
    url: str, numbers: list[int], churn: float, stop: Any, ready: Any, pipe: Connection
) -> None:
    """Entry point of a client worker process."""
    asyncio.run(_worker_main(url, numbers, churn, stop, ready, pipe))


# -- sampling ------------------------------------------------------------------------------


@dataclass
class Sample:
    """One second of the node's life."""

    t: float
    rss_mib: float
    cpu_percent: float
    healthz_ms: float
    sockets: int
    published: int


def _proc_figures(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return rss / 1024, cpu_ticks / os.sysconf("SC_CLK_TCK")


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0.0 with fewer than two points)."""
    if len(points) < 2:
        return 0.0
    xs, ys = zip(*points, strict=True)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


async def _sockets(http: httpx.AsyncClient) -> int:
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith("tocsin_connections "):
            return int(float(line.split()[-1]))
    return -1


# -- the run -------------------------------------------------------------------------------


@dataclass
class Traffic:
    """What the main process saw: samples, acknowledged publishes, and the rest."""

    samples: list[Sample]
    published: list[tuple[str, str, str | None]]
    uncertain: set[str]  # timed out: maybe stored, maybe not
    failed: dict[int, int]  # refused, by status


async def _publish_and_sample(
    node: NodeProcess, pid: int, connections: int, duration: float, rate: float
) -> Traffic:
    """Publish at ``rate``/s (19 in 20 to one user, 1 in 20 to a tenant) while sampling."""
    published: list[tuple[str, str, str | None]] = []
    uncertain: set[str] = set()
    failed: dict[int, int] = {}
    samples: list[Sample] = []
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    rng = random.Random(7)
    stop = asyncio.Event()

    async def publish_one(http: httpx.AsyncClient, n: int, gate: asyncio.Semaphore) -> None:
        async with gate:
            tenant, user = identity(rng.randrange(connections))
            target_user: str | None = user if n % 20 else None
            body: dict[str, Any] = {
                "event": "email-received" if target_user else "system-notification",
                "tenantId": tenant,
                "id": f"soak-{n}",
            }
            if target_user:
                body.update(subject=f"#{n}", userId=target_user, **{"from": "soak"})
            else:
                body.update(title="soak", message=f"#{n}", type="info")
            try:
                response = await http.post("/api/v1/notifications", json=body, headers=headers)
            except httpx.HTTPError:
                # Stored or not, nobody can say: neither expected nor a leak if it arrives.
                uncertain.add(f"soak-{n}")
                return
            if response.status_code == 202:
                published.append((f"soak-{n}", tenant, target_user))
            else:
                failed[response.status_code] = failed.get(response.status_code, 0) + 1

    async def publisher(http: httpx.AsyncClient) -> None:
        # A steady rate whatever each request's latency: up to 16 in flight.
        gate = asyncio.Semaphore(16)
        tasks: set[asyncio.Task[None]] = set()
        began = time.monotonic()
        n = 0
        while not stop.is_set():
            task = asyncio.create_task(publish_one(http, n, gate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        if tasks:
            await asyncio.gather(*tasks)

    async with (
        httpx.AsyncClient(base_url=node.url, timeout=30) as http,
        httpx.AsyncClient(base_url=node.url, timeout=30) as probe,
    ):
        task = asyncio.create_task(publisher(http))
        began = time.monotonic()
        _, cpu_before = _proc_figures(pid)
        wall_before = began
        while time.monotonic() - began < duration:
            tick = time.monotonic()
            sent = time.perf_counter()
            await probe.get("/healthz")
            rtt = (time.perf_counter() - sent) * 1000
            rss, cpu = _proc_figures(pid)
            now = time.monotonic()
            cpu_percent = 100 * (cpu - cpu_before) / max(1e-6, now - wall_before)
            cpu_before, wall_before = cpu, now
            samples.append(
                Sample(
                    round(now - began, 1),
                    round(rss, 1),
                    round(cpu_percent, 0),
                    round(rtt, 1),
                    await _sockets(probe),
                    len(published),
                )
            )
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        stop.set()
        await task
        response = await http.post(
            "/api/v1/notifications",
            json={
                "event": "system-notification",
                "title": "end",
                "message": "end",
                "type": "info",
                "id": SENTINEL,
            },
            headers=headers,
        )
        assert response.status_code == 202, response.text
    return Traffic(samples, published, uncertain, failed)


def _raise_fd_limit(needed: int) -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def gc_pauses(url: str) -> dict[str, tuple[int, float]]:
    """Collections and their total pause (ms) by generation, from the node's ``/metrics``."""
    counts: dict[str, float] = {}
    totals: dict[str, float] = {}
    text = httpx.get(f"{url}/metrics", timeout=30).text
    for line in text.splitlines():
        for suffix, into in (("_count", counts), ("_sum", totals)):
            prefix = f'tocsin_gc_pause_seconds{suffix}{{generation="'
            if line.startswith(prefix):
                generation, value = line[len(prefix) :].split('"} ')
                into[generation] = float(value)
    return {g: (int(counts[g]), totals.get(g, 0.0) * 1000) for g in counts}


def main(argv: list[str] | None = None) -> int:
    """Run the soak; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of steady state")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--rate", type=float, default=20, help="publishes per second")
    parser.add_argument("--churn", type=float, default=0.002, help="share reconnected per second")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--max-slope", type=float, default=2.0, help="MiB/min, second half")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.duration > 3600:
        parser.error("--duration must be in (0, 3600] seconds")

    soft, hard = _raise_fd_limit(args.connections * 2 + 1024)
    connections = min(args.connections, max(100, soft // 2 - 512))
    print(
        f"soak: ulimit -n {soft} (hard {hard}); {connections} connections"
        + (f" (asked {args.connections})" if connections != args.connections else "")
        + f", {args.rate:g} publishes/s, churn {args.churn:.1%}/s, {args.duration:g}s"
    )
    folder = Path(tempfile.mkdtemp(prefix="tocsin-soak-"))
    database = args.database_url or f"sqlite+aiosqlite:///{folder / 'soak.db'}"
    node = NodeProcess(
        database,
        None,
        TOCSIN_PUBLISH_RATE="100000",
        TOCSIN_PUBLISH_BURST="100000",
        TOCSIN_REPLAY_LIMIT="100000",
        TOCSIN_CLIENTS_COUNT_DEBOUNCE="1.0",
    )
    node.start()
    assert node.process is not None
    pid = node.process.pid
    context = multiprocessing.get_context("spawn")
    stop, ready = context.Event(), context.Queue()
    shares = [list(range(connections))[i :: args.workers] for i in range(args.workers)]
    pipes: list[Connection] = []
    workers = []
    try:
        for share in shares:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=worker, args=(node.url, share, args.churn, stop, ready, sender)
            )
            process.start()
            sender.close()
            pipes.append(receiver)
            workers.append(process)
        ramp = max(ready.get(timeout=600)[1] for _ in workers)
        rss_connected, cpu_connected = _proc_figures(pid)
        print(
            f"soak: {connections} sockets connected in {ramp:.1f}s (node CPU "
            f"{cpu_connected:.0f}s); node RSS {rss_connected:.0f} MiB"
        )
        traffic = asyncio.run(_publish_and_sample(node, pid, connections, args.duration, args.rate))
        samples, published = traffic.samples, traffic.published
        collections = gc_pauses(node.url)
        stop.set()
        outcomes = [pipe.recv() for pipe in pipes]
        for process in workers:
            process.join(timeout=60)
    finally:
        stop.set()
        for process in workers:
            if process.is_alive():
                process.kill()
        node.close()

    received: dict[int, list[str]] = {}
    for outcome in outcomes:
        received.update({int(k): v for k, v in outcome["received"].items()})
    lost = duplicated = leaked = 0
    for n in range(connections):
        tenant, user = identity(n)
        expected = {i for i, t, u in published if t == tenant and u in (None, user)}
        got = [i for i in received.get(n, []) if i != SENTINEL and i not in traffic.uncertain]
        counts = Counter(got)
        lost += len(expected - set(got))
        duplicated += sum(c - 1 for c in counts.values() if c > 1)
        leaked += len(set(got) - expected)
    churned = sum(o["churned"] for o in outcomes)
    errors = Counter[str]()
    for outcome in outcomes:
        errors.update(outcome["errors"])

    every = max(1, len(samples) // 60)
    heading = ("t (s)", 7), ("RSS MiB", 8), ("CPU %", 6), ("/healthz ms", 12), ("sockets", 8)
    print("\n" + " ".join(f"{name:>{width}}" for name, width in heading) + f" {'published':>10}")
    for sample in samples[::every]:
        print(
            f"{sample.t:7.1f} {sample.rss_mib:8.1f} {sample.cpu_percent:6.0f} "
            f"{sample.healthz_ms:12.1f} {sample.sockets:8d} {sample.published:10d}"
        )
    points = [(s.t / 60, s.rss_mib) for s in samples]
    whole = slope(points)
    second_half = slope(points[len(points) // 2 :])
    lags = sorted(s.healthz_ms for s in samples)
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else 0.0
    # Memory settles for a minute or two after thousands of sockets arrive: a shorter run
    # shows that warm-up, not a trend, so only a long enough one is judged on its slope.
    judged = args.duration >= MIN_TREND_SECONDS
    trend_ok = second_half <= args.max_slope if judged else None
    verdict = {True: "no growth trend", False: "GROWING", None: "too short to judge"}[trend_ok]
    print(
        f"\nRSS slope: {whole:+.2f} MiB/min over the run, {second_half:+.2f} MiB/min over its "
        f"second half (limit {args.max_slope:g}, runs of {MIN_TREND_SECONDS} s or more): "
        f"{verdict}; /healthz p50 {statistics.median(lags):.1f} ms, p99 {p99:.1f} ms, "
        f"max {lags[-1]:.1f} ms"
    )
    print(
        "garbage collections: "
        + ", ".join(
            f"generation {gen}: {count} ({total_ms / max(count, 1):.1f} ms each on average)"
            for gen, (count, total_ms) in sorted(collections.items())
        )
    )
    print(
        f"delivery: {len(published)} published ({len(traffic.uncertain)} timed out, refused "
        f"{traffic.failed or 0}), {churned} reconnections; lost {lost}, duplicated "
        f"{duplicated}, leaked {leaked}; connect retries {dict(errors) or 0}"
    )
    ok = (
        lost == duplicated == leaked == 0
        and trend_ok is not False
        and not traffic.uncertain
        and not traffic.failed
    )
    Result(
        key="soak",
        title="Soak: sockets, publishes and churn",
        tried=f"{connections} sockets (ulimit -n {soft}), {args.rate:g} publishes/s, "
        f"{args.churn:.1%} of sockets reconnected with `since` each second, for "
        f"{args.duration:g} s",
        times=len(published),
        command=f"make soak DURATION={args.duration:g}"
        + ("" if connections == 5000 else f" CONNECTIONS={connections}"),
        lost=lost,
        duplicated=duplicated,
        leaked=leaked,
        passed=ok,
        details={
            "connections": connections,
            "ulimit_nofile": [soft, hard],
            "connect_seconds": round(ramp, 1),
            "reconnections": churned,
            "publish_timeouts": len(traffic.uncertain),
            "publish_refusals": traffic.failed,
            "rss_slope_mib_per_min": round(whole, 3),
            "rss_slope_second_half_mib_per_min": round(second_half, 3),
            "rss_trend": verdict,
            "rss_start_mib": samples[0].rss_mib if samples else None,
            "rss_end_mib": samples[-1].rss_mib if samples else None,
            "healthz_ms_p50": round(statistics.median(lags), 1),
            "healthz_ms_p99": round(p99, 1),
            "healthz_ms_max": round(lags[-1], 1),
            "gc_collections": {
                gen: {"count": count, "mean_ms": round(total_ms / max(count, 1), 2)}
                for gen, (count, total_ms) in sorted(collections.items())
            },
            "samples": [vars(s) for s in samples],
        },
    ).write()
    print("soak: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
