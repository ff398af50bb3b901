"""Issue 17, Must show: a notification snoozed until T comes back once at T, on two nodes
sharing PostgreSQL, after a restart between the snooze and T, and when the node that
claimed the wake-up is killed while running it (DESIGN §7 snooze, §8 exactly once).

Real ``tocsin serve`` processes, real Socket.IO clients. T is a few seconds ahead
(``TOCSIN_SNOOZE_MIN_SECONDS=1``); each test prints how late after T the due event came.
"No second ``notification-due``" is shown by a marker notification published after the
first: delivery is in order, so a second one sent before it would have arrived before it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.cluster import NodeProcess, RedisProcess
from tests.helpers import Client, EventLog, email, ids_by_source, metric_sample, publish, token
from tocsin.store.base import JobRecord
from tocsin.store.sql import SqlStore

TENANT = "firm-a"
USER = "alice"
SNOOZE_ENV = {"TOCSIN_SNOOZE_MIN_SECONDS": "1"}
DUE = "notification-due"
DUE_SAMPLE = "tocsin_snoozes_due_total"


def iso(moment: datetime) -> str:
    """``moment`` as the clients send it: ISO 8601, milliseconds, ``Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ahead(seconds: float) -> datetime:
    """The time ``seconds`` from now, to the millisecond (what the server keeps)."""
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def timed_dues(client: Client) -> list[float]:
    """Wall-clock arrival times of ``client``'s ``notification-due`` events (which still
    go to its log, as every other event does)."""
    arrivals: list[float] = []

    async def on_due(data: Any = None) -> None:
        arrivals.append(time.time())
        client.log.add(DUE, data)

    client.sio.on(DUE, on_due)
    return arrivals


def dues(client: Client) -> list[dict[str, Any]]:
    return list(client.log.of(DUE))


def has_dues(client: Client, count: int) -> Callable[[EventLog], bool]:
    return lambda _log: len(dues(client)) >= count


def has_marker(client: Client) -> Callable[[EventLog], bool]:
    return lambda _log: "marker" in [n.get("sourceId") for n in client.notifications()]


async def connect(url: str) -> tuple[Client, list[float]]:
    client = Client(url, USER, TENANT)
    arrivals = timed_dues(client)
    await client.connect()
    return client, arrivals


async def publish_emails(url: str, client: Client, names: list[str]) -> dict[str, str]:
    """Publish one e-mail notification per name; Tocsin's ids by name, once ``client`` has
    them all."""
    before = len(client.notifications())
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for name in names:
            response = await publish(http, email(USER, TENANT, id=name))
            assert response.status_code == 202, response.text
    await client.wait_notifications(before + len(names))
    known = ids_by_source(client.notifications())
    return {name: known[name] for name in names}


async def snooze(client: Client, ids: list[str], until: datetime) -> None:
    ack = await client.sio.call("snooze", {"ids": ids, "until": iso(until)}, timeout=10)
    assert ack["ok"], ack
    assert sorted(ack["ids"]) == sorted(ids)
    assert ack["until"] == iso(until)
    assert ack["unreadCount"] == 0


