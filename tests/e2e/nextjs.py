"""Run a Next.js example of examples/ in production mode beside `tocsin serve`, for e2e tests.

`make nextjs-example` installs the examples. Each production build is kept in the example's
.next/ and reused while the example's files, the @tocsin packages installed there and Tocsin's
address (which the rewrites write into the build) are the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from tests.e2e.conftest import CHROMIUM, record_figure
from tests.helpers import ADMIN_KEY, listening_socket, require_service

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "nextjs-e2e-secret-0123456789abcdef0123456789"
# Of node_modules, the build depends on what `make nextjs-example` installs from this
# checkout; the rest follows the example's package-lock.json.
NOT_INPUTS = ("node_modules", ".next")
INSTALLED = "node_modules/@tocsin"
STAMP = ".next/tocsin-e2e-build.json"


@dataclass(frozen=True)
class App:
    """An example app, and the variable that holds its session secret (Tocsin reads it too)."""

    folder: Path
    secret_variable: str

    @property
    def next_bin(self) -> Path:
        return self.folder / "node_modules" / "next" / "dist" / "bin" / "next"


NEXTAUTH_V4 = App(EXAMPLES / "nextjs", "NEXTAUTH_SECRET")
AUTHJS_V5 = App(EXAMPLES / "nextjs-authjs", "AUTH_SECRET")


@dataclass
class Stack:
    """Tocsin and a Next.js app, both running, and their logs."""

    tocsin_url: str
    app_url: str
    logs: dict[str, Path]

    def tail(self) -> str:
        """The last lines of each log, for an assertion message."""
        return "\n".join(
            f"--- {name}\n{path.read_text(errors='replace')[-3000:]}"
            for name, path in self.logs.items()
        )


def require_app(app: App) -> None:
    """Skip (or fail under TOCSIN_REQUIRE_SERVICES=1) when ``app`` cannot run here."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        require_service("Node.js and npm", "`node` or `npm` is not on PATH")
    if not Path(CHROMIUM).is_file():
        require_service("Chromium", f"{CHROMIUM} not found (apt-get install -y chromium)")
    packages = app.folder / INSTALLED
    needed = (app.next_bin, packages / "client", packages / "publisher")
    missing = [path for path in needed if not path.exists()]
    if missing:
        require_service(
            f"the dependencies of examples/{app.folder.name}",
            f"{missing[0]} is missing: run `make nextjs-example`",
        )


