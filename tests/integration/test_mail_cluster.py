"""Issue 18, Must show: two nodes on one PostgreSQL, one SIGKILLed mid-escalation and
restarted: each e-mail sent exactly once, counted at the SMTP server (DESIGN §8, exactly
once across nodes and restarts). The push half is tests/integration/test_escalation_cluster.py.

Two ``tocsin serve`` processes share a fresh PostgreSQL database and a Redis, and send
e-mail through one SMTP server (aiosmtpd). Sixteen lawyers get an address through the
profile API; each is then sent two critical deadline alerts, left unread, so that each is
e-mailed once ``TOCSIN_EMAIL_AFTER`` later. No VAPID key: nothing is pushed.

"Mid-escalation" is made real at the SMTP server's door (tests/smtpdoor.py): from the n-th
accepted message on, a transaction that has sent its message waits before the server
answers. The node whose message waits there (found by the session's port in /proc) is
SIGKILLed, then the door opens: the dead node's message is dropped without a 250 (the test
checks that one was), and its job stays leased to the dead node until the lease ends. The
killed node is restarted at once.

- ``held``: the door and the kill alone.
- ``failing``: the SMTP server first answers 451 to a few transactions (their jobs are
  deferred for a retry, and the log says so), then the door and the kill.

Every (notification, recipient) must then be e-mailed exactly once: counted at the SMTP
server by ``Message-ID`` (derived from the job's key, so one per job), and by the text of
the alert in the body; and the delivery log must have one ``sent`` e-mail line per
notification. No late duplicate: the test waits until no e-mail job is pending, then sends
a critical marker to everyone and counts again once the markers' e-mails arrived.

The daily digest the same way: due now for every lawyer, sent by ``tocsin digest run``
beside the two nodes; the process whose digest waits at the door is SIGKILLed; one digest
per lawyer for the day.

And without a kill: a live node whose message waits at the door longer than its job's lease
(a slow server) must not see another node send it again meanwhile: the job runner renews a
running job's lease (it once did only as the job started, and this test saw the duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.cluster import NodeProcess, RedisProcess
from tests.helpers import ADMIN_KEY, critical_alert, email, publish, token
from tests.procnet import socket_owner
from tests.smtpdoor import DoorSmtpServer, message_ids
from tocsin.digest import DIGEST_JOB, digest_job_key
from tocsin.mail.message import message_id
from tocsin.mailing import EMAIL_JOB, RULE_UNREAD
from tocsin.models import Identity
from tocsin.store.base import identity_hash

TENANT = "firm-a"
USERS = [f"lawyer-{i:02d}" for i in range(16)]
ALERTS_PER_USER = 2
EMAIL_AFTER = 1.5
LEASE = 2.0
MAIL_DOMAIN = "firm-a.fr"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
FAILURES = 3
DIGEST_HELD_AFTER = 5


@dataclass(frozen=True)
class KillPoint:
    """Where the node is killed: at the door after ``after`` accepted messages, with the
    SMTP server answering 451 to the first few transactions if ``how`` is ``failing``."""

    how: Literal["held", "failing"]
    after: int


@dataclass(frozen=True)
class Published:
    """A notification the test published: its id, recipient and the alert's text."""

    id: str
    user: str
    text: str


@dataclass
class Cluster:
    """The two nodes; a killed one is replaced by its restart."""

    database_url: str
    redis_url: str
    env: dict[str, str]
    nodes: list[NodeProcess] = field(default_factory=list)
    started: list[NodeProcess] = field(default_factory=list)

    async def start(self) -> float:
        """Start one more node; how long it took to be ready."""
        began = time.monotonic()
        node = NodeProcess(self.database_url, self.redis_url, **self.env)
        self.started.append(node)
        await asyncio.to_thread(node.start)
        self.nodes.append(node)
        return time.monotonic() - began

    def pids(self) -> list[int]:
        """The nodes' process ids (-1 for a dead one)."""
        return [node.process.pid if node.process else -1 for node in self.nodes]

    def urls(self) -> list[str]:
        """The nodes' base URLs."""
        return [node.url for node in self.nodes]


def address(user: str) -> str:
    return f"{user}@{MAIL_DOMAIN}"


@pytest.fixture
def smtp() -> Iterator[DoorSmtpServer]:
    server = DoorSmtpServer()
    with server:
        yield server


