"""Resource attacks on a running node, each bounded in time and size, with the node's RSS.

Each attack is what issue 15 reproduced against an unbounded node: a client makes the
server hold memory (or connections) and does not let go. Every function runs one attack
for ``duration`` seconds against ``url`` (a node whose process id is ``pid``) and returns
its figures: RSS before, at its peak and after, and how the server answered.

Run alone against any node, e.g. an older commit, for before/after figures::

    python -m tests.reliability.attacks --url http://127.0.0.1:8000 --pid 1234 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.helpers import ADMIN_KEY, email, metric_sample, token
from tests.reliability.rawsio import RawClient, ws_url

Figures = dict[str, Any]
FULL = 'tocsin_errors_total{where="send_buffer_full"}'


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid``, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise AssertionError(f"no VmRSS for {pid}")


class RssWatch:
    """Samples a process's RSS every 0.2 s while an attack runs; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = rss_mib(pid)
        self.peak = self.before
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RssWatch:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.peak = max(self.peak, rss_mib(self.pid))

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mib(self.pid))
            await asyncio.sleep(0.2)

    def figures(self) -> Figures:
        """RSS before, at its peak, and the growth."""
        return {
            "rss_before_mib": self.before,
            "rss_peak_mib": self.peak,
            "rss_growth_mib": round(self.peak - self.before, 1),
        }


