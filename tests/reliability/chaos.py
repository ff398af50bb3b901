"""The parts of a chaos run: a private PostgreSQL, a node that can be killed and restarted on
its port, clients that reconnect with their last cursor, and a publisher that retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import socketio

from tests.cluster import NodeProcess
from tests.helpers import ADMIN_KEY, NOTIFICATION_NAMES, require_service, token


def _free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


def _postgres_bindir() -> Path | None:
    configured = shutil.which("pg_config")
    if configured:
        out = subprocess.run([configured, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresProcess:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, a free port).

    It can be crashed (``immediate`` shutdown: no checkpoint, crash recovery at the next
    start) and restarted on the same port, without disturbing the machine's own server.
    Under root it runs as the ``postgres`` user, which initdb requires.
    """

    def __init__(self) -> None:
        bindir = _postgres_bindir()
        if bindir is None:
            require_service("PostgreSQL binaries", "initdb not found (pg_config --bindir)")
        assert bindir is not None
        self.bindir = bindir
        self.user = "postgres" if os.geteuid() == 0 else None
        self.folder = Path(tempfile.mkdtemp(prefix="tocsin-chaos-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.folder / "postgres.log"

    def _run(self, *argv: str) -> None:
        subprocess.run(list(argv), user=self.user, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        """initdb (trust authentication on loopback only)."""
        if self.user is not None:
            shutil.chown(self.folder, self.user)
        os.chmod(self.folder, 0o700)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )

    def start(self) -> None:
        """Start the postmaster and wait until it accepts connections."""
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                str(self.bindir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.folder),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ],
            user=self.user,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while not self.ready():
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            assert time.monotonic() < deadline, "PostgreSQL did not start"
            time.sleep(0.1)

    def ready(self) -> bool:
        """pg_isready."""
        probe = subprocess.run(
            [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
        )
        return probe.returncode == 0

    def crash(self) -> None:
        """Immediate shutdown (SIGQUIT to the postmaster): like a crash, recovery on start."""
        if self.process is not None:
            self.process.send_signal(signal.SIGQUIT)
            self.process.wait(timeout=60)
            self.process = None

    def crash_and_start(self) -> None:
        """:meth:`crash`, then :meth:`start` on the same port and data."""
        self.crash()
        self.start()

    def close(self) -> None:
        """Stop and delete the cluster."""
        self.crash()
        shutil.rmtree(self.folder, ignore_errors=True)


class RestartableNode(NodeProcess):
    """A node that is SIGKILLed and started again on the same listening socket.

    :meth:`NodeProcess.kill` closes the port so that nothing answers there any more; a
    crash followed by a restart keeps it, as systemd's socket activation would: clients
    that reconnect meanwhile wait in the listen backlog instead of being refused.
    """

    def crash(self) -> None:
        """SIGKILL, keeping the listening socket."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def rss_kib(self) -> int:
        """Resident memory of the node process."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


class ChaosClient:
    """A python-socketio client that reconnects by itself, sending its last cursor.

    As the browser client does: ``auth`` is computed on each attempt, with ``since`` the
    highest cursor received so far.
    """

    def __init__(self, url: str, user: str, tenant: str, changed: asyncio.Event) -> None:
        self.user, self.tenant = user, tenant
        self.url = url
        self.since: int = 0
        self.received: list[str] = []  # source ids
        self.cursors: list[int] = []
        self.resyncs: list[Any] = []
        self.connects = 0
        self.disconnects = 0
        self.changed = changed
        self.sio = socketio.AsyncClient(
            reconnection=True,
            reconnection_attempts=0,
            reconnection_delay=0.2,
            reconnection_delay_max=2,
            randomization_factor=0.5,
        )
        self.sio.on("*", self._event)
        self.sio.on("connect", self._connected)
        self.sio.on("disconnect", self._disconnected)

    def _auth(self) -> dict[str, Any]:
        return {"token": token(self.user, self.tenant), "since": self.since}

    async def _event(self, event: str, data: Any = None) -> None:
        if event == "resync":
            self.resyncs.append(data)
        elif event in NOTIFICATION_NAMES and isinstance(data, dict):
            self.received.append(str(data.get("sourceId")))
            cursor = int(data["cursor"])
            self.cursors.append(cursor)
            self.since = max(self.since, cursor)
            self.changed.set()

    def _connected(self) -> None:
        self.connects += 1
        self.changed.set()

    def _disconnected(self, reason: Any = None) -> None:
        self.disconnects += 1
        self.changed.set()

    async def connect(self) -> None:
        """First connection (later ones are the client's own reconnections)."""
        await self.sio.connect(self.url, auth=self._auth, transports=["websocket"], wait_timeout=30)

    async def close(self) -> None:
        """Disconnect for good."""
        with contextlib.suppress(Exception):
            await self.sio.disconnect()

    def tally(self, expected: list[str]) -> dict[str, int]:
        """lost / duplicated / unexpected / out-of-order counts against ``expected``."""
        counts = Counter(self.received)
        return {
            "lost": len(set(expected) - set(self.received)),
            "duplicated": sum(n - 1 for n in counts.values() if n > 1),
            "unexpected": len(set(self.received) - set(expected)),
            "out_of_order": sum(1 for a, b in itertools.pairwise(self.cursors) if b <= a),
        }


async def wait_for(changed: asyncio.Event, check: Any, timeout: float, what: str) -> None:
    """Wait until ``check()`` holds, re-checking each time ``changed`` is set."""

    async def loop() -> None:
        while not check():
            changed.clear()
            # A periodic re-check as well: some conditions (connected counts) change
            # without an event of ours.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), 0.5)

    try:
        await asyncio.wait_for(loop(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}") from None


@dataclass
class Publisher:
    """Publishes at a steady rate and retries each notification, with its own
    ``Idempotency-Key``, until it is acknowledged: through crashes, outages and lost
    responses. A key that exists creates nothing, so a retry of a publish that did commit
    adds no duplicate. Notifications are known by their source id (the ``id`` published).
    """

    url: str
    tenant: str
    users: list[str]
    rate: float = 40.0
    published: list[tuple[str, str | None]] = field(default_factory=list)
    # Sent and not yet acknowledged: it may already be stored and delivered.
    in_flight: tuple[str, str | None] | None = None
    attempts: int = 0
    retries: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start publishing in the background."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop after the notification in flight is acknowledged."""
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        run = uuid.uuid4().hex[:6]
        interval = 1.0 / self.rate
        n = 0
        async with httpx.AsyncClient(
            base_url=self.url,
            timeout=httpx.Timeout(10.0),
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ) as http:
            while not self._stop.is_set():
                notification_id = f"chaos-{run}-{n}"
                # Two in three to the whole tenant, one in three to one user.
                user = self.users[n % len(self.users)] if n % 3 == 2 else None
                body: dict[str, Any] = {
                    "event": "system-notification",
                    "title": "chaos",
                    "message": f"#{n}",
                    "type": "info",
                    "tenantId": self.tenant,
                    "id": notification_id,
                }
                if user is not None:
                    body["userId"] = user
                self.in_flight = (notification_id, user)
                await self._until_acknowledged(http, body)
                self.published.append((notification_id, user))
                self.in_flight = None
                n += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), interval)

    async def _until_acknowledged(self, http: httpx.AsyncClient, body: dict[str, Any]) -> None:
        deadline = time.monotonic() + 120
        while True:
            self.attempts += 1
            try:
                response = await http.post(
                    "/api/v1/notifications", json=body, headers={"Idempotency-Key": body["id"]}
                )
                self.statuses[str(response.status_code)] += 1
                if response.status_code in (200, 202):
                    return
            except httpx.HTTPError as exc:
                self.statuses[type(exc).__name__] += 1
            self.retries += 1
            assert time.monotonic() < deadline, f"{body['id']} never acknowledged"
            await asyncio.sleep(0.1)  # back-off between retries

    def expected_for(self, user: str) -> list[str]:
        """What one user of the tenant must end up with, in publish order."""
        return [i for i, target in self.published if target is None or target == user]

    def sent(self) -> list[tuple[str, str | None]]:
        """Everything published so far, and the one in flight (delivery may beat its 202)."""
        return self.published + ([self.in_flight] if self.in_flight is not None else [])