@pytest.fixture
async def cluster(
    postgres_url: str, redis: RedisProcess, smtp: DoorSmtpServer
) -> AsyncIterator[Cluster]:
    env = {
        "TOCSIN_SMTP_URL": smtp.url,
        "TOCSIN_MAIL_FROM": f"Cabinet A <notifications@{MAIL_DOMAIN}>",
        "TOCSIN_EMAIL_AFTER": str(EMAIL_AFTER),
        "TOCSIN_JOBS_POLL_INTERVAL": "0.2",
        "TOCSIN_JOBS_LEASE": str(LEASE),
        "TOCSIN_BUS_HEARTBEAT_INTERVAL": "0.3",
    }
    nodes = Cluster(postgres_url, redis.url, env)
    try:
        for _ in range(2):
            await nodes.start()
        yield nodes
    finally:
        for node in nodes.started:
            node.close()


@pytest.fixture
async def db(postgres_url: str, cluster: Cluster) -> AsyncIterator[asyncpg.Connection]:
    """The test's own connection to the nodes' database (migrated by the nodes)."""
    conn = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        yield conn
    finally:
        await conn.close()


async def give_addresses(cluster: Cluster) -> None:
    """Each lawyer's profile, with an e-mail address, through either node."""
    clients = [httpx.AsyncClient(base_url=url, timeout=30) for url in cluster.urls()]
    try:
        for index, user in enumerate(USERS):
            answer = await clients[index % 2].put(
                f"/api/v1/tenants/{TENANT}/users/{user}",
                json={"email": address(user), "locale": "fr", "timezone": "Europe/Paris"},
                headers=ADMIN,
            )
            assert answer.status_code == 200, answer.text
    finally:
        for client in clients:
            await client.aclose()


async def publish_alerts(cluster: Cluster, label: str, per_user: int) -> list[Published]:
    """``per_user`` critical alerts to each lawyer, spread over the nodes, a few at a time;
    each alert's text names it, so that its e-mail can be told from the others'."""
    gate = asyncio.Semaphore(8)
    urls = cluster.urls()
    clients = [httpx.AsyncClient(base_url=url, timeout=30) for url in urls]

    async def one(index: int, user: str, k: int) -> Published:
        text = f"Délai OQTF [{label} {user} {k}] expire demain"
        async with gate:
            answer = await publish(
                clients[index % len(clients)], critical_alert(user, TENANT, text)
            )
        assert answer.status_code == 202, answer.text
        return Published(answer.json()["id"], user, text)

    wanted = [(user, k) for k in range(per_user) for user in USERS]
    try:
        return list(await asyncio.gather(*(one(i, u, k) for i, (u, k) in enumerate(wanted))))
    finally:
        for client in clients:
            await client.aclose()


async def expected_ids(db: asyncpg.Connection, published: list[Published]) -> dict[str, Published]:
    """The ``Message-ID`` each notification's e-mail must carry: the one of its job's key."""
    cursors = dict(
        await db.fetch(
            "SELECT public_id, cursor FROM notifications WHERE public_id = ANY($1::text[])",
            [note.id for note in published],
        )
    )
    return {
        message_id(
            MAIL_DOMAIN,
            f"{EMAIL_JOB}:{cursors[note.id]}:{identity_hash(Identity(TENANT, note.user))}"
            f":{RULE_UNREAD}",
        ): note
        for note in published
    }


async def email_jobs(
    db: asyncpg.Connection, key_like: str = f"{EMAIL_JOB}:%"
) -> list[asyncpg.Record]:
    """The e-mail jobs (or those whose key is ``LIKE key_like``)."""
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT key, status, attempts, locked_by FROM jobs WHERE key LIKE $1", key_like
    )
    return rows


