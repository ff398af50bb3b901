"""`tocsin serve --workers 2` as a user runs it, with the clients people use: long-polling
and its upgrade work whichever worker each connection reaches (tocsin.workerrouting)."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import socketio

from tests.compat.node_client import COMPAT_DIR, require_node_client
from tests.conftest import make_settings
from tests.helpers import (
    ADMIN_KEY,
    JWT_SECRET,
    ServerThread,
    email,
    listening_socket,
    publish,
    stop_process,
    token,
)
from tocsin.realtime.sessionids import owner_of

ENGINE = "/socket.io/?EIO=4&transport=polling"


class Workers:
    """`tocsin serve --fd N --workers 2` in a process of its own, on a socket the test holds."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.sock = listening_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "serve.log"
        # The supervisor makes the workers' sockets directory under TMPDIR: here, to see it.
        self.tmp = workdir / "tmp"
        self.tmp.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TOCSIN_", "AUTH_"))}
        env.update(
            TMPDIR=str(self.tmp),
            TOCSIN_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'tocsin.db'}",
            TOCSIN_JWT_SECRET=JWT_SECRET,
            TOCSIN_ADMIN_KEY=ADMIN_KEY,
            TOCSIN_LOG_LEVEL="warning",
            # Without Redis, a worker learns of the other's publishes from the store.
            TOCSIN_POLL_INTERVAL="0.2",
            TOCSIN_CLIENTS_COUNT_DEBOUNCE="0.05",
            # The polling client's hundred round trips come faster than 20 a second.
            TOCSIN_CLIENT_EVENT_RATE="1000",
        )
        fd = self.sock.fileno()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tocsin", "serve", "--fd", str(fd), "--workers", "2"],
                cwd=workdir,
                env=env,
                pass_fds=[fd],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.pids = self._wait_for_both_workers()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def sockets_dir(self) -> Path:
        (directory,) = self.tmp.glob("tocsin-workers-*")
        return directory

    def _wait_for_both_workers(self) -> set[int]:
        """Both workers' pids, once each has made a session (a slow machine takes a while
        to start two Python processes)."""
        seen: set[int] = set()
        deadline = time.monotonic() + 120
        while len(seen) < 2:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, f"workers seen: {seen}; {self.output()}"
            conn = self.connect()
            try:
                seen.add(worker_of(conn))
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        return seen

    def connect(self) -> http.client.HTTPConnection:
        """A new keep-alive connection (to whichever worker the kernel picks)."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def connection_on(self, pid: int, *, other: bool = False) -> http.client.HTTPConnection:
        """A connection held by worker ``pid`` (or, ``other``, by the other one)."""
        for _ in range(200):
            conn = self.connect()
            if (worker_of(conn) == pid) != other:
                return conn
            conn.close()
        raise AssertionError(f"no connection reached the wanted worker ({pid}, other={other})")

    def kill_worker(self, pid: int) -> None:
        """SIGKILL worker ``pid``, and wait until it is dead (its descriptors closed)."""
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
            except (FileNotFoundError, ProcessLookupError):
                return
            if state in ("Z", "X"):  # a zombie until the supervisor reaps it
                return
            assert time.monotonic() < deadline, f"worker {pid} still {state}"
            time.sleep(0.01)

    def close(self) -> None:
        if self.process.poll() is None:
            stop_process(self.process, timeout=30)
        self.sock.close()


def request(
    conn: http.client.HTTPConnection,
    method: str,
    query: str = "",
    body: bytes | None = None,
    *,
    engine: str = ENGINE,
) -> tuple[int, bytes]:
    conn.request(method, engine + query, body=body, headers={"Content-Type": "text/plain"})
    response = conn.getresponse()
    return response.status, response.read()


def handshake(conn: http.client.HTTPConnection) -> str:
    """A new Engine.IO session on ``conn``'s worker: its sid."""
    status, body = request(conn, "GET")
    assert status == 200, body
    return str(json.loads(body[1:])["sid"])


