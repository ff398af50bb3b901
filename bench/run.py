"""``python -m bench.run``: Tocsin and the Node reference on the same workloads, side by side.

Each server runs as its own process pinned to core 0 (``taskset -c 0``); this generator pins
itself to core 1. For each connection count a fresh server is started (so that its memory
baseline is clean), warmed up with 50 sockets, then: connect N (connections/s, VmRSS delta per
connection), broadcast to all N when N is a broadcast size, close all N at once (seconds until
the server's ``tocsin_connections`` gauge reads 0). Then a fresh server with ``--clients``
sockets (tenants of 100) for: broadcast to one tenant, user-targeted throughput (HTTP batches),
HTTP publish → delivery latency at a steady rate. Results: a table on stdout and
``bench/results/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.servers import NODE_DIR, SERVERS, node_missing, pinned
from bench.workloads import TENANT_SIZE, Driver

RESULTS_DIR = Path(__file__).resolve().parent / "results"
GENERATOR_CORE = 1


@dataclass
class Config:
    """Sizes, rates and bounds of one benchmark run."""

    sizes: list[int]
    broadcast_sizes: list[int]
    broadcast_reps: int
    clients: int
    tenant_reps: int
    throughput_messages: int
    latency_rate: float
    latency_seconds: float
    disconnect_timeout: float


FULL = Config([1000, 5000, 10000], [5000, 10000], 3, 1000, 5, 20000, 200.0, 10.0, 120.0)
QUICK = Config([200], [200], 2, 200, 3, 2000, 100.0, 2.0, 30.0)


def raise_fd_limit(needed: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def pin_generator() -> str:
    """Pin this process to core 1 when there are 2+ cores; says what was done."""
    if (os.cpu_count() or 1) > 1 and shutil.which("taskset"):
        os.sched_setaffinity(0, {GENERATOR_CORE})
        return f"server on core 0 (taskset -c 0), generator on core {GENERATOR_CORE}"
    return "not pinned (one core or no taskset): server and generator share the CPU"


class Profiler:
    """``py-spy record`` attached to a process for the length of a ``with`` block."""

    def __init__(self, pid: int, output: Path, rate: int = 250) -> None:
        beside = Path(sys.executable).parent / "py-spy"
        self.command = [
            str(beside) if beside.exists() else "py-spy",
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(output),
            # Pausing the process for each sample (py-spy's default) lands samples on system
            # calls: os.urandom showed as 5 % of a connection's handling, for 0.7 µs of 485.
            "--nonblocking",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        self.process = subprocess.Popen(
            pinned(self.command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(1.0)  # py-spy attaches and starts sampling
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


async def run_server(
    kind: str, config: Config, profile: Path | None
) -> tuple[dict[str, float | None], dict[str, Any], list[str]]:
    """Every workload against fresh processes of one server kind."""
    figures: dict[str, float | None] = {}
    details: dict[str, Any] = {}
    problems: list[str] = []

    async def with_server(label: str, work: Any) -> None:
        server = SERVERS[kind]()
        server.start()
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as http:
                driver = Driver(server, http)
                try:
                    await work(driver)
                finally:
                    for sock in driver.sockets:
                        sock.close()
                    details[label] = driver.details
                    problems.extend(driver.problems)
        finally:
            server.stop()

    profile_size = min(config.broadcast_sizes, key=lambda s: abs(s - 5000))
    for size in config.sizes:

        async def connections(driver: Driver, size: int = size) -> None:
            await driver.warm_up()
            figures.update(await driver.connections(size))
            if size in config.broadcast_sizes:
                profiling = profile is not None and kind == "tocsin" and size == profile_size
                if profiling:
                    assert profile is not None
                    with Profiler(driver.server.pid, profile):
                        await driver.broadcast(size, None, 10)
                figures.update(await driver.broadcast(size, None, config.broadcast_reps))
            elapsed = await driver.disconnect_all(config.disconnect_timeout)
            figures[f"disconnect_{size}_s"] = elapsed

        print(f"  {kind}: {size:,} connections", flush=True)
        await with_server(f"connections_{size}", connections)

    async def mixed(driver: Driver) -> None:
        await driver.warm_up()
        await driver.connect(config.clients)
        await driver.wait_gauge(config.clients, 60)
        tenant = f"t{(config.clients // TENANT_SIZE) // 2}"
        tenant_figures = await driver.broadcast(TENANT_SIZE, tenant, config.tenant_reps)
        figures.update(tenant_figures)
        figures["user_throughput_msg_per_s"] = await driver.user_throughput(
            config.clients, config.throughput_messages
        )
        figures.update(
            await driver.publish_latency(
                config.clients, config.latency_rate, config.latency_seconds
            )
        )
        await driver.disconnect_all(config.disconnect_timeout)

    print(f"  {kind}: {config.clients:,} clients: tenant, throughput, latency", flush=True)
    await with_server(f"clients_{config.clients}", mixed)
    return figures, details, problems


# -- the table ---------------------------------------------------------------------------

_LABELS: list[tuple[str, str, str, bool]] = [
    # (pattern, label, unit, higher is better)
    (r"connect_(\d+)_per_s", "connections/s, connecting {0}", "/s", True),
    (r"kb_per_conn_(\d+)", "server memory per connection at {0}", "KB", False),
    (r"broadcast_all_(\d+)_first_ms", "broadcast to all {0}: publish → first receipt", "ms", False),
    (r"broadcast_all_(\d+)_last_ms", "broadcast to all {0}: publish → last receipt", "ms", False),
    (r"broadcast_tenant_(\d+)_first_ms", "broadcast to one tenant of {0}: → first", "ms", False),
    (r"broadcast_tenant_(\d+)_last_ms", "broadcast to one tenant of {0}: → last", "ms", False),
    (r"user_throughput_msg_per_s", "user-targeted throughput ({clients} clients)", "msg/s", True),
    (r"publish_latency_p50_ms", "HTTP publish → delivered, p50 ({rate})", "ms", False),
    (r"publish_latency_p99_ms", "HTTP publish → delivered, p99 ({rate})", "ms", False),
    (r"disconnect_(\d+)_s", "mass disconnect of {0} → gauge 0", "s", False),
]


def describe(name: str, config: Config) -> tuple[str, str, bool, int]:
    """Label, unit, whether higher is better, and sort order of a figure."""
    for order, (pattern, label, unit, higher) in enumerate(_LABELS):
        match = re.fullmatch(pattern, name)
        if match:
            groups = [f"{int(g):,}" for g in match.groups()]
            rate = f"{config.latency_rate:g}/s for {config.latency_seconds:g} s"
            text = label.format(*groups, clients=f"{config.clients:,}", rate=rate)
            return text, unit, higher, order
    return name, "", False, len(_LABELS)


def fmt(value: float | None) -> str:
    """A figure with sensible precision."""
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value < 1 else f"{value:.2f}"


def table(result: dict[str, Any], config: Config) -> str:
    """The figures as a text table, Tocsin next to Node with ratios (and, when it was run,
    next to Node committing to SQLite as Tocsin does)."""
    tocsin = result["median"].get("tocsin", {})
    node = result["median"].get("node", {})
    stored = result["median"].get("node-sqlite")
    names = sorted(
        set(tocsin) | set(node) | set(stored or {}),
        key=lambda n: (describe(n, config)[3], [int(x) for x in re.findall(r"\d+", n)]),
    )
    header = ["figure", "unit", "Tocsin", "Node", "Tocsin/Node", "target met"]
    if stored is not None:
        header += ["Node+SQLite", "Tocsin/(Node+SQLite)"]
    rows: list[list[str]] = [header]
    for name in names:
        label, unit, higher, _ = describe(name, config)
        a, b = tocsin.get(name), node.get(name)
        ratio, met = _ratio(a, b, higher)
        row = [label, unit, fmt(a), fmt(b), ratio, met]
        if stored is not None:
            c = stored.get(name)
            row += [fmt(c), _ratio(a, c, higher)[0]]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _ratio(a: float | None, b: float | None, higher: bool) -> tuple[str, str]:
    """``a / b`` as text, and whether it meets the target (≥ 1 for rates, ≤ 1 otherwise)."""
    if a is None or b is None or b == 0:
        return "—", "—"
    met = "yes" if (a / b >= 1.0 if higher else a / b <= 1.0) else "no"
    return f"{a / b:.2f}", met + (" (≥1)" if higher else " (≤1)")


def medians(runs: list[dict[str, Any]], kind: str) -> dict[str, float | None]:
    """Per figure, the median over runs of the values that were measured."""
    names: set[str] = set()
    for run in runs:
        names |= set(run.get(kind, {}).get("figures", {}))
    out: dict[str, float | None] = {}
    for name in names:
        values = [
            run[kind]["figures"][name]
            for run in runs
            if kind in run and run[kind]["figures"].get(name) is not None
        ]
        out[name] = statistics.median(values) if values else None
    return out


def versions() -> dict[str, str]:
    """Versions of what is being compared."""
    out = {"python": platform.python_version()}
    for package in ("tocsin", "python-socketio", "python-engineio", "uvicorn", "uvloop"):
        try:
            from importlib.metadata import version

            out[package] = version(package)
        except Exception:
            out[package] = "?"
    try:
        rev = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=10
        )
        out["tocsin_git"] = rev.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    if shutil.which("node"):
        out["node"] = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        lock = NODE_DIR / "package-lock.json"
        if lock.exists():
            packages = json.loads(lock.read_text()).get("packages", {})
            for name in ("socket.io", "engine.io", "ws"):
                out[name] = packages.get(f"node_modules/{name}", {}).get("version", "?")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke test)")
    parser.add_argument(
        "--servers",
        default="tocsin,node",
        help="comma-separated: tocsin,node and node-sqlite (Node committing to SQLite first)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs (medians are reported)")
    parser.add_argument("--sizes", help="connection counts, e.g. 1000,5000,10000")
    parser.add_argument("--out", type=Path, help="JSON output (default bench/results/<ts>.json)")
    parser.add_argument(
        "--py-spy",
        type=Path,
        dest="profile",
        help="record Tocsin with py-spy (raw collapsed stacks) during 10 extra broadcasts",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when something could not be measured."""
    args = parse_args(argv)
    config = QUICK if args.quick else FULL
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
        config.sizes = sizes
        config.broadcast_sizes = [s for s in sizes if s >= 5000] or [max(sizes)]
    problems: list[str] = []
    soft, hard = raise_fd_limit(max(config.sizes) + 1000)
    reachable = [s for s in config.sizes if s + 500 <= soft]
    if reachable != config.sizes:
        problems.append(
            f"open-file limit {soft} (hard {hard}) too low for {max(config.sizes)} sockets: "
            f"measured only {reachable}"
        )
        config.sizes = reachable or [min(config.sizes)]
    pinning = pin_generator()
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    for kind in [k for k in kinds if k.startswith("node")]:
        missing = node_missing(kind)
        if missing:
            print(f"{kind} reference skipped: {missing}", file=sys.stderr)
            problems.append(f"{kind} reference skipped: {missing}")
            kinds.remove(kind)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS_DIR / f"{stamp}.json"
    result: dict[str, Any] = {
        "meta": {
            "started": stamp,
            "mode": "quick" if args.quick else "full",
            "config": asdict(config),
            "pinning": pinning,
            "fd_limit": [soft, hard],
            "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
            "versions": versions(),
            "persistence": {k: SERVERS[k].persistence for k in kinds},
            "publish_to_receipt": "from just before the HTTP POST to the frame read off the "
            "socket, on the generator's clock (includes HTTP, and for Tocsin the SQLite commit)",
            "transport": "WebSocket only, no permessage-deflate offered",
        },
        "runs": [],
    }
    for repeat in range(args.repeat):
        run: dict[str, Any] = {}
        for kind in kinds:
            print(f"run {repeat + 1}/{args.repeat}: {kind}", flush=True)
            coro: Coroutine[Any, Any, Any] = run_server(
                kind, config, args.profile if repeat == 0 else None
            )
            figures, details, found = _run_loop(coro)
            run[kind] = {"figures": figures, "details": details, "problems": found}
            problems.extend(found)
        result["runs"].append(run)
    result["median"] = {kind: medians(result["runs"], kind) for kind in kinds}
    result["meta"]["loadavg_end"] = os.getloadavg()
    result["problems"] = problems
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print()
    print(table(result, config))
    print()
    for kind in kinds:
        print(f"{kind}: persistence {SERVERS[kind].persistence}")
    print(
        f"pinning: {pinning}; runs: {args.repeat} (medians); load average at start "
        f"{result['meta']['loadavg_start'][0]:.2f}, at end {result['meta']['loadavg_end'][0]:.2f}"
    )
    for problem in problems:
        print(f"problem: {problem}")
    print(f"results: {out}")
    return 1 if problems else 0


def _run_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    sys.exit(main())
