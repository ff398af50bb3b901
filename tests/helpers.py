"""Test helpers: a real Tocsin server on a free port, real clients, real services."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import socketio
import uvicorn

from tocsin.app import create_app
from tocsin.auth.jwt import mint_jwt
from tocsin.config import Settings
from tocsin.serving import uvicorn_options

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
ADMIN_KEY = "test-admin-key-0123456789abcdef"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def require_service(name: str, reason: str) -> None:
    """Skip (or fail under ``TOCSIN_REQUIRE_SERVICES=1``) when a service is missing."""
    message = f"{name} unavailable: {reason}"
    if os.environ.get("TOCSIN_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (TOCSIN_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def token(user: str, tenant: str, **extra: Any) -> str:
    """A valid user token for the test secret."""
    return mint_jwt(JWT_SECRET, user_id=user, tenant_id=tenant, extra=extra or None)


def bearer(user: str, tenant: str, **claims: Any) -> dict[str, str]:
    """The ``Authorization`` header of a user's token."""
    return {"Authorization": f"Bearer {token(user, tenant, **claims)}"}


ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def delivery_log(
    http: Any, notification_id: str, status: str | None = None, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """A notification's delivery log (admin key) once it has a line (with ``status``, if
    given), or as it is after ``timeout`` seconds. The log has no event to wait on: it is
    polled, bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await http.get(
            f"/api/v1/notifications/{notification_id}/deliveries", headers=ADMIN_HEADERS
        )
        found: list[dict[str, Any]] = answer.json()["deliveries"]
        wanted = found if status is None else [d for d in found if d["status"] == status]
        if wanted or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def listening_socket() -> socket.socket:
    """A socket bound to a free loopback port, already listening (no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class ServerThread:
    """A Tocsin node in a thread with its own event loop, restartable on the same socket."""

    def __init__(self, settings: Settings, app_factory: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self.app_factory = app_factory or (lambda: create_app(self.settings))
        self.sock = listening_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app: Any = None

    def start(self) -> None:
        """Start and wait until the lifespan has completed."""
        self.app = self.app_factory()
        options = uvicorn_options(self.settings)
        options.update(log_level="warning", timeout_graceful_shutdown=2)
        config = uvicorn.Config(self.app, **options)
        server = uvicorn.Server(config)
        # A duplicate descriptor: uvicorn closes what it is given, the port stays ours.
        sock = self.sock.dup()
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("Tocsin test server failed to start")
            time.sleep(0.01)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for it."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self._server = self._thread = None

    def close(self) -> None:
        """Stop and release the port."""
        self.stop()
        self.sock.close()

    @property
    def service(self) -> Any:
        """The node's service (for white-box checks only)."""
        return self.app.other_asgi_app.state.service


@dataclass
class EventLog:
    """Everything a client received, in order, with waits that time out."""

    events: list[tuple[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, name: str, data: Any) -> None:
        self.events.append((name, data))
        self.changed.set()

    def of(self, *names: str) -> list[Any]:
        return [data for name, data in self.events if name in names]

    async def wait_for(self, check: Callable[[EventLog], bool], timeout: float = 5.0) -> None:
        async def loop() -> None:
            while not check(self):
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out; received {self.events[-10:]}") from None


NOTIFICATION_NAMES = ("email-received", "dossier-updated", "deadline-alert", "system-notification")


class Client:
    """A python-socketio client that logs every event and keeps its last cursor."""

    def __init__(self, url: str, user: str, tenant: str, *, path: str = "socket.io") -> None:
        self.url = url
        self.user = user
        self.tenant = tenant
        self.path = path
        self.log = EventLog()
        self.since: int | None = None
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", self._any)
        self.sio.on("disconnect", lambda reason=None: self.log.add("disconnect", reason))

    async def _any(self, event: str, data: Any = None) -> None:
        if event in NOTIFICATION_NAMES and isinstance(data, dict):
            cursor = data.get("cursor")
            if isinstance(cursor, int):
                self.since = max(self.since or 0, cursor)
        self.log.add(event, data)

    def notifications(self) -> list[dict[str, Any]]:
        return [data for name, data in self.log.events if name in NOTIFICATION_NAMES]

    async def connect(self, *, since: int | None = None, auth_token: str | None = None) -> None:
        auth: dict[str, Any] = {"token": auth_token or token(self.user, self.tenant)}
        if since is not None:
            auth["since"] = since
        await self.sio.connect(
            self.url, auth=auth, socketio_path=self.path, transports=["websocket"], wait_timeout=10
        )

    async def disconnect(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()

    async def wait_notifications(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        await self.log.wait_for(lambda _log: len(self.notifications()) >= count, timeout)
        return self.notifications()


@contextlib.asynccontextmanager
async def connected(url: str, user: str, tenant: str) -> AsyncIterator[Client]:
    """A :class:`Client` of ``user`` in ``tenant``, connected for the block."""
    client = Client(url, user, tenant)
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()


def stop_process(process: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM ``process``; SIGKILL it if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# The id a client sees: Tocsin's own, 32 hex digits (the publisher's travels as sourceId).
TOCSIN_ID = re.compile(r"^[0-9a-f]{32}$")
# The inbox state every new notification carries (DESIGN §7), besides ``read``.
NEW_STATE: dict[str, Any] = {
    "critical": False,
    "seen": False,
    "archived": False,
    "snoozedUntil": None,
    "actionTaken": None,
}


def source_ids(items: Iterable[Mapping[str, Any]]) -> list[Any]:
    """The publishers' ids (``sourceId``, None when absent) of notifications or inbox items."""
    return [item.get("sourceId") for item in items]


def ids_by_source(items: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Tocsin's ``id`` of each item, by its ``sourceId`` (for mark-read and the like)."""
    return {item["sourceId"]: item["id"] for item in items if "sourceId" in item}


async def publish(
    http: httpx.AsyncClient,
    notification: dict[str, Any],
    *,
    key: str = ADMIN_KEY,
    idempotency_key: str | None = None,
) -> httpx.Response:
    """POST one notification."""
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return await http.post("/api/v1/notifications", json=notification, headers=headers)


def email(
    user: str, tenant: str, subject: str = "Nouveau courrier", **extra: Any
) -> dict[str, Any]:
    """An ``email-received`` notification."""
    return {
        "event": "email-received",
        "subject": subject,
        "from": "Greffe du tribunal <greffe@tribunal.fr>",
        "dossierNumber": "D-2026-001",
        "userId": user,
        "tenantId": tenant,
        **extra,
    }


def critical_alert(
    user: str, tenant: str, message: str = "Délai OQTF expire demain"
) -> dict[str, Any]:
    """A ``deadline-alert`` of urgency ``critical`` (pushed at once, e-mailed if unread)."""
    return {
        "event": "deadline-alert",
        "dossierNumber": "D-2026-021",
        "message": message,
        "urgency": "critical",
        "deadlineType": "OQTF",
        "remainingDays": 1,
        "userId": user,
        "tenantId": tenant,
    }


def tocsin_cli(settings: Settings, *args: str) -> str:
    """Run `tocsin <args> --database-url <the settings' database>`; its stdout, stripped."""
    result = subprocess.run(
        [sys.executable, "-m", "tocsin", *args, "--database-url", settings.database_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


async def create_api_key(settings: Settings, tenant: str) -> str:
    """A new tenant API key, made the way an operator makes one (`tocsin keys create`)."""
    return await asyncio.to_thread(tocsin_cli, settings, "keys", "create", "--tenant", tenant)


async def metric_sample(url: str, sample: str) -> float:
    """The value of one sample of a node's /metrics, e.g.
    ``tocsin_errors_total{where="send_buffer_full"}`` (0 when absent)."""
    async with httpx.AsyncClient(base_url=url) as http:
        text = (await http.get("/metrics")).text
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0
