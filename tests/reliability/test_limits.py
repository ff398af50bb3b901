"""Limits, as contracts: body size, publish rate, client-event rate, sockets per user, and
the slow-consumer backlog policy.

Each test sets its limit low through the documented setting and pushes past it:
- ``TOCSIN_MAX_BODY_BYTES``: a larger body → 413 JSON.
- ``TOCSIN_PUBLISH_RATE`` / ``TOCSIN_PUBLISH_BURST`` (per API key): beyond → 429
  ``{"error": "rate_limited"}`` with ``Retry-After`` in whole seconds ≥ 1; nothing stored.
- ``TOCSIN_CLIENT_EVENT_RATE`` (per socket): beyond → the ack is
  ``{"ok": false, "error": "rate_limited"}``; a socket that keeps going may be closed.
- ``TOCSIN_MAX_CONNECTIONS_PER_USER``: one more → ``connect_error`` "Too many connections",
  ``data.reason == "too_many_connections"``.
- ``TOCSIN_MAX_BACKLOG``: a socket that stops reading never delays the others, and is
  disconnected once that many packets wait for it; it reconnects with ``since`` and loses
  nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from tests.cluster import NodeProcess
from tests.conftest import make_settings
from tests.helpers import ADMIN_KEY, ServerThread, create_api_key, email, publish, token
from tests.reliability.rawsio import RawClient, ws_url
from tests.reliability.results import Result, pytest_command

HERE = "tests/reliability/test_limits.py"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _node(sqlite_url: str, **settings: Any) -> Iterator[ServerThread]:
    node = ServerThread(make_settings(sqlite_url, **settings))
    node.start()
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def small_body(sqlite_url: str) -> Iterator[ServerThread]:
    yield from _node(sqlite_url, max_body_bytes=2048)


@pytest.fixture
def slow_publishing(sqlite_url: str) -> Iterator[ServerThread]:
    yield from _node(sqlite_url, publish_rate=5, publish_burst=5)


@pytest.fixture
def few_events(sqlite_url: str) -> Iterator[ServerThread]:
    yield from _node(sqlite_url, client_event_rate=5, client_event_burst=5)


@pytest.fixture
def few_sockets(sqlite_url: str) -> Iterator[ServerThread]:
    yield from _node(sqlite_url, max_connections_per_user=3)


async def _inbox_sources(http: httpx.AsyncClient, user: str, tenant: str) -> list[str]:
    """The publishers' ids (``sourceId``) of the user's inbox items, newest first."""
    response = await http.get(
        "/api/v1/inbox",
        params={"limit": 200},
        headers={"Authorization": f"Bearer {token(user, tenant)}"},
    )
    assert response.status_code == 200, response.text
    return [item["sourceId"] for item in response.json()["items"]]


# -- body size ---------------------------------------------------------------------------


async def test_a_body_over_max_body_bytes_is_refused_with_413(small_body: ServerThread) -> None:
    big = email("alice", "firm-a", id="too-big", subject="x" * 3000)
    chunked_body = (
        f'{{"notifications": [{{"event": "email-received", "subject": "{"y" * 4000}"}}]}}'
    )

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the server must count while it reads.
        for start in range(0, len(chunked_body), 512):
            yield chunked_body[start : start + 512].encode()

    async with httpx.AsyncClient(base_url=small_body.url, timeout=30) as http:
        declared = await publish(http, big)
        streamed = await http.post("/api/v1/notifications/batch", content=chunks(), headers=ADMIN)
        small = await publish(http, email("alice", "firm-a", id="fits"))
        stored = await _inbox_sources(http, "alice", "firm-a")
    Result(
        key="limit-body-size",
        title="Maximum body size (`TOCSIN_MAX_BODY_BYTES`)",
        tried="a 3 KB body with Content-Length and a 4 KB chunked body against a 2 KB limit",
        times=2,
        command=pytest_command(f"{HERE}::test_a_body_over_max_body_bytes_is_refused_with_413"),
        leaked=stored.count("too-big"),
        passed=declared.status_code == streamed.status_code == 413,
        details={"declared": declared.status_code, "chunked": streamed.status_code},
    ).write()
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "payload_too_large"
    assert small.status_code == 202
    assert stored == ["fits"]


# -- publish rate ------------------------------------------------------------------------


async def test_publishing_beyond_the_rate_gets_429_with_retry_after(
    slow_publishing: ServerThread,
) -> None:
    """Burst 5, rate 5/s, per key: the 6th publish at once is refused and stores nothing."""
    tenant_key = await create_api_key(slow_publishing.settings, "firm-b")
    async with httpx.AsyncClient(base_url=slow_publishing.url, timeout=30) as http:
        answers = [await publish(http, email("alice", "firm-a", id=f"burst-{i}")) for i in range(8)]
        statuses = [r.status_code for r in answers]
        refused = [r for r in answers if r.status_code == 429]
        # Another key has its own budget.
        other = await publish(http, email("bob", "firm-b", id="other-key"), key=tenant_key)
        # Refused notifications were never stored.
        stored = await _inbox_sources(http, "alice", "firm-a")
        retry_after = [r.headers.get("Retry-After") for r in refused]
        # Honour Retry-After: the next publish goes through.
        if refused:
            await asyncio.sleep(int(refused[-1].headers.get("Retry-After", "1")))
        later = await publish(http, email("alice", "firm-a", id="after-wait"))
    leaked = [i for i in stored if i not in {f"burst-{n}" for n in range(5)}]
    Result(
        key="limit-publish-rate",
        title="Publish rate per API key (`TOCSIN_PUBLISH_RATE`, `…_BURST`)",
        tried="8 publishes at once with burst 5 and rate 5/s; a second key meanwhile; "
        "a retry after Retry-After",
        times=8,
        command=pytest_command(
            f"{HERE}::test_publishing_beyond_the_rate_gets_429_with_retry_after"
        ),
        leaked=len(leaked),
        passed=bool(refused) and other.status_code == 202 and later.status_code == 202,
        details={"statuses": statuses, "retry_after": retry_after},
    ).write()
    assert statuses[:5] == [202] * 5, statuses
    assert refused, f"no publish was refused: {statuses}"
    for response in refused:
        assert response.json()["error"] == "rate_limited", response.text
        assert re.fullmatch(r"[1-9][0-9]*", response.headers.get("Retry-After", "")), (
            response.headers
        )
    assert other.status_code == 202, other.text
    assert leaked == [], "a refused publish was stored"
    assert later.status_code == 202, later.text


async def test_a_batch_counts_each_notification_against_the_rate(
    slow_publishing: ServerThread,
) -> None:
    async with httpx.AsyncClient(base_url=slow_publishing.url, timeout=30) as http:
        batch = [email("alice", "firm-a", id=f"b-{i}") for i in range(4)]
        first = await http.post(
            "/api/v1/notifications/batch", json={"notifications": batch}, headers=ADMIN
        )
        second = await http.post(
            "/api/v1/notifications/batch",
            json={"notifications": [email("alice", "firm-a", id=f"c-{i}") for i in range(4)]},
            headers=ADMIN,
        )
        stored = await _inbox_sources(http, "alice", "firm-a")
    assert first.status_code == 200, first.text
    assert second.status_code == 429, second.text
    assert second.json()["error"] == "rate_limited"
    assert int(second.headers["Retry-After"]) >= 1
    assert sorted(stored) == sorted(f"b-{i}" for i in range(4))


async def test_a_batch_larger_than_the_burst_is_not_refused_forever(
    slow_publishing: ServerThread,
) -> None:
    """A batch bigger than ``TOCSIN_PUBLISH_BURST`` can never fit in the bucket.

    Answering 429 with a ``Retry-After`` promises that waiting helps; the SDK retries 429, so
    a promise that cannot be kept loops forever. Either honouring ``Retry-After`` lets the
    batch through, or the refusal is final (not 429) and says why.
    """
    batch = {"notifications": [email("alice", "firm-a", id=f"big-{i}") for i in range(10)]}
    async with httpx.AsyncClient(base_url=slow_publishing.url, timeout=30) as http:
        answers: list[httpx.Response] = []
        for _ in range(3):
            response = await http.post("/api/v1/notifications/batch", json=batch, headers=ADMIN)
            answers.append(response)
            if response.status_code != 429:
                break
            await asyncio.sleep(int(response.headers["Retry-After"]))
    statuses = [r.status_code for r in answers]
    Result(
        key="limit-batch-over-burst",
        title="A batch larger than the publish burst",
        tried="a 10-notification batch against burst 5, retried after each Retry-After",
        times=len(answers),
        command=pytest_command(
            f"{HERE}::test_a_batch_larger_than_the_burst_is_not_refused_forever"
        ),
        passed=statuses[-1] != 429,
        details={
            "statuses": statuses,
            "retry_after": [r.headers.get("Retry-After") for r in answers],
        },
    ).write()
    assert statuses[-1] != 429, (
        f"429 with Retry-After three times in a row ({statuses}): honouring Retry-After never "
        "helps a batch larger than the burst, and a client that retries 429 loops forever"
    )
    final = answers[-1]
    assert final.status_code in (200, 413, 422), final.text
    if final.status_code != 200:
        assert final.json()["error"] != "rate_limited"


# -- client-event rate ---------------------------------------------------------------------


async def test_client_events_beyond_the_rate_are_acked_rate_limited(
    few_events: ServerThread,
) -> None:
    """Rate 5/s, burst 5, per socket: 20 events at once → some acks are ``rate_limited``."""
    flooder = RawClient(ws_url(few_events.url))
    calm = RawClient(ws_url(few_events.url))
    await flooder.connect({"token": token("alice", "firm-a")})
    await calm.connect({"token": token("alice", "firm-a")})
    try:
        ids = [await flooder.emit("mark-read", {"ids": []}) or 0 for _ in range(20)]
        await flooder.wait(
            lambda: all(i in flooder.acks for i in ids) or flooder.closed.is_set(),
            15,
            "20 acks",
        )
        acks = [flooder.acks.get(i) for i in ids]
        limited = [a for a in acks if isinstance(a, dict) and a.get("error") == "rate_limited"]
        accepted = [a for a in acks if isinstance(a, dict) and a.get("ok") is True]
        # The same user's other socket has its own budget.
        calm_ack = await calm.call("mark-read", {"ids": []})
        # After a pause longer than 1/rate, the flooder may speak again.
        await asyncio.sleep(0.5)
        again = None if flooder.closed.is_set() else await flooder.call("inbox", {"limit": 1})
    finally:
        await flooder.close()
        await calm.close()
    Result(
        key="limit-client-event-rate",
        title="Client events per socket (`TOCSIN_CLIENT_EVENT_RATE`)",
        tried="20 mark-read at once with rate 5/s, burst 5; the same user's other socket",
        times=20,
        command=pytest_command(
            f"{HERE}::test_client_events_beyond_the_rate_are_acked_rate_limited"
        ),
        passed=bool(limited) and len(accepted) <= 7,
        details={"accepted": len(accepted), "rate_limited": len(limited)},
    ).write()
    assert limited, f"no event was refused: {acks}"
    for ack in limited:
        assert ack["ok"] is False
    assert len(accepted) <= 7, f"{len(accepted)} of 20 accepted with a burst of 5"
    assert calm_ack["ok"] is True, calm_ack
    assert again is not None and again["ok"] is True, again


async def test_a_socket_that_keeps_flooding_at_ten_times_the_rate_is_closed(
    few_events: ServerThread,
) -> None:
    flooder = RawClient(ws_url(few_events.url))
    await flooder.connect({"token": token("alice", "firm-a")})
    try:
        began = time.monotonic()
        # 50 events a second (10x the rate) for up to 5 s, until the server hangs up.
        while not flooder.disconnected and time.monotonic() - began < 5:
            with contextlib.suppress(Exception):
                await flooder.emit("mark-read", {"ids": []})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flooder.closed.wait(), 0.02)
        disconnected = flooder.disconnected
    finally:
        await flooder.close()
    assert disconnected, "a socket flooding at 10x the rate for 5 s was never disconnected"


# -- connections per user --------------------------------------------------------------------


async def _try_connect(url: str, user: str, tenant: str) -> tuple[socketio.AsyncClient, list[Any]]:
    sio = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    sio.on("connect_error", errors.append)
    try:
        await sio.connect(
            url, auth={"token": token(user, tenant)}, transports=["websocket"], wait_timeout=10
        )
    except socketio.exceptions.ConnectionError as exc:
        if not errors:
            errors.append(repr(exc))
    return sio, errors


async def test_one_connection_more_than_the_limit_is_refused(few_sockets: ServerThread) -> None:
    clients: list[socketio.AsyncClient] = []
    try:
        for _ in range(3):
            sio, errors = await _try_connect(few_sockets.url, "alice", "firm-a")
            clients.append(sio)
            assert sio.connected, errors
        extra, errors = await _try_connect(few_sockets.url, "alice", "firm-a")
        clients.append(extra)
        extra_connected = extra.connected
        # The identity is the pair: the same user id in another tenant, and another user of
        # the same tenant, are not counted against alice@firm-a.
        namesake, namesake_errors = await _try_connect(few_sockets.url, "alice", "firm-b")
        colleague, colleague_errors = await _try_connect(few_sockets.url, "bob", "firm-a")
        clients += [namesake, colleague]
        others_connected = namesake.connected and colleague.connected
        # A slot freed is a slot available.
        await clients[0].disconnect()
        await _wait_until(lambda: len(_registered(few_sockets, "firm-a", "alice")) == 2)
        again, again_errors = await _try_connect(few_sockets.url, "alice", "firm-a")
        clients.append(again)
        again_connected = again.connected
    finally:
        for sio in clients:
            await sio.disconnect()
    Result(
        key="limit-connections-per-user",
        title="Sockets per user (`TOCSIN_MAX_CONNECTIONS_PER_USER`)",
        tried="a 4th socket with a limit of 3; the same user id in another tenant; "
        "a slot freed and reused",
        times=1,
        command=pytest_command(f"{HERE}::test_one_connection_more_than_the_limit_is_refused"),
        passed=not extra_connected and others_connected and again_connected,
        details={"refusal": errors},
    ).write()
    assert not extra_connected
    assert errors == [
        {"message": "Too many connections", "data": {"reason": "too_many_connections"}}
    ], errors
    assert others_connected, (namesake_errors, colleague_errors)
    assert again_connected, again_errors


async def test_simultaneous_connections_cannot_overshoot_the_limit(
    few_sockets: ServerThread,
) -> None:
    attempts = await asyncio.gather(
        *(_try_connect(few_sockets.url, "alice", "firm-a") for _ in range(12))
    )
    try:
        connected = [sio for sio, _ in attempts if sio.connected]
        registered = len(_registered(few_sockets, "firm-a", "alice"))
    finally:
        for sio, _ in attempts:
            await sio.disconnect()
    assert len(connected) == 3 and registered == 3, (len(connected), registered)


def _registered(server: ServerThread, tenant: str, user: str) -> list[Any]:
    dispatcher = server.app.other_asgi_app.state.dispatcher
    connections: list[Any] = dispatcher.registry.of_user(tenant, user)
    return connections


async def _wait_until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# -- slow consumers -----------------------------------------------------------------------

SLOW_TOTAL = 5000
SLOW_BATCH = 100
BACKLOG = 100


@pytest.fixture
def backlog_node(tmp_path: Path) -> Iterator[NodeProcess]:
    """A real node process (so that its event loop is not shared with the test's clients)."""
    node = NodeProcess(
        f"sqlite+aiosqlite:///{tmp_path / 'slow.db'}",
        None,
        TOCSIN_MAX_BACKLOG=str(BACKLOG),
        TOCSIN_REPLAY_LIMIT=str(SLOW_TOTAL * 2),
        TOCSIN_PUBLISH_RATE="1000000",
        TOCSIN_PUBLISH_BURST="1000000",
    )
    node.start()
    try:
        yield node
    finally:
        node.close()


async def test_a_slow_consumer_never_delays_others_and_is_dropped_past_the_backlog(
    backlog_node: NodeProcess,
) -> None:
    url = ws_url(backlog_node.url)
    fast = RawClient(url)
    await fast.connect({"token": token("fast", "firm-a"), "since": 0})
    # Stops reading right after its handshake: a tiny receive window and no reader task.
    slow = RawClient(url, max_queue=1, rcvbuf=4096)
    await slow.open()
    await slow.handshake({"token": token("slow", "firm-a"), "since": 0})
    message = "m" * 4000  # 5,000 x 4 KB: far more than the kernel's socket buffers hold
    committed: dict[str, float] = {}
    expected: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=backlog_node.url, timeout=60) as http:
            for start in range(0, SLOW_TOTAL, SLOW_BATCH):
                batch = [
                    {
                        "event": "system-notification",
                        "title": "load",
                        "message": message,
                        "type": "info",
                        "tenantId": "firm-a",
                        "id": f"s{n}",
                    }
                    for n in range(start, start + SLOW_BATCH)
                ]
                response = await http.post(
                    "/api/v1/notifications/batch", json={"notifications": batch}, headers=ADMIN
                )
                assert response.status_code == 200, response.text
                now = time.monotonic()
                for result in response.json()["results"]:
                    # Tocsin's id, the one every socket receives.
                    committed[result["id"]] = now
                    expected.append(result["id"])
                # A steady publisher (pacing, not synchronisation): 2,000 notifications/s.
                await asyncio.sleep(SLOW_BATCH / 2000)
            await fast.wait(
                lambda: len(fast.notifications()) >= SLOW_TOTAL, 60, "the fast client's copy"
            )
            dropped = await _metric_at_least(
                http, 'tocsin_errors_total{where="slow_consumer"}', 1, timeout=10
            )
        lags = sorted(max(0.0, e.at - committed[e.data["id"]]) for e in fast.notifications())
        # Now read what the slow client was sent before it was dropped, then the close.
        slow.start()
        await slow.wait(lambda: slow.disconnected, 30, "the slow client's disconnection")
        before = [e.data["id"] for e in slow.notifications()]
        back = RawClient(url)
        await back.connect({"token": token("slow", "firm-a"), "since": slow.since or 0})
        await back.wait(
            lambda: len(before) + len(back.notifications()) >= SLOW_TOTAL, 60, "the replay"
        )
        received = before + [e.data["id"] for e in back.notifications()]
        await back.close()
    finally:
        await fast.close()
        await slow.close()
    fast_ids = [e.data["id"] for e in fast.notifications()]
    p95 = lags[int(len(lags) * 0.95)]
    counts = Counter(received)
    Result(
        key="limit-slow-consumer",
        title="Slow consumer (`TOCSIN_MAX_BACKLOG`)",
        tried=f"one socket stops reading while {SLOW_TOTAL} x 4 KB notifications are published "
        f"to its tenant (backlog limit {BACKLOG}); another socket of the tenant reads",
        times=1,
        command=pytest_command(
            f"{HERE}::test_a_slow_consumer_never_delays_others_and_is_dropped_past_the_backlog"
        ),
        lost=len(set(expected) - set(received)),
        duplicated=sum(n - 1 for n in counts.values() if n > 1),
        passed=dropped and p95 <= 1.0,
        details={
            "fast_lag_p50_s": round(statistics.median(lags), 3),
            "fast_lag_p95_s": round(p95, 3),
            "fast_lag_max_s": round(lags[-1], 3),
            "slow_received_before_drop": len(before),
            "slow_dropped": dropped,
        },
    ).write()
    print(
        f"\nslow consumer: fast lag p50 {statistics.median(lags):.3f}s p95 {p95:.3f}s "
        f"max {lags[-1]:.3f}s; slow got {len(before)} before the drop, dropped={dropped}"
    )
    assert fast_ids == expected
    assert p95 <= 1.0, f"the slow socket delayed the fast one: p95 {p95:.2f}s, max {lags[-1]:.2f}s"
    assert dropped, "the slow socket was never disconnected"
    assert len(before) < SLOW_TOTAL
    assert received == expected, (
        f"lost {len(set(expected) - set(received))}, "
        f"duplicated {sum(n - 1 for n in counts.values() if n > 1)}"
    )


async def _metric_at_least(
    http: httpx.AsyncClient, sample: str, value: float, timeout: float
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = (await http.get("/metrics")).text
        for line in text.splitlines():
            if line.startswith(sample + " ") and float(line.split()[-1]) >= value:
                return True
        await asyncio.sleep(0.1)
    return False