async def wait_until_drained(
    db: asyncpg.Connection, key_like: str = f"{EMAIL_JOB}:%", timeout: float = 20.0
) -> list[asyncpg.Record]:
    """The e-mail jobs (or those ``LIKE key_like``) once none is pending: none is left
    that a node would claim."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await email_jobs(db, key_like)
        if rows and all(r["status"] != "pending" for r in rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs still pending: {[dict(r) for r in rows]}")
        await asyncio.sleep(0.05)  # a poll of the jobs table (it has no event), bounded


@dataclass(frozen=True)
class Kill:
    """The node killed at the door: its message's port, when, and the e-mail jobs it held
    (leased) then."""

    port: int
    at: float  # time.monotonic()
    jobs_held: int


async def kill_at_door(cluster: Cluster, db: asyncpg.Connection, smtp: DoorSmtpServer) -> Kill:
    """SIGKILL the node whose message came last to the door, open the door, restart the
    node; what it held (read after the kill, which comes first: the dead node's leases keep
    its jobs from the others a while yet)."""
    [port, *_] = await asyncio.to_thread(smtp.wait_at_door, 1, 30.0)
    pids = cluster.pids()
    owner = socket_owner(port, pids)
    assert owner is not None, f"no node holds port {port}"
    index = pids.index(owner)
    await asyncio.to_thread(cluster.nodes[index].kill)
    killed_at = time.monotonic()
    smtp.release()
    held = [r for r in await email_jobs(db) if r["status"] == "pending" and r["locked_by"]]
    # A worker is named "<host>:<pid>:<random>" (tocsin.jobrunner.worker_name).
    held = [r for r in held if int(r["locked_by"].split(":")[-2]) == owner]
    assert held, "the node killed held no e-mail job: not mid-escalation"
    cluster.nodes.pop(index)
    took = await cluster.start()
    print(
        f"\nnode {index + 1} SIGKILLed at the door holding {len(held)} leased e-mail jobs; "
        f"restarted in {took:.2f} s"
    )
    return Kill(port, killed_at, len(held))


def check_mail(smtp: DoorSmtpServer, wanted: dict[str, Published]) -> Counter[str]:
    """Every wanted ``Message-ID`` accepted once, to its lawyer, with its alert's text;
    nothing else accepted. The messages by ``Message-ID``."""
    counted: Counter[str] = Counter()
    for mail in smtp.messages:
        key = str(mail.message["Message-ID"])
        counted[key] += 1
        note = wanted.get(key)
        assert note is not None, f"not expected: {key} {mail.message['Subject']}"
        assert mail.rcpt_tos == (address(note.user),), (key, mail.rcpt_tos)
        assert note.text in mail.body("plain"), (key, note)
    twice = {key: n for key, n in counted.items() if n > 1}
    assert not twice, f"e-mailed more than once: {[(wanted[k], n) for k, n in twice.items()]}"
    assert set(counted) == set(wanted), f"never e-mailed: {set(wanted) - set(counted)}"
    return counted


async def check_delivery_log(url: str, published: list[Published]) -> Counter[str]:
    """One ``sent`` e-mail line per notification, for its lawyer, nothing failed or
    cancelled; all statuses counted."""
    statuses: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for note in published:
            answer = await http.get(f"/api/v1/notifications/{note.id}/deliveries", headers=ADMIN)
            assert answer.status_code == 200, answer.text
            log: list[dict[str, Any]] = answer.json()["deliveries"]
            statuses.update(d["status"] for d in log)
            sent = [(d["channel"], d["userId"]) for d in log if d["status"] == "sent"]
            assert sent == [("email", note.user)], log
            assert {d["status"] for d in log} <= {"sent", "deferred"}, log
    return statuses


@pytest.mark.parametrize(
    "point",
    [KillPoint("held", after=8), KillPoint("failing", after=8)],
    ids=["held", "failing-then-held"],
)
async def test_a_node_killed_mid_email_leaves_every_email_sent_once(
    cluster: Cluster, db: asyncpg.Connection, smtp: DoorSmtpServer, point: KillPoint
) -> None:
    """The node whose e-mail waits at the door is SIGKILLed and restarted (after a few
    451 answers, if ``failing``): every e-mail still sent once, the dead node's one by a
    live node, and the delivery log agrees."""
    await give_addresses(cluster)
    if point.how == "failing":
        for _ in range(FAILURES):
            smtp.fail_next(451, at="DATA")
    smtp.hold_from(point.after)
    began = time.monotonic()
    published = await publish_alerts(cluster, "alerte", ALERTS_PER_USER)
    published_at = time.monotonic()
    wanted = await expected_ids(db, published)
    assert len(wanted) == len(USERS) * ALERTS_PER_USER

    killed = await kill_at_door(cluster, db, smtp)
    await smtp.wait_for_ids_async(set(wanted), timeout=30.0)
    last = max(smtp.accepted_at)
    await wait_until_drained(db)
    drained = time.monotonic()
    before_markers = len(smtp.messages)

    # Nothing is pending, so no node will claim an e-mail again. A node still sending one
    # it claimed earlier (its lease lost) would send it before the markers it claims next:
    # it runs its jobs one by one. Counting again after the markers shows none was.
    markers = await publish_alerts(cluster, "marqueur", 1)
    wanted |= await expected_ids(db, markers)
    await smtp.wait_for_ids_async(set(wanted), timeout=15.0)
    jobs = await wait_until_drained(db)
    counted = check_mail(smtp, wanted)

    # The killed node's message was at the door, dropped unaccepted, and sent once later
    # by a node that lived.
    assert smtp.dropped, "no message of the killed node was at the door"
    [dropped] = [d for d in smtp.dropped if d.port == killed.port]
    assert counted[dropped.message_id] == 1
    ids = [str(mail.message["Message-ID"]) for mail in smtp.messages]
    assert smtp.sender_ports[ids.index(dropped.message_id)] != killed.port
    assert {r["status"] for r in jobs} == {"done"}, [dict(r) for r in jobs]
    statuses = await check_delivery_log(cluster.urls()[0], published + markers)
    if point.how == "failing":
        assert smtp.refused == FAILURES
        assert statuses["deferred"] == FAILURES, statuses
    else:
        assert statuses["deferred"] == 0, statuses
    figures = {
        "leased e-mail jobs held by the killed node": killed.jobs_held,
        "e-mails expected / accepted before the markers": f"{len(published)} / {before_markers}",
        "marker e-mails": f"{len(smtp.messages) - before_markers} (expected {len(USERS)})",
        "duplicates": sum(n - 1 for n in counted.values()),
        "held / dropped at the door": f"{smtp.held} / {len(smtp.dropped)}",
        "answered 451": smtp.refused,
        "e-mail jobs claimed more than once": sum(r["attempts"] > 1 for r in jobs),
        "delivery log": dict(statuses),
        "publishing took": f"{published_at - began:.2f} s",
        "last publish → last e-mail": f"{last - published_at:.2f} s",
        "kill → last e-mail": f"{last - killed.at:.2f} s",
        "kill → no e-mail job pending": f"{drained - killed.at:.2f} s",
    }
    print("\n".join(f"  {name}: {value}" for name, value in figures.items()))


async def test_an_email_slower_than_the_lease_is_sent_once(
    cluster: Cluster, db: asyncpg.Connection, smtp: DoorSmtpServer
) -> None:
    """No kill: one node's message waits at the door for two leases, as at a slow content
    filter (RFC 5321 §4.5.3.2 has a client wait ten minutes for the answer to the end of
    DATA). The node is alive and still sending: no other node may send that job again."""
    await give_addresses(cluster)
    smtp.hold_from(0, at_most=1)
    published = await publish_alerts(cluster, "lent", 1)
    wanted = await expected_ids(db, published)
    await asyncio.to_thread(smtp.wait_at_door, 1, 30.0)
    [held] = smtp.at_door()
    # The server stays slow for two leases, or until another node sends the held message.
    with contextlib.suppress(TimeoutError):
        await smtp.wait_for_ids_async({held.message_id}, timeout=2 * LEASE)
    smtp.release()
    await asyncio.to_thread(smtp.wait_settled, 10.0)
    await smtp.wait_for_ids_async(set(wanted), timeout=30.0)
    jobs = await wait_until_drained(db)
    print(f"\n  claimed more than once: {[r['key'] for r in jobs if r['attempts'] > 1]}")
    assert not smtp.dropped
    check_mail(smtp, wanted)
    await check_delivery_log(cluster.urls()[0], published)


def noon_zone() -> str:
    """A zone where it is about noon now: the local day does not change during the test,
    and a digest hour of 06:00 has passed there today."""
    offset = 12 - datetime.now(UTC).hour  # -11 to +12 hours
    return f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-2 is UTC+2


def digest_run(env: dict[str, str]) -> subprocess.Popen[str]:
    """``tocsin digest run`` (the operator's command: writes the digest jobs due now, and
    runs them) on the nodes' settings."""
    return subprocess.Popen(
        [sys.executable, "-m", "tocsin", "digest", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def finish(command: subprocess.Popen[str]) -> dict[str, int]:
    """Wait for ``tocsin digest run``; its report."""
    output, _ = await asyncio.to_thread(command.communicate, timeout=60)
    assert command.returncode == 0, output
    report: dict[str, int] = json.loads(output.splitlines()[-1])
    return report


async def digest_day(cluster: Cluster) -> tuple[date, list[Published]]:
    """Every lawyer's daily digest at 06:00 in a zone where that has passed today, and two
    unread e-mail notifications each; the day, and what was published."""
    zone = noon_zone()
    published: list[Published] = []
    async with httpx.AsyncClient(base_url=cluster.urls()[0], timeout=30) as http:
        for user in USERS:
            answer = await http.put(
                "/api/v1/preferences",
                json={"digest": {"email": "daily", "at": "06:00", "timezone": zone}},
                headers={"Authorization": f"Bearer {token(user, TENANT)}"},
            )
            assert answer.status_code == 200, answer.text
            for k in range(2):
                subject = f"Courrier [digest {user} {k}]"
                answer = await publish(http, email(user, TENANT, subject))
                assert answer.status_code == 202, answer.text
                published.append(Published(answer.json()["id"], user, subject))
    return datetime.now(ZoneInfo(zone)).date(), published


async def test_a_process_killed_mid_digest_leaves_one_digest_per_lawyer(
    cluster: Cluster, db: asyncpg.Connection, smtp: DoorSmtpServer
) -> None:
    """The daily digest, due now for every lawyer, sent by ``tocsin digest run`` while the
    two nodes claim digest jobs too. The process whose digest waits at the door (the
    command, or a node) is SIGKILLed, then run again or restarted: still one digest per
    lawyer for the day, listing their unread items; a run after that sends nothing."""
    await give_addresses(cluster)
    day, published = await digest_day(cluster)
    wanted = {
        message_id(MAIL_DOMAIN, digest_job_key(Identity(TENANT, user), day)): user for user in USERS
    }
    env = cluster.nodes[0].env
    smtp.hold_from(DIGEST_HELD_AFTER)
    began = time.monotonic()
    command = digest_run(env)
    try:
        [port, *_] = await asyncio.to_thread(smtp.wait_at_door, 1, 30.0)
        pids = [*cluster.pids(), command.pid]
        owner = socket_owner(port, pids)
        assert owner is not None, f"no process holds port {port}"
        index = pids.index(owner)
        if owner == command.pid:
            command.kill()
            await asyncio.to_thread(command.communicate, timeout=10)
            killed_at = time.monotonic()
            smtp.release()
            killed = "tocsin digest run"
        else:
            await asyncio.to_thread(cluster.nodes[index].kill)
            killed_at = time.monotonic()
            smtp.release()
            killed = f"node {index + 1}"
            cluster.nodes.pop(index)
            await cluster.start()
            await finish(command)
    finally:
        if command.returncode is None:
            command.kill()
            command.communicate(timeout=10)
    counted = await smtp.wait_for_ids_async(set(wanted), timeout=30.0)
    jobs = await wait_until_drained(db, f"{DIGEST_JOB}:%:{day.isoformat()}")
    # The command run again once all is sent (the killed one's jobs went to the nodes when
    # its leases ended) sends nothing: the day's jobs are done.
    after = await finish(digest_run(env))
    assert after["planned"] == 0 and "sent" not in after, after

    assert [d.port for d in smtp.dropped] == [port], smtp.dropped
    assert message_ids(smtp) == Counter(set(wanted)), message_ids(smtp)
    for mail in smtp.messages:
        user = wanted[str(mail.message["Message-ID"])]
        assert mail.rcpt_tos == (address(user),)
        listed = [note.text for note in published if note.user == user]
        assert all(text in mail.body("plain") for text in listed), (user, mail.body("plain"))
    statuses: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=cluster.urls()[0], timeout=30) as http:
        for note in published:
            answer = await http.get(f"/api/v1/notifications/{note.id}/deliveries", headers=ADMIN)
            log: list[dict[str, Any]] = answer.json()["deliveries"]
            statuses.update(f"{d['channel']} {d['status']}" for d in log)
            assert [(d["channel"], d["status"]) for d in log] == [("digest", "sent")], log
    figures = {
        "killed at the door": killed,
        "digests expected / accepted": f"{len(wanted)} / {len(smtp.messages)}",
        "duplicates": sum(n - 1 for n in counted.values()),
        "held / dropped at the door": f"{smtp.held} / {len(smtp.dropped)}",
        "the command run again after all was sent": after,
        "digest jobs claimed more than once": sum(r["attempts"] > 1 for r in jobs),
        "delivery log": dict(statuses),
        "command started → kill": f"{killed_at - began:.2f} s",
        "kill → last digest": f"{max(smtp.accepted_at) - killed_at:.2f} s",
    }
    print("\n".join(f"  {name}: {value}" for name, value in figures.items()))