def worker_of(conn: http.client.HTTPConnection) -> int:
    """The pid of the worker holding ``conn`` now: it makes the sessions opened on it (a
    probe session, closed at once)."""
    sid = handshake(conn)
    owner = owner_of(sid)
    assert owner is not None, sid
    assert request(conn, "POST", f"&sid={sid}", b"1") == (200, b"ok")
    return owner


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    server = Workers(tmp_path_factory.mktemp("workers"))
    try:
        yield server
    finally:
        server.close()
    # A stopped supervisor leaves no sockets behind.
    assert not list(server.tmp.glob("tocsin-workers-*"))


def test_each_worker_has_a_private_socket(workers: Workers) -> None:
    directory = workers.sockets_dir()
    assert directory.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in directory.iterdir()) == sorted(f"{p}.sock" for p in workers.pids)


def test_a_request_for_another_workers_session_moves_its_connection(workers: Workers) -> None:
    a, b = sorted(workers.pids)
    with contextlib.ExitStack() as stack:
        on_a = stack.enter_context(contextlib.closing(workers.connection_on(a)))
        sid = handshake(on_a)
        on_b = stack.enter_context(contextlib.closing(workers.connection_on(a, other=True)))
        assert worker_of(on_b) == b
        # A PONG posted through b reaches the session on a, and the connection is a's now.
        assert request(on_b, "POST", f"&sid={sid}", b"3") == (200, b"ok")
        assert worker_of(on_b) == a
        # Socket.IO's CONNECT, posted on a; its answer read by a poll through b.
        connect = b"40" + json.dumps({"token": token("mover", "acme")}).encode()
        assert request(on_a, "POST", f"&sid={sid}", connect) == (200, b"ok")
        on_b2 = stack.enter_context(contextlib.closing(workers.connection_on(a, other=True)))
        status, answer = request(on_b2, "GET", f"&sid={sid}")
        assert status == 200 and answer.startswith(b'40{"sid":'), answer


def test_a_session_path_without_its_trailing_slash_is_handed_over_too(workers: Workers) -> None:
    # Next.js rewrites (and some proxies) send /socket.io?EIO=4… without the slash.
    a, b = sorted(workers.pids)
    bare = ENGINE.replace("/socket.io/?", "/socket.io?", 1)
    assert bare != ENGINE
    with contextlib.ExitStack() as stack:
        on_a = stack.enter_context(contextlib.closing(workers.connection_on(a)))
        sid = handshake(on_a)
        on_b = stack.enter_context(contextlib.closing(workers.connection_on(a, other=True)))
        assert worker_of(on_b) == b
        assert request(on_b, "POST", f"&sid={sid}", b"3", engine=bare) == (200, b"ok")
        assert worker_of(on_b) == a


def test_latency_of_a_polling_request_handed_to_its_worker(workers: Workers) -> None:
    """Measured (printed), and bounded generously: a handoff is a connect, one message with
    a descriptor and a one-byte answer on a unix socket, and the owner parsing the request
    again. The request is a PONG (the client's answer to each heartbeat), which is answered
    at once: the time is the request's own."""
    a, _ = sorted(workers.pids)
    on_a = workers.connection_on(a)
    sid = handshake(on_a)

    def timed_pong(conn: http.client.HTTPConnection) -> float:
        began = time.perf_counter()
        assert request(conn, "POST", f"&sid={sid}", b"3") == (200, b"ok")
        return time.perf_counter() - began

    local, handed = [], []
    for _ in range(30):
        # Both on a connection made just before, so that both pay the same for it.
        local.append(timed_pong(fresh := workers.connection_on(a)))
        fresh.close()
        handed.append(timed_pong(fresh := workers.connection_on(a, other=True)))
        fresh.close()
    on_a.close()
    local_ms, handed_ms = statistics.median(local) * 1000, statistics.median(handed) * 1000
    print(
        f"\npolling request on its worker: median {local_ms:.2f} ms; "
        f"handed to it by the other: median {handed_ms:.2f} ms"
    )
    assert handed_ms < local_ms + 50


def _default_client(**kwargs: Any) -> socketio.AsyncClient:
    return socketio.AsyncClient(reconnection=False, **kwargs)


