"""The TypeScript publisher (@tocsin/publisher) in real Node against a real server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import (
    ADMIN_KEY,
    Client,
    ServerThread,
    connected,
    create_api_key,
    listening_socket,
    require_service,
)
from tests.helpers import publish as http_publish
from tocsin.config import Settings

pytestmark = pytest.mark.node

PUBLISHER_DIR = Path(__file__).resolve().parents[2] / "clients" / "publisher"


@pytest.fixture(scope="module")
def publisher_module(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The package as `npm pack` ships it, built once into a temporary folder: its file URL."""
    node = shutil.which("node")
    if node is None:
        require_service("Node.js", "`node` is not on PATH")
    if not (PUBLISHER_DIR / "node_modules" / "esbuild").is_dir():
        require_service(
            "@tocsin/publisher build tools",
            "run `make js-test` (or `npm ci --prefix clients/publisher`)",
        )
    out = tmp_path_factory.mktemp("publisher-dist")
    subprocess.run(
        [str(node), str(PUBLISHER_DIR / "scripts" / "build.mjs"), "lib"],
        env={**os.environ, "TOCSIN_LIB_OUT": str(out)},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return (out / "index.js").as_uri()


@dataclass
class NodeRun:
    returncode: int
    stdout: str
    stderr: str

    def lines(self) -> list[Any]:
        """Each printed line, as JSON."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


async def run_node(module: str, script: str, env: dict[str, str] | None = None) -> NodeRun:
    """Run an ES module that reaches the package as ``tocsin``."""
    node = shutil.which("node")
    assert node is not None
    source = f"const tocsin = await import(process.env.PUBLISHER);\n{script}"
    process = await asyncio.create_subprocess_exec(
        node,
        "--input-type=module",
        "--eval",
        source,
        env={**os.environ, **(env or {}), "PUBLISHER": module},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("the node script did not finish within 60 s") from None
    assert process.returncode is not None
    return NodeRun(process.returncode, stdout.decode(), stderr.decode())


def succeeded(run: NodeRun) -> list[Any]:
    """The printed lines of a script that must have exited 0 without a word on stderr."""
    assert (run.returncode, run.stderr) == (0, ""), run
    return run.lines()


@pytest.fixture
async def alice(server: ServerThread) -> AsyncIterator[Client]:
    async with connected(server.url, "u1", "t1") as client:
        yield client


# -- a proxy that loses answers -----------------------------------------------------------


@dataclass
class Proxy:
    """Forwards each request to Tocsin; the first ``lose`` answers never come back."""

    target: str
    lose: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = dict(line.split(": ", 1) for line in header_lines if line)
            lowered = {name.lower(): value for name, value in headers.items()}
            body = await reader.readexactly(int(lowered.get("content-length", "0")))
            self.requests.append({"path": path, "headers": lowered, "body": json.loads(body)})
            async with httpx.AsyncClient(base_url=self.target) as http:
                answer = await http.request(
                    method,
                    path,
                    content=body,
                    headers={
                        k: v for k, v in headers.items() if k.lower() not in ("host", "connection")
                    },
                )
            self.answers.append(answer)
            if len(self.requests) <= self.lose:
                return  # Tocsin has stored it; the publisher never hears so
            kept = ("content-type", "idempotent-replayed", "retry-after")
            response_headers = "".join(
                f"{name}: {value}\r\n" for name, value in answer.headers.items() if name in kept
            )
            writer.write(
                f"HTTP/1.1 {answer.status_code} {answer.reason_phrase}\r\n{response_headers}"
                f"Content-Length: {len(answer.content)}\r\nConnection: close\r\n\r\n".encode()
                + answer.content
            )
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def proxy_to(server: ServerThread, lose: int = 0) -> AsyncIterator[tuple[Proxy, str]]:
    proxy = Proxy(server.url, lose)
    sock = listening_socket()
    listener = await asyncio.start_server(proxy.handle, sock=sock)
    try:
        yield proxy, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        listener.close()
        await listener.wait_closed()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting to it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


# -- the seed's helpers -------------------------------------------------------------------

SEED_CALLS = """
const { notifyEmailReceived, notifyDossierUpdated, notifyDeadlineAlert, notifySystem,
        emitToUser, emitToTenant, emitToAll } = tocsin;
// As the seed calls them: no await.
notifyEmailReceived({ id: "mail-1", subject: "Convocation", from: "greffe@tribunal.fr",
  dossierNumber: "D-2026-001", userId: "u1", tenantId: "t1", timestamp: new Date() });
notifyDossierUpdated({ id: 42, dossierNumber: "D-2026-001", dossierTitle: "Martin - OQTF",
  action: "status_changed", status: "clos", userId: "u1", tenantId: "t1", timestamp: new Date() });
notifyDeadlineAlert({ id: "deadline-42", dossierNumber: "D-2026-001",
  message: "Délai critique dans 1 jours", urgency: "critical", deadlineType: "OQTF",
  remainingDays: 1, userId: "u1", tenantId: "t1",
  timestamp: new Date("2026-01-07T09:30:00Z") });
notifySystem({ title: "Bienvenue", message: "Compte prêt", type: "success", userId: "u1",
  tenantId: "t1" });
const emailData = { subject: "Relance", from: "a@b.fr", tenantId: "t1", timestamp: new Date() };
emitToUser("u1", "email-received", emailData);
emitToTenant("t1", "system-notification", { title: "Maintenance",
  message: "Scheduled maintenance at 2am", type: "warning" });
emitToAll("system-notification", { title: "Platform Update", message: "New features available!",
  type: "success" });
"""


def _label(notification: dict[str, Any]) -> str:
    for name in ("subject", "title", "dossierTitle", "dossierNumber"):
        if name in notification:
            return str(notification[name])
    raise AssertionError(notification)


async def test_the_seed_calls_deliver_through_the_module_helpers(
    server: ServerThread, publisher_module: str, alice: Client
) -> None:
    async with (
        connected(server.url, "u2", "t1") as bob,
        connected(server.url, "u3", "t2") as carol,
    ):
        run = await run_node(
            publisher_module,
            SEED_CALLS,
            {"TOCSIN_URL": server.url, "TOCSIN_API_KEY": ADMIN_KEY},
        )
        assert succeeded(run) == []
        received = await alice.wait_notifications(7)
        await bob.wait_notifications(2)
        await carol.wait_notifications(1)

    by_label = {_label(n): n for n in received}
    assert sorted(by_label) == [
        "Bienvenue",
        "Convocation",
        "D-2026-001",
        "Maintenance",
        "Martin - OQTF",
        "Platform Update",
        "Relance",
    ]
    mail = by_label["Convocation"]
    assert mail["sourceId"] == "mail-1" and mail["id"] != "mail-1"
    assert (mail["userId"], mail["tenantId"], mail["from"]) == ("u1", "t1", "greffe@tribunal.fr")
    assert mail["timestamp"].endswith("Z")
    assert by_label["Martin - OQTF"]["sourceId"] == "42"
    deadline = by_label["D-2026-001"]
    assert (deadline["urgency"], deadline["remainingDays"]) == ("critical", 1)
    assert deadline["timestamp"] == "2026-01-07T09:30:00.000Z"
    assert deadline["sourceId"] == "deadline-42"
    assert "sourceId" not in by_label["Bienvenue"]
    assert (by_label["Relance"]["userId"], by_label["Relance"]["tenantId"]) == ("u1", "t1")
    assert "userId" not in by_label["Maintenance"]
    assert "tenantId" not in by_label["Platform Update"]
    assert sorted(n["title"] for n in bob.notifications()) == ["Maintenance", "Platform Update"]
    assert [n["title"] for n in carol.notifications()] == ["Platform Update"]


async def test_three_updates_of_one_dossier_are_three_notifications(
    server: ServerThread, publisher_module: str, alice: Client
) -> None:
    script = """
    const publisher = tocsin.createPublisher({ url: process.env.URL, apiKey: process.env.KEY });
    for (const action of ["updated", "updated", "updated"]) {
      const result = await publisher.notifyDossierUpdated({ id: "dossier-7",
        dossierNumber: "D-2026-007", dossierTitle: "Martin - OQTF", action,
        userId: "u1", tenantId: "t1", timestamp: new Date() });
      console.log(JSON.stringify(result));
    }
    """
    results = succeeded(
        await run_node(publisher_module, script, {"URL": server.url, "KEY": ADMIN_KEY})
    )
    assert [r["replayed"] for r in results] == [False, False, False]
    assert len({r["id"] for r in results}) == 3
    received = await alice.wait_notifications(3)
    assert [n["id"] for n in received] == [r["id"] for r in results]
    assert {n["sourceId"] for n in received} == {"dossier-7"}


async def test_a_batch_stands_item_by_item(
    server: ServerThread, publisher_module: str, alice: Client
) -> None:
    script = """
    const publisher = tocsin.createPublisher({ url: process.env.URL, apiKey: process.env.KEY });
    const dossier = { event: "dossier-updated", id: "dossier-7", dossierNumber: "D-2026-007",
                      dossierTitle: "Martin - OQTF", userId: "u1", tenantId: "t1" };
    const results = await publisher.publishBatch([{ ...dossier, action: "created" },
                                                  { ...dossier, action: "archived" }]);
    console.log(JSON.stringify(results));
    """
    [results] = succeeded(
        await run_node(publisher_module, script, {"URL": server.url, "KEY": ADMIN_KEY})
    )
    stored, refused = results
    assert (refused["status"], refused["error"], refused["field"]) == (
        422,
        "validation_error",
        "action",
    )
    [received] = await alice.wait_notifications(1)
    assert (received["id"], received["cursor"]) == (stored["id"], stored["cursor"])


async def test_a_retry_after_a_lost_answer_publishes_once(
    server: ServerThread,
    publisher_module: str,
    alice: Client,
    http: httpx.AsyncClient,
) -> None:
    script = """
    const publisher = tocsin.createPublisher({ url: process.env.URL, apiKey: process.env.KEY,
                                               backoffMs: 20 });
    const result = await publisher.notifyEmailReceived({ id: "mail-9", subject: "Une fois",
      from: "greffe@tribunal.fr", userId: "u1", tenantId: "t1", timestamp: new Date() });
    console.log(JSON.stringify(result));
    """
    async with proxy_to(server, lose=1) as (proxy, url):
        [result] = succeeded(
            await run_node(publisher_module, script, {"URL": url, "KEY": ADMIN_KEY})
        )

    assert len(proxy.requests) == 2
    first, second = proxy.requests
    assert first["headers"]["idempotency-key"] == second["headers"]["idempotency-key"]
    assert first["body"] == second["body"]
    stored = proxy.answers[0].json()
    assert result == {"id": stored["id"], "cursor": stored["cursor"], "replayed": True}
    # Delivery is in cursor order: once the marker arrives, any duplicate would have too.
    marker = await http_publish(http, {**_SYSTEM, "userId": "u1", "tenantId": "t1"})
    assert marker.status_code == 202, marker.text
    await alice.log.wait_for(
        lambda _: any(n.get("title") == "Marker" for n in alice.notifications())
    )
    assert [n["id"] for n in alice.notifications() if n.get("subject")] == [stored["id"]]


_SYSTEM = {"event": "system-notification", "title": "Marker", "message": "m", "type": "info"}


async def test_refusals_reject_with_status_code_and_field_without_retrying(
    server: ServerThread, settings: Settings, publisher_module: str
) -> None:
    tenant_key = await create_api_key(settings, "t1")
    script = """
    const publisher = tocsin.createPublisher({ url: process.env.URL, apiKey: process.env.KEY });
    const dossier = { id: "dossier-7", dossierNumber: "D-2026-007", dossierTitle: "Martin",
                      action: "archived", userId: "u1", tenantId: "t1", timestamp: new Date() };
    const system = { title: "T", message: "m", type: "info" };
    for (const call of [() => publisher.notifyDossierUpdated(dossier),
                        () => publisher.emitToTenant("t2", "system-notification", system)]) {
      try {
        console.log(JSON.stringify({ published: await call() }));
      } catch (error) {
        const { name, status, code, field } = error;
        console.log(JSON.stringify({ name, status, code, field,
                                     isApiError: error instanceof tocsin.TocsinApiError }));
      }
    }
    """
    async with proxy_to(server) as (proxy, url):
        refused = succeeded(
            await run_node(publisher_module, script, {"URL": url, "KEY": tenant_key})
        )

    assert refused == [
        {
            "name": "TocsinApiError",
            "status": 422,
            "code": "validation_error",
            "field": "action",
            "isApiError": True,
        },
        {
            "name": "TocsinApiError",
            "status": 403,
            "code": "forbidden",
            "field": "tenantId",
            "isApiError": True,
        },
    ]
    assert len(proxy.requests) == 2  # one each: never retried


async def test_fire_and_forget_to_an_unreachable_server_does_not_crash_node(
    publisher_module: str, closed_port: int
) -> None:
    script = """
    tocsin.configure({ url: process.env.TOCSIN_URL, apiKey: "k", retries: 2, backoffMs: 10 });
    tocsin.notifyEmailReceived({ subject: "s", from: "f", userId: "u1", tenantId: "t1" });
    tocsin.notifySystem({ title: "t", message: "m", type: "info" });
    """
    run = await run_node(
        publisher_module, script, {"TOCSIN_URL": f"http://127.0.0.1:{closed_port}"}
    )
    assert run.returncode == 0, run
    reports = [line for line in run.stderr.splitlines() if line.startswith("[tocsin]")]
    assert len(reports) == 2, run.stderr
    assert "TocsinNetworkError" in run.stderr and "ECONNREFUSED" in run.stderr
    assert "after 3 attempt(s)" in run.stderr


async def test_the_module_helpers_without_configuration_report_and_exit_cleanly(
    publisher_module: str,
) -> None:
    run = await run_node(
        publisher_module,
        'tocsin.notifySystem({ title: "t", message: "m", type: "info" });',
    )
    assert run.returncode == 0, run
    assert "set TOCSIN_URL and TOCSIN_API_KEY" in run.stderr