async def inbox(url: str, **params: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        answer = await http.get(
            "/api/v1/inbox",
            params=params,
            headers={"Authorization": f"Bearer {token(USER, TENANT)}"},
        )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def jobs_when(
    store: SqlStore, check: Callable[[list[JobRecord]], bool], timeout: float = 15.0
) -> list[JobRecord]:
    """The snooze jobs once ``check`` holds (the job row is finished just after the due
    event is sent: this waits for that write, polling the database)."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = await store.list_jobs(kind="snooze")
        if check(jobs):
            return jobs
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; snooze jobs: {jobs}")
        await asyncio.sleep(0.05)


def all_done(count: int) -> Callable[[list[JobRecord]], bool]:
    return lambda jobs: len(jobs) == count and all(j.status != "pending" for j in jobs)


async def marker_proves_no_second_due(
    url: str, clients: list[Client], expected: dict[str, int]
) -> None:
    """Publish a marker; once every client has it, each has exactly the dues it had."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await publish(http, email(USER, TENANT, id="marker"))
        assert response.status_code == 202, response.text
    for client in clients:
        await client.log.wait_for(has_marker(client), timeout=10)
        assert Counter(d["id"] for d in dues(client)) == expected, dues(client)


def check_due_item(item: dict[str, Any], wanted: dict[str, str]) -> None:
    assert item["id"] in wanted.values()
    assert item["event"] == "email-received"
    assert (item["read"], item["seen"], item["archived"]) == (False, False, False)
    assert item["snoozedUntil"] is None
    assert isinstance(item["unreadCount"], int) and item["unreadCount"] >= 1


def report(what: str, until: datetime, arrivals: list[float]) -> list[float]:
    lateness = [round(at - until.timestamp(), 3) for at in arrivals]
    print(f"\n{what}: notification-due arrived {lateness} s after T ({iso(until)})")
    return lateness


def sql_url(postgres_url: str) -> str:
    return postgres_url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture
async def two_nodes(postgres_url: str, redis: RedisProcess) -> AsyncIterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    try:
        for _ in range(2):
            node = NodeProcess(
                postgres_url,
                redis.url,
                TOCSIN_BUS_HEARTBEAT_INTERVAL="0.3",
                TOCSIN_JOBS_LEASE="2",
                **SNOOZE_ENV,
            )
            await asyncio.to_thread(node.start)
            started.append(node)
        yield started
    finally:
        for node in started:
            node.close()


@pytest.fixture
async def jobs_store(store_url: str) -> AsyncIterator[SqlStore]:
    """The test's own view of the nodes' database (opened once a node has migrated it)."""
    store = SqlStore(store_url)
    try:
        yield store
    finally:
        await store.close()


async def test_two_nodes_wake_a_snooze_once(
    two_nodes: list[NodeProcess], postgres_url: str
) -> None:
    one, two = two_nodes
    store = SqlStore(postgres_url)
    await store.open(migrate=False)
    on_one, arrivals_one = await connect(one.url)
    on_two, arrivals_two = await connect(two.url)
    try:
        names = [f"n{i}" for i in range(5)]
        wanted = await publish_emails(one.url, on_one, names)
        await on_two.wait_notifications(len(names))
        until = ahead(2)
        await snooze(on_one, list(wanted.values()), until)
        # The other node's tab hears of it; both nodes' inboxes leave the items out.
        await on_two.log.wait_for(
            lambda log: any(c["change"] == "snoozed" for c in log.of("notifications-changed"))
        )
        assert await inbox(two.url) == []
        assert len(await inbox(one.url, snoozed="true")) == len(names)
        jobs = await store.list_jobs(kind="snooze")
        assert [(j.status, j.run_at) for j in jobs] == [("pending", until)] * len(names)

        for client in (on_one, on_two):
            await client.log.wait_for(has_dues(client, len(names)), timeout=15)
        for client in (on_one, on_two):
            for item in dues(client):
                check_due_item(item, wanted)
        late_one = report("node one's socket", until, arrivals_one)
        late_two = report("node two's socket", until, arrivals_two)
        assert min(late_one + late_two) >= 0, "woken before T"

        jobs = await jobs_when(store, all_done(len(names)))
        assert [(j.status, j.attempts, j.last_error) for j in jobs] == [("done", 1, None)] * len(
            names
        )
        woken = [await metric_sample(node.url, DUE_SAMPLE) for node in two_nodes]
        print(f"wake-ups run by node one, node two: {woken}")
        assert sum(woken) == len(names)
        once = dict.fromkeys(wanted.values(), 1)
        await marker_proves_no_second_due(two.url, [on_one, on_two], once)

        back = await inbox(one.url)
        assert sorted(i["id"] for i in back if i["sourceId"] != "marker") == sorted(wanted.values())
        assert all(not i["read"] and i["snoozedUntil"] is None for i in back)
        assert await inbox(two.url, snoozed="true") == []
    finally:
        await on_one.disconnect()
        await on_two.disconnect()
        await store.close()


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
async def test_a_restart_between_snooze_and_t_still_wakes_it_once(
    store_url: str, jobs_store: SqlStore, stop: str
) -> None:
    node = NodeProcess(store_url, None, **SNOOZE_ENV)
    began = time.monotonic()
    await asyncio.to_thread(node.start)
    # T leaves room for a stop and a start (about a second each on an idle machine).
    startup = time.monotonic() - began
    nodes = [node]
    client, _ = await connect(node.url)
    try:
        [note] = (await publish_emails(node.url, client, ["dossier"])).values()
        until = ahead(max(3.0, 3 * startup))
        await snooze(client, [note], until)
        await client.disconnect()

        if stop == "sigterm":
            await asyncio.to_thread(node.terminate)
        else:
            await asyncio.to_thread(node.kill)
            node = NodeProcess(store_url, None, **SNOOZE_ENV)
            nodes.append(node)
        await asyncio.to_thread(node.start)
        client, arrivals = await connect(node.url)
        margin = until.timestamp() - time.time()
        assert margin > 0, f"the node restarted {-margin:.2f} s after T: the test proves nothing"
        await jobs_store.open(migrate=False)
        jobs = await jobs_store.list_jobs(kind="snooze")
        assert [(j.status, j.attempts, j.run_at) for j in jobs] == [("pending", 0, until)]

        await client.log.wait_for(lambda log: bool(log.of(DUE)), timeout=15)
        [item] = dues(client)
        check_due_item(item, {"dossier": note})
        [lateness] = report(f"after a {stop} restart ({store_url.split(':')[0]})", until, arrivals)
        assert lateness >= 0, "woken before T"
        jobs = await jobs_when(jobs_store, all_done(1))
        assert [(j.status, j.attempts) for j in jobs] == [("done", 1)]
        await marker_proves_no_second_due(node.url, [client], {note: 1})

        [marker, back] = await inbox(node.url)
        assert (marker["sourceId"], back["id"], back["sourceId"]) == ("marker", note, "dossier")
        assert (back["read"], back["seen"], back["snoozedUntil"]) == (False, False, None)
        assert await inbox(node.url, snoozed="true") == []
    finally:
        await client.disconnect()
        for each in nodes:
            each.close()


async def test_a_node_killed_while_waking_leaves_it_to_the_other_after_the_lease(
    two_nodes: list[NodeProcess], postgres_url: str
) -> None:
    store = SqlStore(postgres_url)
    await store.open(migrate=False)
    clients = [await connect(node.url) for node in two_nodes]
    locker = await asyncpg.connect(sql_url(postgres_url))
    watcher = await asyncpg.connect(sql_url(postgres_url))
    try:
        first, _ = clients[0]
        [note] = (await publish_emails(two_nodes[0].url, first, ["hearing"])).values()
        until = ahead(2)
        await snooze(first, [note], until)
        # Hold the item's state row: whichever node claims the wake-up at T blocks in it,
        # holding the job, until the test kills that node.
        locking = locker.transaction()
        await locking.start()
        await locker.execute(
            "SELECT 1 FROM item_states WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE",
            TENANT,
            USER,
        )
        holder, blocked = "", 0
        deadline = time.monotonic() + 15
        while not (holder and blocked):
            assert time.monotonic() < deadline, f"not claimed and blocked: {holder!r}, {blocked}"
            await asyncio.sleep(0.02)
            holder = await watcher.fetchval("SELECT locked_by FROM jobs WHERE kind = 'snooze'")
            holder = holder or ""
            blocked = await watcher.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted")
        pids = [n.process.pid if n.process else -1 for n in two_nodes]
        holder_pid = int(holder.split(":")[-2])
        assert holder_pid in pids, f"held by {holder!r}, nodes are {pids}"
        dead = pids.index(holder_pid)
        survivor = 1 - dead
        await asyncio.to_thread(two_nodes[dead].kill)
        await locking.rollback()

        alive, arrivals = clients[survivor]
        await alive.log.wait_for(lambda log: bool(log.of(DUE)), timeout=15)
        [item] = dues(alive)
        check_due_item(item, {"hearing": note})
        [lateness] = report(f"node {dead + 1} killed holding it, lease 2 s", until, arrivals)
        assert lateness >= 2.0, "run again before the dead node's lease ended"
        jobs = await jobs_when(store, all_done(1))
        assert [(j.status, j.attempts) for j in jobs] == [("done", 2)]
        survivor_url = two_nodes[survivor].url
        await marker_proves_no_second_due(survivor_url, [alive], {note: 1})
        assert await metric_sample(survivor_url, DUE_SAMPLE) == 1
        [_marker, back] = await inbox(survivor_url)
        assert (back["id"], back["read"], back["snoozedUntil"]) == (note, False, None)
    finally:
        for client, _ in clients:
            await client.disconnect()
        await locker.close()
        await watcher.close()
        await store.close()
