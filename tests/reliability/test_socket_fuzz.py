"""Socket fuzz: what a hostile client can send down a raw WebSocket.

Each malformed Engine.IO or Socket.IO packet, oversized message or flood is sent on its own
connection to a real node process, while a well-behaved client of another tenant receives a
steady stream of notifications. The contract: the bad packet is refused (the same connection
still answers a well-formed request) or that connection is closed; the node stays up; the
bystander gets every notification, once, in order, without being disconnected; no socket is
left registered once its client is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster import NodeProcess
from tests.helpers import token
from tests.reliability.bystander import Bystander
from tests.reliability.rawsio import RawClient, Refused, ws_url
from tests.reliability.results import Result, pytest_command

HERE = "tests/reliability/test_socket_fuzz.py"
MAX_HTTP_BUFFER = 1_000_000  # python-engineio's max_http_buffer_size, which Tocsin keeps
AUTH = {"token": token("mallory", "firm-evil")}


@dataclass(frozen=True)
class Case:
    """Frames sent after the Socket.IO CONNECT (or before it, when ``before_connect``)."""

    name: str
    frames: tuple[str | bytes, ...]
    before_connect: bool = False


def _event(body: str, ack: str = "") -> str:
    return f"42{ack}{body}"


CASES: list[Case] = [
    # Engine.IO framing
    Case("empty frame", ("",)),
    Case("unknown Engine.IO type", ("9hello",)),
    Case("Engine.IO type not a digit", ("x",)),
    Case("binary garbage", (b"\xff\x00\x01\x02",)),
    Case("MESSAGE without a Socket.IO packet", ("4",)),
    Case("UPGRADE on an upgraded socket", ("5",)),
    Case("PONG never asked for", ("3probe",)),
    # Socket.IO packets
    Case("event: not JSON", (_event("not json"),)),
    Case("event: truncated JSON", (_event('["mark-read", {"ids": ['),)),
    Case("unknown Socket.IO type", ("49[1]",)),
    Case("Socket.IO type not a digit", ("4z",)),
    Case("event: an object, not a list", (_event('{"a": 1}'),)),
    Case("event: empty list", (_event("[]"),)),
    Case("event: name is a number", (_event('[123, {"ids": []}]'),)),
    Case("event: name is null", (_event("[null]"),)),
    Case("event: unknown name", (_event('["join", {"room": "tenant:firm-a"}]'),)),
    Case("event: payload a string", (_event('["mark-read", "all"]', "7"),)),
    Case("event: ids of the wrong type", (_event('["mark-read", {"ids": {"$gt": ""}}]', "7"),)),
    Case("event: 400-digit ack id", (_event('["mark-read", {"ids": []}]', "9" * 400),)),
    Case("event: 5,000-digit number", (_event('["inbox", {"limit": ' + "9" * 5000 + "}]", "7"),)),
    Case(
        "event: NaN and Infinity", (_event('["inbox", {"limit": NaN, "before": Infinity}]', "7"),)
    ),
    Case("inbox: before beyond 64 bits", (_event('["inbox", {"before": ' + "9" * 30 + "}]", "7"),)),
    Case("inbox: negative before", (_event('["inbox", {"before": -5}]', "7"),)),
    Case("mark-all-read: upTo beyond 64 bits", (_event('["mark-all-read", {"upTo": 1e30}]', "7"),)),
    Case("clear: upTo a string", (_event('["clear", {"upTo": "drop table"}]', "7"),)),
    Case(
        "mark-read: 100,000 ids",
        (_event(json.dumps(["mark-read", {"ids": ["x"] * 100_000}]), "7"),),
    ),
    Case(
        "event: 100,000 nested lists",
        (_event('["mark-read", ' + "[" * 100_000 + "]" * 100_000 + "]"),),
    ),
    Case("ACK for nothing", ("43999[1]",)),
    Case("client sends CONNECT_ERROR", ('44{"message": "x"}',)),
    Case("second CONNECT on the same namespace", ("40" + json.dumps(AUTH),)),
    Case("CONNECT to another namespace", ("40/admin," + json.dumps(AUTH),)),
    Case("event to a namespace never joined", ('42/admin,["mark-read", {"ids": []}]',)),
    # Binary attachments that lie about their count or their place
    Case("attachment count 1, none sent", ('451-["mark-read", {"_placeholder": true, "num": 0}]',)),
    Case(
        "placeholder beyond the attachments",
        ('451-["mark-read", {"_placeholder": true, "num": 7}]', b"\x01\x02"),
    ),
    Case("attachment count negative", ('45-1-["mark-read", {}]',)),
    Case("binary ACK for nothing", ('461-999[{"_placeholder": true, "num": 0}]', b"\x00")),
    # Before authenticating
    Case("event before CONNECT", (_event('["mark-read", {"ids": []}]'),), before_connect=True),
    Case("CONNECT auth is a list", ("40[1, 2]",), before_connect=True),
    Case("CONNECT auth token is a number", ('40{"token": 12345}',), before_connect=True),
    Case("CONNECT auth is not JSON", ("40{token",), before_connect=True),
    Case(
        "binary packet before CONNECT",
        ('451-["x", {"_placeholder": true, "num": 0}]', b"\x00"),
        before_connect=True,
    ),
    # Oversized
    Case(
        "text message over max_http_buffer_size",
        (_event('["inbox", "' + "a" * (MAX_HTTP_BUFFER + 10) + '"]'),),
    ),
    Case("binary message over max_http_buffer_size", (b"\x04" + b"b" * (MAX_HTTP_BUFFER + 10),)),
    Case(
        "message over the WebSocket limit (16 MiB)",
        (_event('["inbox", "' + "c" * (17 * 2**20) + '"]'),),
    ),
]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One real node process for the module (SQLite, in-process bus)."""
    folder = tmp_path_factory.mktemp("socket-fuzz")
    process = NodeProcess(f"sqlite+aiosqlite:///{folder / 'fuzz.db'}", None)
    process.start()
    try:
        yield process
    finally:
        process.close()


