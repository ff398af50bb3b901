"""Replay after ``since``: exactly what was missed, in order, across restarts and races."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from tests.conftest import make_settings
from tests.helpers import Client, ServerThread, email, publish, source_ids, token
from tocsin.config import Settings


async def test_reconnect_with_since_gets_exactly_what_was_missed_then_live(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    await publish(http, email("alice", "firm-a", id="before"))
    await client.wait_notifications(1)
    await client.disconnect()
    since = client.since
    assert since is not None

    for i in range(50):
        response = await publish(http, email("alice", "firm-a", id=f"missed-{i}"))
        assert response.status_code == 202

    again = Client(server.url, "alice", "firm-a")
    await again.connect(since=since)
    try:
        replayed = await again.wait_notifications(50)
        assert source_ids(replayed) == [f"missed-{i}" for i in range(50)]
        await publish(http, email("alice", "firm-a", id="live"))
        received = await again.wait_notifications(51)
        assert source_ids(received)[-1] == "live"
        assert len(received) == 51
        cursors = [n["cursor"] for n in received]
        assert cursors == sorted(cursors)
    finally:
        await again.disconnect()


async def test_replay_across_a_server_restart_on_the_same_sqlite_file(settings: Settings) -> None:
    node = ServerThread(settings)
    node.start()
    try:
        async with httpx.AsyncClient(base_url=node.url) as http:
            client = Client(node.url, "alice", "firm-a")
            await client.connect()
            await publish(http, email("alice", "firm-a", id="first"))
            await client.wait_notifications(1)
            await client.disconnect()
            for i in range(50):
                await publish(http, email("alice", "firm-a", id=f"missed-{i}"))
        node.stop()
        node.start()  # a new process's worth of state, same file, same port
        async with httpx.AsyncClient(base_url=node.url) as http:
            again = Client(node.url, "alice", "firm-a")
            await again.connect(since=client.since)
            try:
                replayed = await again.wait_notifications(50)
                assert source_ids(replayed) == [f"missed-{i}" for i in range(50)]
                await publish(http, email("alice", "firm-a", id="after-restart"))
                live = await again.wait_notifications(51)
                assert live[-1]["sourceId"] == "after-restart" and len(live) == 51
            finally:
                await again.disconnect()
    finally:
        node.close()


async def test_replay_beyond_the_bound_sends_resync_and_the_newest(sqlite_url: str) -> None:
    node = ServerThread(make_settings(sqlite_url, replay_limit=10))
    node.start()
    try:
        async with httpx.AsyncClient(base_url=node.url) as http:
            for i in range(25):
                await publish(http, email("alice", "firm-a", id=f"n{i}"))
            client = Client(node.url, "alice", "firm-a")
            await client.connect(since=0)
            try:
                got = await client.wait_notifications(10)
                assert source_ids(got) == [f"n{i}" for i in range(15, 25)]
                [resync] = client.log.of("resync")
                assert resync == {"reason": "too_many", "since": 0, "before": got[0]["cursor"]}
                names = [name for name, _ in client.log.events]
                assert names.index("resync") < names.index("email-received")
            finally:
                await client.disconnect()
    finally:
        node.close()


async def inbox_between(
    http: httpx.AsyncClient, user: str, tenant: str, since: int, before: int
) -> list[tuple[str, str]]:
    """``(id, sourceId)`` of the inbox items with ``since < cursor < before``, oldest first."""
    headers = {"Authorization": f"Bearer {token(user, tenant)}"}
    ids: list[tuple[str, str]] = []
    cursor: int | None = before
    while cursor is not None:
        page = await http.get(f"/api/v1/inbox?limit=200&before={cursor}", headers=headers)
        body = page.json()
        fresh = [item for item in body["items"] if item["cursor"] > since]
        ids.extend((item["id"], item["sourceId"]) for item in fresh)
        cursor = body["nextBefore"] if len(fresh) == len(body["items"]) else None
    return ids[::-1]


async def test_invalid_since_is_refused(server: ServerThread) -> None:
    import socketio

    sio = socketio.AsyncClient(reconnection=False)
    errors: list[object] = []
    sio.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            server.url, auth={"token": token("a", "t"), "since": "-3"}, transports=["websocket"]
        )
    assert errors == [{"message": "Invalid since", "data": {"reason": "invalid_since"}}]


async def test_concurrent_publishers_while_a_client_keeps_reconnecting(store_url: str) -> None:
    node = ServerThread(make_settings(store_url))
    node.start()
    publishers, per_publisher = 8, 200
    expected = {f"p{p}-{i}" for p in range(publishers) for i in range(per_publisher)}
    try:
        async with httpx.AsyncClient(base_url=node.url, timeout=60) as http:
            done = asyncio.Event()

            newest = 0
            published: dict[str, str] = {}  # Tocsin's id -> the publisher's

            async def publisher(p: int) -> None:
                nonlocal newest
                for i in range(per_publisher):
                    response = await publish(http, email("alice", "firm-a", id=f"p{p}-{i}"))
                    assert response.status_code == 202, response.text
                    newest = max(newest, response.json()["cursor"])
                    published[response.json()["id"]] = f"p{p}-{i}"

            received: list[tuple[str, str]] = []  # (id, sourceId)
            sessions = resyncs = 0

            async def flapping_client() -> None:
                nonlocal sessions, resyncs
                since = 0
                while True:
                    client = Client(node.url, "alice", "firm-a")
                    await client.connect(since=since)
                    sessions += 1
                    final = done.is_set()
                    if final:
                        # Publishers are done: stay until the newest cursor has arrived.
                        await client.log.wait_for(
                            lambda _log, c=client, s=since: max(s, c.since or 0) >= newest,
                            timeout=30,
                        )
                    else:
                        # Take a few events, then drop the connection mid-stream; the
                        # publishers finishing ends the wait too (it is not a client event).
                        enough = asyncio.create_task(
                            client.log.wait_for(
                                lambda _log, c=client: len(c.notifications()) >= 25, timeout=30
                            )
                        )
                        finished = asyncio.create_task(done.wait())
                        await asyncio.wait({enough, finished}, return_when=asyncio.FIRST_COMPLETED)
                        finished.cancel()
                        if enough.done():
                            enough.result()  # raises if it timed out
                        else:
                            enough.cancel()
                    await client.disconnect()
                    for resync in client.log.of("resync"):
                        # The replay bound was hit: page the HTTP inbox, as the contract says.
                        resyncs += 1
                        received.extend(
                            await inbox_between(
                                http, "alice", "firm-a", resync["since"], resync["before"]
                            )
                        )
                    received.extend((n["id"], n["sourceId"]) for n in client.notifications())
                    since = client.since if client.since is not None else since
                    if final:
                        return

            watcher = asyncio.create_task(flapping_client())
            await asyncio.gather(*(publisher(p) for p in range(publishers)))
            done.set()
            await asyncio.wait_for(watcher, 60)
        duplicates = [i for i, n in Counter(received).items() if n > 1]
        assert duplicates == []
        assert {source for _, source in received} == expected
        assert dict(received) == published
        assert len(received) == publishers * per_publisher
        assert sessions > 3
        print(f"{sessions} sessions, {resyncs} resyncs, {len(received)} received")
    finally:
        node.close()