def node_env(**extra: str) -> dict[str, str]:
    """A child's environment, without the developer's Tocsin, auth or Next settings."""
    own = ("TOCSIN_", "NEXTAUTH_", "AUTH_", "WEBSOCKET_", "NEXT_", "NODE_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env.update(NEXT_TELEMETRY_DISABLED="1", **extra)
    return env


def run_stack(app: App, workdir: Path) -> Iterator[Stack]:
    """`tocsin serve` (SQLite in ``workdir``, the app's secret) and `next start` of ``app``.

    A generator for a fixture: yields once both answer, stops both afterwards.
    """
    require_app(app)
    logs = {"tocsin": workdir / "tocsin.log", "next": workdir / "next.log"}
    sock = tocsin_listener(read_stamp(app))
    port = sock.getsockname()[1]
    tocsin_url = f"http://127.0.0.1:{port}"
    with logs["tocsin"].open("wb") as log:
        tocsin = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "serve", "--fd", str(sock.fileno())],
            env=node_env(
                TOCSIN_DATABASE_URL=f"sqlite+aiosqlite:///{workdir}/tocsin.db",
                TOCSIN_ADMIN_KEY=ADMIN_KEY,
                **{app.secret_variable: SECRET},
            ),
            pass_fds=[sock.fileno()],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    sock.close()
    processes: list[subprocess.Popen[Any]] = [tocsin]
    try:
        next_build(app, tocsin_url, port)

        def tocsin_ready() -> bool:
            assert tocsin.poll() is None, logs["tocsin"].read_text(errors="replace")
            try:
                return httpx.get(f"{tocsin_url}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(tocsin_ready, "tocsin serve")
        server, app_url = start_next(app, tocsin_url, logs["next"])
        processes.append(server)
        yield Stack(tocsin_url, app_url, logs)
    finally:
        for process in reversed(processes):
            stop(process)


def tocsin_listener(previous: dict[str, Any]) -> socket.socket:
    """A listening socket for Tocsin: the previous build's port when it is free, else any.

    Rewrites are fixed when `next build` runs, so the build names Tocsin's port; taking the
    same one again (only if nobody holds it) lets the next run reuse the build.
    """
    port = previous.get("tocsinPort")
    if isinstance(port, int):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(128)
            sock.set_inheritable(True)
            return sock
        except OSError:
            sock.close()
    return listening_socket()


def next_build(app: App, tocsin_url: str, port: int) -> None:
    """`next build`, unless .next already holds the build of these very inputs."""
    key = build_key(app, tocsin_url)
    figure = f"{app.folder.name}_build_seconds"
    # The build id too: .next may hold a build made by hand since (`npm run build`).
    if read_stamp(app) == {"key": key, "tocsinPort": port, "buildId": build_id(app)}:
        record_figure(figure, "reused")
        return
    started = time.monotonic()
    done = subprocess.run(
        [shutil.which("node") or "node", str(app.next_bin), "build"],
        cwd=app.folder,
        env=node_env(TOCSIN_URL=tocsin_url),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"next build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    record_figure(figure, round(time.monotonic() - started, 1))
    stamp = {"key": key, "tocsinPort": port, "buildId": build_id(app)}
    (app.folder / STAMP).write_text(json.dumps(stamp) + "\n")


def build_key(app: App, tocsin_url: str) -> str:
    """A digest of everything the production build depends on."""
    digest = hashlib.sha256(f"TOCSIN_URL={tocsin_url}\n".encode())
    roots = [p for p in app.folder.iterdir() if p.name not in NOT_INPUTS and p.suffix != ".md"]
    for root in sorted([*roots, app.folder / INSTALLED]):
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if path.is_file():
                digest.update(str(path.relative_to(app.folder)).encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_id(app: App) -> str | None:
    try:
        return (app.folder / ".next" / "BUILD_ID").read_text().strip()
    except OSError:
        return None


def read_stamp(app: App) -> dict[str, Any]:
    try:
        stamp: dict[str, Any] = json.loads((app.folder / STAMP).read_text())
    except (OSError, ValueError):
        return {}
    return stamp


def start_next(app: App, tocsin_url: str, log_path: Path) -> tuple[subprocess.Popen[str], str]:
    """`next start` on a port the kernel picks; returns the process and its URL."""
    server = subprocess.Popen(
        [shutil.which("node") or "node", str(app.next_bin), "start", "-H", "127.0.0.1", "-p", "0"],
        cwd=app.folder,
        env=node_env(
            # No NEXTAUTH_URL (the port is not known before): the session's host is the request's.
            AUTH_TRUST_HOST="true",
            TOCSIN_URL=tocsin_url,
            TOCSIN_API_KEY=ADMIN_KEY,
            **{app.secret_variable: SECRET},
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    ports: list[str] = []
    ready = threading.Event()

    def copy(stream: IO[str]) -> None:
        with log_path.open("w") as log:
            for line in stream:
                log.write(line)
                log.flush()
                found = re.search(r"Local:\s+http://127\.0\.0\.1:(\d+)", line)
                if found:
                    ports.append(found.group(1))
                if "Ready in" in line:
                    ready.set()
        ready.set()

    assert server.stdout is not None
    threading.Thread(target=copy, args=(server.stdout,), daemon=True).start()
    if not ready.wait(60) or not ports or server.poll() is not None:
        stop(server)
        raise AssertionError(f"next start did not come up:\n{log_path.read_text()}")
    # As a person opens it: Next.js turns 127.0.0.1 into localhost in the request URLs it gives
    # route handlers, so Auth.js v5 would post its sign-in form to a host without its cookie.
    return server, f"http://localhost:{ports[0]}"


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``check()`` (a process coming up) until it is true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM the process group we started, SIGKILL it if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@dataclass
class Sockets:
    """The WebSockets a page opened, and the text frames sent and received on them."""

    opened: list[Any] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        """Record the sockets ``page`` opens from now on."""

        def on_socket(ws: Any) -> None:
            self.opened.append(ws)
            ws.on("framesent", lambda payload: self.sent.append(str(payload)))
            ws.on("framereceived", lambda payload: self.received.append(str(payload)))

        page.on("websocket", on_socket)

    def engine_io(self) -> Any:
        """The Engine.IO WebSocket: the one the client upgraded to, and still open."""
        live = [ws for ws in self.opened if "/socket.io/" in ws.url and not ws.is_closed()]
        assert live, [ws.url for ws in self.opened]
        assert "transport=websocket" in live[-1].url
        return live[-1]

    def is_ack_of(self, event: str, payload: object) -> bool:
        """Whether ``payload`` acknowledges the last ``event`` sent (``43<n>[…]`` for ``42<n>``)."""
        asked = [m[1] for f in self.sent if (m := re.match(rf'42(\d+)\["{event}"', f))]
        return bool(asked) and str(payload).startswith(f"43{asked[-1]}[")