async def _probe(client: RawClient, timeout: float) -> str:
    """'refused' if the connection still answers a well-formed request, else 'closed'.

    Two probes: a frame swallowed as the attachment a lying packet announced is not an
    answer, but the next one must be.
    """
    pending: list[int] = []
    for _ in range(2):
        if client.disconnected:
            break
        with contextlib.suppress(Exception):
            ack = await client.emit("inbox", {"limit": 1})
            if ack is not None:
                pending.append(ack)
    with contextlib.suppress(AssertionError):
        await client.wait(
            lambda: client.disconnected or any(i in client.acks for i in pending),
            timeout,
            "a probe's ack",
        )
    if any(i in client.acks and isinstance(client.acks[i], dict) for i in pending):
        ok = [client.acks[i] for i in pending if i in client.acks]
        return "refused" if any(a.get("ok") is True for a in ok) else "answered-error"
    return "closed" if client.disconnected else "ignored"


async def _attack(url: str, case: Case) -> str:
    client = RawClient(ws_url(url), max_size=None)
    try:
        await client.open()
        if case.before_connect:
            for frame in case.frames:
                await client.send(frame)
            try:
                await client.handshake(AUTH)
            except Refused:
                return "closed"
            except Exception:
                return "closed"
        else:
            await client.handshake(AUTH)
            client.start()
            for frame in case.frames:
                await client.send(frame)
        if not client._task:
            client.start()
        return await _probe(client, 5)
    except Exception:
        # The server closed the connection while we were still sending: that is a refusal.
        return "closed"
    finally:
        await client.close()