async def inbox_flood(url: str, pid: int, duration: float) -> Figures:
    """A signed-in socket asks ``inbox {limit: 200}`` 19 times a second and never reads."""
    user, tenant = "flood-reader", "firm-flood"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        notes = [email(user, tenant, subject="x" * 900) for _ in range(200)]
        for start in range(0, len(notes), 100):
            answer = await http.post(
                "/api/v1/notifications/batch",
                json={"notifications": notes[start : start + 100]},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            answer.raise_for_status()
        closed_before = await metric_sample(url, FULL)
        client = RawClient(ws_url(url), max_queue=1, rcvbuf=4096)
        await client.open()
        await client.handshake({"token": token(user, tenant)})
        sent = 0
        refused_at: float | None = None
        began = time.monotonic()
        async with RssWatch(pid) as watch:
            while time.monotonic() - began < duration:
                try:
                    await asyncio.wait_for(client.emit("inbox", {"limit": 200}), 5)
                except (ConnectionClosed, OSError, TimeoutError):
                    refused_at = time.monotonic() - began
                    break
                sent += 1
                await asyncio.sleep(1 / 19)  # the pace of the attack, under the event limit
        closed = await metric_sample(url, FULL) - closed_before
        await client.close()
    return {
        **watch.figures(),
        "requests_sent": sent,
        "socket_closed_by_server": closed > 0,
        "send_failed_after_s": None if refused_at is None else round(refused_at, 1),
    }


async def upgrade_flood(url: str, pid: int, duration: float) -> Figures:
    """Without signing in, a socket sends Engine.IO UPGRADE (``5``) frames and never reads."""
    client = RawClient(ws_url(url), max_queue=1, rcvbuf=4096)
    await client.open()
    sent = 0
    ended_by_server = False
    began = time.monotonic()
    async with RssWatch(pid) as watch:
        while time.monotonic() - began < duration:
            try:
                await asyncio.wait_for(client.send("5"), 5)
            except (ConnectionClosed, OSError, TimeoutError):
                ended_by_server = True
                break
            sent += 1
            if sent % 200 == 0:
                await asyncio.sleep(0)  # let the RSS sampler run
    await client.close()
    return {**watch.figures(), "frames_sent": sent, "ended_by_server": ended_by_server}


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    return host, int(port)


async def endless_headers(url: str, pid: int, duration: float, limit_mib: int = 500) -> Figures:
    """One request whose header block never ends (up to ``limit_mib`` MiB of headers)."""
    refused = 'tocsin_errors_total{where="http_headers_too_large"}'
    refused_before = await metric_sample(url, refused)
    host, port = _host_port(url)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    line = b"X-Pad: " + b"a" * 8000 + b"\r\n"
    sent = 0
    answer = b""
    ended_by_server = False
    began = time.monotonic()
    async with RssWatch(pid) as watch:
        try:
            while time.monotonic() - began < duration and sent < limit_mib * 2**20:
                writer.write(line * 16)
                await asyncio.wait_for(writer.drain(), 5)
                sent += len(line) * 16
                if reader.at_eof():
                    ended_by_server = True
                    break
        except OSError:
            ended_by_server = True  # reset: the server closed with our bytes unread
        except TimeoutError:
            pass
        # The answer, when the reset did not discard it.
        with contextlib.suppress(OSError, TimeoutError):
            answer = await asyncio.wait_for(reader.read(200), 5)
            ended_by_server = ended_by_server or reader.at_eof()
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return {
        **watch.figures(),
        "header_bytes_sent": sent,
        "ended_by_server": ended_by_server,
        "refused_as_too_large": await metric_sample(url, refused) - refused_before,
        "status_line": answer.split(b"\r\n", 1)[0].decode(errors="replace"),
    }


async def silent_sessions(
    url: str, pid: int, duration: float, sessions: int = 2000, header_kib: int = 8
) -> Figures:
    """Engine.IO sessions (WebSocket) with ``header_kib`` KiB of headers that answer pings
    and never send a Socket.IO CONNECT."""
    pad = {f"X-Pad-{i}": "p" * 1000 for i in range(header_kib)}
    opened: list[Any] = []
    closed_by_server = 0

    async def one() -> None:
        nonlocal closed_by_server
        try:
            async with connect(
                ws_url(url), additional_headers=pad, ping_interval=None, open_timeout=30
            ) as ws:
                opened.append(ws)
                async for frame in ws:
                    if frame == "2":
                        await ws.send("3")
        except (ConnectionClosed, OSError, InvalidStatus, TimeoutError):
            pass
        closed_by_server += 1

    began = time.monotonic()
    async with RssWatch(pid) as watch:
        tasks = []
        for _ in range(sessions):
            tasks.append(asyncio.create_task(one()))
            if len(tasks) % 100 == 0:
                await asyncio.sleep(0.05)
        remaining = max(1.0, duration - (time.monotonic() - began))
        done, pending = await asyncio.wait(tasks, timeout=remaining)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return {
        **watch.figures(),
        "sessions_opened": len(opened),
        "sessions_closed_by_server": len(done),
        "seconds": round(time.monotonic() - began, 1),
    }


async def slow_headers(url: str, pid: int, duration: float, connections: int = 1000) -> Figures:
    """``connections`` requests that send half their headers and then nothing."""
    host, port = _host_port(url)
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    began = time.monotonic()
    async with RssWatch(pid) as watch:
        for _ in range(connections):
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                break
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ")
            streams.append((reader, writer))

        async def answer(reader: asyncio.StreamReader) -> bytes:
            with contextlib.suppress(OSError):
                return await reader.read(100)
            return b""

        remaining = max(1.0, duration - (time.monotonic() - began))
        reads = [asyncio.create_task(answer(r)) for r, _ in streams]
        done, pending = await asyncio.wait(reads, timeout=remaining)
    held_for = round(time.monotonic() - began, 1)
    for task in pending:
        task.cancel()
    statuses = [t.result().split(b"\r\n", 1)[0].decode(errors="replace") for t in done]
    for _, writer in streams:
        writer.close()
    return {
        **watch.figures(),
        "connections": len(streams),
        "closed_by_server": len(done),
        "still_open_after_s": held_for if pending else None,
        "answers": sorted(set(statuses)),
    }


ATTACKS: dict[str, Callable[[str, int, float], Awaitable[Figures]]] = {
    "inbox-flood": inbox_flood,
    "upgrade-flood": upgrade_flood,
    "endless-headers": endless_headers,
    "silent-sessions": silent_sessions,
    "slow-headers": slow_headers,
}


def main() -> None:
    """Run the attacks against a node given by URL and process id; print their figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--only", choices=sorted(ATTACKS), action="append")
    parser.add_argument("--sessions", type=int, default=2000, help="for silent-sessions")
    parser.add_argument("--connections", type=int, default=1000, help="for slow-headers")
    parser.add_argument("--header-kib", type=int, default=8, help="for silent-sessions")
    args = parser.parse_args()
    sizes = {"silent-sessions": {"sessions": args.sessions, "header_kib": args.header_kib}}
    sizes["slow-headers"] = {"connections": args.connections}
    for name in args.only or ATTACKS:
        attack: Any = ATTACKS[name]
        figures = asyncio.run(attack(args.url, args.pid, args.duration, **sizes.get(name, {})))
        print(json.dumps({"attack": name, **figures}), flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
