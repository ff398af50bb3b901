"""Real processes for scale-out tests: Tocsin nodes (`tocsin serve`) and a private Redis."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.helpers import ADMIN_KEY, JWT_SECRET, listening_socket, require_service


def _wait(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if callable(check) and check():
                return
        except (OSError, httpx.HTTPError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class RedisProcess:
    """A redis-server of the test's own on a free port, restartable on that port."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            require_service("redis-server", "the binary is not installed")
        self.binary = binary or "redis-server"
        self.workdir = workdir
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(self.answers, f"redis on port {self.port}")

    def answers(self) -> bool:
        """Whether a PING gets PONG."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        """Kill it (SIGKILL: an outage, not a polite shutdown)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


class NodeProcess:
    """`tocsin serve` in its own process, on a listening socket the test holds."""

    def __init__(self, database_url: str, redis_url: str | None, **env: str) -> None:
        self.sock = listening_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TOCSIN_", "AUTH_"))},
            "TOCSIN_DATABASE_URL": database_url,
            "TOCSIN_JWT_SECRET": JWT_SECRET,
            "TOCSIN_ADMIN_KEY": ADMIN_KEY,
            "TOCSIN_LOG_LEVEL": "warning",
            "TOCSIN_CLIENTS_COUNT_DEBOUNCE": "0.05",
            **({"TOCSIN_REDIS_URL": redis_url} if redis_url else {}),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="tocsin-node-", suffix=".log")  # noqa: SIM115

    def start(self) -> None:
        """Start and wait for /readyz."""
        fd = self.sock.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "serve", "--fd", str(fd)],
            env=self.env,
            pass_fds=[fd],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

        def ready() -> bool:
            assert self.process is not None and self.process.poll() is None, self.stderr()
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200

        _wait(ready, f"node {self.url} ready")

    def stderr(self) -> str:
        """What the process printed so far."""
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL, and close the port so nothing answers there any more."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None
        self.sock.close()

    def terminate(self, timeout: float = 30.0) -> float:
        """SIGTERM; returns how long the process took to exit."""
        assert self.process is not None
        began = time.monotonic()
        self.process.terminate()
        self.process.wait(timeout=timeout)
        self.process = None
        return time.monotonic() - began

    def close(self) -> None:
        """Stop whatever is left."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
        self.sock.close()
        self.log.close()