async def _connections(http: httpx.AsyncClient) -> float:
    text = (await http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("tocsin_connections "):
            return float(line.split()[-1])
    raise AssertionError("tocsin_connections missing from /metrics")


async def _settle_connections(http: httpx.AsyncClient, expected: float, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    value = await _connections(http)
    while value != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        value = await _connections(http)
    return value


async def test_malformed_packets_are_refused_or_close_that_connection(node: NodeProcess) -> None:
    outcomes: dict[str, str] = {}
    async with Bystander(node.url) as bystander:
        for case in CASES:
            outcomes[case.name] = await _attack(node.url, case)
    calm = bystander.report()
    async with httpx.AsyncClient(base_url=node.url, timeout=10) as http:
        health = (await http.get("/healthz")).status_code
        # Every attacker has closed its connection: the server must have let go of them all
        # (not 45 s later, when Engine.IO's ping times out).
        left = await _settle_connections(http, 0, timeout=10)
    alive = node.process is not None and node.process.poll() is None
    log = node.stderr()
    bad = {name: o for name, o in outcomes.items() if o not in ("refused", "closed")}
    Result(
        key="socket-fuzz-malformed",
        title="Malformed Engine.IO / Socket.IO packets, oversized messages",
        tried=f"{len(CASES)} kinds of bad packet, each on its own authenticated WebSocket, "
        "while another tenant's client receives a steady stream",
        times=len(CASES),
        command=pytest_command(
            f"{HERE}::test_malformed_packets_are_refused_or_close_that_connection"
        ),
        lost=calm["lost"],
        duplicated=calm["duplicated"],
        leaked=0,
        passed=not bad and alive and health == 200 and left == 0,
        details={
            "outcomes": outcomes,
            "bystander": calm,
            "sockets_left_registered": left,
            "unhandled_exceptions_logged": log.count("Traceback"),
        },
    ).write()
    print(f"\nsocket fuzz outcomes: {json.dumps(outcomes, indent=1)}\nbystander: {calm}")
    assert alive and health == 200, log
    assert bad == {}, f"neither refused nor closed: {bad}"
    assert calm["lost"] == calm["duplicated"] == 0 and calm["in_order"], calm
    assert calm["publish_failures"] == [] and calm["disconnects"] == 0, calm
    assert left == 0, f"{left} sockets still registered after every attacker left"


async def test_a_socket_killed_by_a_bad_frame_is_forgotten_at_once(tmp_path: Path) -> None:
    """An empty frame, or one whose Engine.IO type is not a digit, crashes python-engineio's
    own reader, which then leaves the socket registered (in ``clients-count``, in
    ``tocsin_connections``, against ``TOCSIN_MAX_CONNECTIONS_PER_USER``) until its ping
    times out, 45 s later. Tocsin's guarded transport closes it at once.
    """
    node = NodeProcess(f"sqlite+aiosqlite:///{tmp_path / 'ghosts.db'}", None)
    node.start()
    try:
        for frame in ("", "x", "", "x", ""):
            client = RawClient(ws_url(node.url))
            await client.connect(AUTH)
            await client.send(frame)
            await client.wait(lambda c=client: c.disconnected, 10, "the server to hang up")
            await client.close()
        async with httpx.AsyncClient(base_url=node.url, timeout=10) as http:
            left = await _settle_connections(http, 0, timeout=5)
    finally:
        node.close()
    assert left == 0, f"{left:g} of 5 closed sockets are still registered 5 s later"


async def test_internal_errors_are_not_what_bad_input_gets(node: NodeProcess) -> None:
    """Out-of-range cursors are the client's mistake: a validation error, not a crash.

    ``since`` and ``before`` beyond 64 bits reach the database as they are today: the
    handshake is accepted and its replay fails (``resync`` ``replay_failed``), and
    ``inbox`` answers ``internal_error`` after logging a traceback.
    """
    client = RawClient(ws_url(node.url))
    refusal: Any = None
    try:
        await client.open()
        try:
            await client.handshake({**AUTH, "since": 10**30})
        except Refused as exc:
            refusal = exc.payload
        else:
            client.start()
            await client.wait(
                lambda: any(e.name in ("resync", "clients-count") for e in client.events),
                5,
                "the first event",
            )
    finally:
        await client.close()
    inbox = RawClient(ws_url(node.url))
    try:
        await inbox.connect(AUTH)
        answer = await inbox.call("inbox", {"before": 10**30})
    finally:
        await inbox.close()
    assert refusal == {"message": "Invalid since", "data": {"reason": "invalid_since"}}, (
        f"since=10**30 was accepted; events: {client.events}"
    )
    assert answer.get("error") == "validation_error", answer


async def test_a_lying_attachment_count_cannot_grow_server_memory(node: NodeProcess) -> None:
    """A BINARY_EVENT announcing a billion attachments, then 1 MB frames, one after another.

    python-socketio would keep every frame until the count is reached; Tocsin uses no binary
    events, so its guarded transport closes the connection at the binary packet.
    """
    assert node.process is not None
    pid = node.process.pid
    before = _rss_kib(pid)
    client = RawClient(ws_url(node.url), max_size=None)
    sent = 0
    frame = os.urandom(900_000)
    try:
        await client.connect(AUTH)
        await client.send('45999999999-["mark-read", {"_placeholder": true, "num": 0}]')
        for _ in range(80):
            if client.disconnected:
                break
            try:
                await client.send(frame)
            except Exception:
                break
            sent += 1
        # Wait for the server to have read what was sent: a probe on another connection.
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            assert (await http.get("/healthz")).status_code == 200
        grown_mib = (_rss_kib(pid) - before) / 1024
        closed = client.disconnected
    finally:
        await client.close()
    Result(
        key="socket-fuzz-attachment-lie",
        title="Binary attachment count that lies (memory)",
        tried="`45999999999-[…]` then up to 80 binary frames of 900 KB on one socket",
        times=sent,
        command=pytest_command(f"{HERE}::test_a_lying_attachment_count_cannot_grow_server_memory"),
        passed=closed or grown_mib < 32,
        details={"frames_accepted": sent, "rss_growth_mib": round(grown_mib, 1), "closed": closed},
    ).write()
    print(
        f"\nattachment lie: {sent} frames accepted, server RSS +{grown_mib:.0f} MiB, "
        f"closed={closed}"
    )
    assert closed or grown_mib < 32, (
        f"the server kept {grown_mib:.0f} MiB of attachments that will never complete"
    )


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


FLOOD = 10_000


async def test_a_flood_of_client_events_is_refused_and_hurts_no_one_else(
    node: NodeProcess,
) -> None:
    """10,000 ``mark-read`` in about a second on one socket (the default limits apply)."""
    flooder = RawClient(ws_url(node.url), max_queue=None)
    async with Bystander(node.url) as bystander:
        await flooder.connect(AUTH)
        began = time.monotonic()
        sent = 0
        try:
            for n in range(FLOOD):
                await flooder.send(f'42{n}["mark-read", {{"ids": ["x{n}"]}}]')
                sent += 1
        except Exception:
            pass  # closed by the server mid-flood: allowed
        took = time.monotonic() - began
        with contextlib.suppress(AssertionError):
            await flooder.wait(
                lambda: flooder.disconnected or len(flooder.acks) >= sent, 30, "the acks"
            )
        acks = list(flooder.acks.values())
        await flooder.close()
    calm = bystander.report()
    accepted = sum(1 for a in acks if isinstance(a, dict) and a.get("ok") is True)
    limited = sum(1 for a in acks if isinstance(a, dict) and a.get("error") == "rate_limited")
    Result(
        key="socket-fuzz-event-flood",
        title="Flood of client events",
        tried=f"{FLOOD:,} `mark-read` on one socket in about {took:.1f} s (default limits), "
        "while another tenant's client receives a steady stream",
        times=sent,
        command=pytest_command(
            f"{HERE}::test_a_flood_of_client_events_is_refused_and_hurts_no_one_else"
        ),
        lost=calm["lost"],
        duplicated=calm["duplicated"],
        passed=accepted < 200 and calm["max_lag_s"] < 2.0 and calm["lost"] == 0,
        details={
            "sent": sent,
            "seconds": round(took, 2),
            "accepted": accepted,
            "rate_limited": limited,
            "flooder_disconnected": flooder.disconnected,
            "bystander": calm,
        },
    ).write()
    print(
        f"\nflood: sent {sent} in {took:.2f}s, {accepted} accepted, {limited} rate_limited, "
        f"disconnected={flooder.disconnected}; bystander {calm}"
    )
    assert accepted < 200, f"{accepted} of {sent} flood events were processed"
    assert calm["lost"] == calm["duplicated"] == 0 and calm["in_order"], calm
    assert calm["publish_failures"] == [] and calm["disconnects"] == 0, calm
    assert calm["max_lag_s"] < 2.0, f"the bystander waited {calm['max_lag_s']} s"