def _new_connection_each_time() -> aiohttp.ClientSession:
    """An HTTP session opening a connection per request (kept alive, a connection stays
    with the worker that holds the session once it moved there)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))


async def test_thirty_default_python_clients_connect_and_upgrade(workers: Workers) -> None:
    """python-socketio's default transports: a poll, then the upgrade, each on a connection
    of its own here, so about half of them reach the other worker."""
    sessions: list[aiohttp.ClientSession] = []
    clients: list[socketio.AsyncClient] = []
    received: list[asyncio.Future[Any]] = []
    loop = asyncio.get_running_loop()

    async def connect_batch(size: int) -> None:
        start = len(clients)
        for _ in range(size):
            sessions.append(_new_connection_each_time())
            clients.append(client := _default_client(http_session=sessions[-1]))
            received.append(done := loop.create_future())

            def on_email(data: Any, done: asyncio.Future[Any] = done) -> None:
                if not done.done():
                    done.set_result(data)

            client.on("email-received", on_email)
        await asyncio.gather(
            *(
                clients[i].connect(
                    workers.url, auth={"token": token(f"py{i}", "acme")}, wait_timeout=20
                )
                for i in range(start, start + size)
            )
        )

    try:
        # In bursts: the workers share one listening socket, and a worker woken first may
        # accept a whole burst (a loaded machine saw all 30 at once on one worker).
        for _ in range(6):
            await connect_batch(5)
        while {owner_of(c.eio.sid) for c in clients} != workers.pids and len(clients) < 60:
            await connect_batch(5)
        assert all(client.connected for client in clients)
        owners = {owner_of(client.eio.sid) for client in clients}
        assert owners == workers.pids  # the sessions are on both workers
        async with httpx.AsyncClient(base_url=workers.url, timeout=30) as http:
            for i in range(len(clients)):
                response = await publish(http, email(f"py{i}", "acme", f"for py{i}"))
                assert response.status_code == 202
        payloads = await asyncio.wait_for(asyncio.gather(*received), 30)
        assert [p["subject"] for p in payloads] == [f"for py{i}" for i in range(len(clients))]
        transports = [client.transport() for client in clients]
        assert transports.count("websocket") == len(clients), transports
    finally:
        await asyncio.gather(*(client.disconnect() for client in clients))
        await asyncio.gather(*(session.close() for session in sessions))


async def test_default_node_clients_connect_and_upgrade(workers: Workers) -> None:
    node = require_node_client()
    count = 15
    auths = [{"token": token(f"node{i}", "acme")} for i in range(count)]
    process = await asyncio.create_subprocess_exec(
        node,
        str(COMPAT_DIR / "many.mjs"),
        workers.url,
        json.dumps(auths),
        cwd=COMPAT_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None
    lines: list[dict[str, Any]] = []

    async def until(check: Any, within: float = 30) -> None:
        async def read() -> None:
            while not check():
                raw = await process.stdout.readline()  # type: ignore[union-attr]
                assert raw, f"node exited; {lines[-10:]}"
                lines.append(json.loads(raw))

        await asyncio.wait_for(read(), within)

    def of(kind: str) -> dict[int, dict[str, Any]]:
        return {line["i"]: line for line in lines if line["type"] == kind}

    try:
        await until(lambda: len(of("connect")) + len(of("connect_error")) >= count)
        assert not of("connect_error"), of("connect_error")
        await until(lambda: len(of("upgrade")) >= count)
        async with httpx.AsyncClient(base_url=workers.url, timeout=30) as http:
            for i in range(count):
                response = await publish(http, email(f"node{i}", "acme", f"for node{i}"))
                assert response.status_code == 202

        def delivered() -> dict[int, str]:
            return {
                line["i"]: line["data"]["subject"]
                for line in lines
                if line["type"] == "event" and line["event"] == "email-received"
            }

        await until(lambda: len(delivered()) >= count)
        assert delivered() == {i: f"for node{i}" for i in range(count)}
        process.stdin.write(b"status\n")
        await until(lambda: len(of("status")) >= count)
        states = of("status")
        assert all(s["connected"] and s["transport"] == "websocket" for s in states.values()), (
            states
        )
    finally:
        with contextlib.suppress(ConnectionError):
            process.stdin.write(b"close\n")
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_a_polling_only_client_works_across_workers(workers: Workers) -> None:
    """Every request on a new connection: about half reach the other worker. A hundred
    round trips (an event and its acknowledgement) and twenty notifications."""
    session = _new_connection_each_time()
    client = _default_client(http_session=session)
    notes: list[Any] = []
    arrived = asyncio.Event()

    def on_email(data: Any) -> None:
        notes.append(data)
        arrived.set()

    client.on("email-received", on_email)
    try:
        await client.connect(
            workers.url,
            auth={"token": token("poller", "acme")},
            transports=["polling"],
            wait_timeout=20,
        )
        async with httpx.AsyncClient(base_url=workers.url, timeout=30) as http:
            for n in range(100):
                ack = await client.call("inbox", {"limit": 1}, timeout=20)
                assert ack["ok"] is True, ack
                if n % 5 == 0:
                    response = await publish(http, email("poller", "acme", f"note {n}"))
                    assert response.status_code == 202
        deadline = time.monotonic() + 30
        while len(notes) < 20:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), max(0.1, deadline - time.monotonic()))
        assert [note["subject"] for note in notes] == [f"note {n}" for n in range(0, 100, 5)]
        assert client.connected and client.transport() == "polling"
    finally:
        await client.disconnect()
        await session.close()


FORGED = [
    "1.AAAAAAAAAAAAAAAAAAAA",  # a pid that is no worker
    "99999999.AAAAAAAAAAAAAAAAAAAA",  # no such process
    "../evil.AAAAAAAAAAAAAAAAAAAA",  # a path
    "..%2Fevil.AAAAAAAAAAAAAAAAAAAA",  # a path, encoded
    "%2e%2e/evil",
    "0.AAAAAAAAAAAAAAAAAAAA",
    "12.AAAA",
]


def test_forged_session_prefixes_are_unknown_sessions_and_open_nothing(workers: Workers) -> None:
    directory = workers.sockets_dir()
    before = sorted(p.name for p in directory.iterdir())
    # What a forged path would name, were it read as one: nothing may connect to it.
    bait = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bait.bind(str(directory.parent / "evil.sock"))
    bait.listen(8)
    bait.setblocking(False)
    forged = [*FORGED, f"{workers.process.pid}.AAAAAAAAAAAAAAAAAAAA"]  # the supervisor
    try:
        for sid in forged:
            for method, body in (("GET", None), ("POST", b"3")):
                conn = workers.connect()
                status, answer = request(conn, method, f"&sid={sid}", body)
                conn.close()
                assert status == 400, (sid, method, answer)
                assert b"Invalid session" in answer, answer
            # A WebSocket upgrade naming it is refused too.
            with pytest.raises(Exception):  # noqa: B017 (the client's refusal type varies)
                asyncio.run(_websocket(workers.port, sid))
        with pytest.raises(BlockingIOError):
            bait.accept()
    finally:
        bait.close()
        (directory.parent / "evil.sock").unlink()
    assert sorted(p.name for p in directory.iterdir()) == before


async def _websocket(port: int, sid: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket&sid={sid}"
        ) as ws,
    ):
        await ws.send_str("2probe")
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.TEXT, message


def test_a_request_for_a_dead_workers_session_is_an_unknown_session(workers: Workers) -> None:
    """Last in the module: it kills a worker (the supervisor starts another)."""
    a, _ = sorted(workers.pids)
    on_a = workers.connection_on(a)
    sid = handshake(on_a)
    on_b = workers.connection_on(a, other=True)
    workers.kill_worker(a)
    status, answer = request(on_b, "GET", f"&sid={sid}")
    assert status == 400 and b"Invalid session" in answer, answer
    on_a.close()
    on_b.close()


async def test_one_process_prefixes_nothing_and_polls_unless_told_not_to(
    sqlite_url: str,
) -> None:
    """One process serves as before (session ids name no worker); TOCSIN_WEBSOCKET_ONLY
    stays an explicit choice, and a poll it refuses names it."""
    for websocket_only in (False, True):
        node = ServerThread(make_settings(sqlite_url, websocket_only=websocket_only))
        node.start()
        try:
            async with httpx.AsyncClient(base_url=node.url, timeout=10) as http:
                response = await http.get(ENGINE)
        finally:
            node.close()
        if websocket_only:
            assert response.status_code == 400
            assert "TOCSIN_WEBSOCKET_ONLY" in response.text, response.text
        else:
            assert response.status_code == 200
            sid = json.loads(response.text[1:])["sid"]
            assert "." not in sid and owner_of(sid) is None
