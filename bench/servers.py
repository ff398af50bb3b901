"""The servers under test, each a real process pinned to one core on a listening socket we hold.

- :class:`TocsinServer`: ``tocsin serve --fd N`` (SQLite in a temporary directory, JWT auth and
  admin key on, log level warning, deadline scheduler off, publish rate limit raised so that the
  throughput workload measures delivery rather than the limiter). Always persists.
- :class:`NodeServer`: ``node bench/node-reference/server.js --fd N`` (socket.io 4.8, same
  auth, rooms and payloads; persistence off).

Both expose ``tocsin_connections`` at ``GET /metrics`` and are read from ``/proc/<pid>``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

JWT_SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"
ADMIN_KEY = "bench-admin-key-0123456789abcdef"
NODE_DIR = Path(__file__).resolve().parent / "node-reference"
SERVER_CORE = 0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def pinned(command: list[str]) -> list[str]:
    """``command`` under ``taskset -c 0`` when taskset exists and the machine has 2+ cores."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(SERVER_CORE), *command]
    return command


def node_missing(kind: str = "node") -> str | None:
    """Why the Node reference (``kind``: node or node-sqlite) cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "socket.io").is_dir():
        return f"{NODE_DIR}/node_modules is missing: run `npm ci --prefix {NODE_DIR}`"
    if kind == "node-sqlite" and not (NODE_DIR / "node_modules" / "better-sqlite3").is_dir():
        return "better-sqlite3 (an optional dependency) did not install: it builds with node-gyp"
    return None


class BenchServer:
    """A server process on a free loopback port; subclasses say how to start it."""

    name = "server"
    persistence = "?"

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.sock.set_inheritable(True)
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"tocsin-bench-{self.name}-"))
        self.log_path = self.workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, fd: int) -> list[str]:
        """The command line (without pinning)."""
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        """The environment of the server process."""
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TOCSIN_", "AUTH_", "NEXTAUTH_", "WEBSOCKET_"))
        }
        return {**base, "TOCSIN_JWT_SECRET": JWT_SECRET, "TOCSIN_ADMIN_KEY": ADMIN_KEY}

    @property
    def pid(self) -> int:
        """The server's process id (taskset execs, so it is the server itself)."""
        assert self.process is not None, "server not started"
        return self.process.pid

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until ``/readyz`` answers 200."""
        fd = self.sock.fileno()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                pinned(self.command(fd)),
                env=self.env(),
                pass_fds=[fd],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self) -> str:
        """The end of what the server printed."""
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def rss_kb(self) -> int:
        """VmRSS of the server process, in KB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS line")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s; release the port and the temporary directory."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        self.sock.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class TocsinServer(BenchServer):
    """``tocsin serve`` with SQLite, auth on; every notification is committed before emit."""

    name = "tocsin"
    persistence = "on (SQLite, WAL, synchronous=FULL)"

    def command(self, fd: int) -> list[str]:
        return [sys.executable, "-m", "tocsin", "serve", "--fd", str(fd)]

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "TOCSIN_DATABASE_URL": f"sqlite+aiosqlite:///{self.workdir / 'tocsin.db'}",
            "TOCSIN_LOG_LEVEL": "warning",
            "TOCSIN_DEADLINES_SCHEDULER": "false",
            "TOCSIN_PUBLISH_RATE": "1000000",
            "TOCSIN_PUBLISH_BURST": "1000000",
        }


class NodeServer(BenchServer):
    """The Node socket.io 4.8 reference (``bench/node-reference``); persistence off."""

    name = "node"
    persistence = "off (emits from memory)"

    def command(self, fd: int) -> list[str]:
        return ["node", str(NODE_DIR / "server.js"), "--fd", str(fd)]


class NodeSqliteServer(NodeServer):
    """The Node reference committing every publish to SQLite before it emits, as Tocsin."""

    name = "node-sqlite"
    persistence = "on (better-sqlite3, WAL, synchronous=FULL, on the event loop)"

    def env(self) -> dict[str, str]:
        return {**super().env(), "TOCSIN_NODE_STORE": str(self.workdir / "node.db")}


SERVERS: dict[str, type[BenchServer]] = {
    "tocsin": TocsinServer,
    "node": NodeServer,
    "node-sqlite": NodeSqliteServer,
}
