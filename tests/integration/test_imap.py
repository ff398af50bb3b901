"""IMAP ingestion against a real Dovecot: append → email-received, restarts, broken mail."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.dovecot import Dovecot
from tests.helpers import TOCSIN_ID, Client, ServerThread, token
from tocsin.store.base import MailboxPosition
from tocsin.store.sql import SqlStore

ALICE = {"tenantId": "firm-a", "userId": "alice"}
BOB = {"tenantId": "firm-a", "userId": "bob"}


def mail(
    subject: str,
    *,
    sender: str = "Greffe du tribunal <greffe@tribunal.example>",
    to: str = "alice@cabinet.example",
    body: str = "Bonjour Maître,\r\nveuillez trouver ci-joint la décision.\r\n",
    message_id: str | None = None,
    headers: str = "",
) -> bytes:
    """A plain-text message (UTF-8 body)."""
    message_id = message_id or f"<{time.monotonic_ns()}@tribunal.example>"
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n" + headers
    )
    return (head + "\r\n" + body).encode("utf-8")


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    server = Dovecot(tmp_path / "dovecot")
    server.start()
    try:
        yield server
    finally:
        server.close()


def write_mailboxes(tmp_path: Path, *mailboxes: dict[str, Any]) -> str:
    path = tmp_path / "mailboxes.json"
    path.write_text(json.dumps(list(mailboxes)))
    return str(path)


@pytest.fixture
def start_node(sqlite_url: str, tmp_path: Path) -> Iterator[Any]:
    nodes: list[ServerThread] = []

    def start(*mailboxes: dict[str, Any]) -> ServerThread:
        settings = make_settings(sqlite_url, mailboxes_file=write_mailboxes(tmp_path, *mailboxes))
        node = ServerThread(settings)
        node.start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for client in opened:
        await client.disconnect()


async def connect(
    clients: list[Client], node: ServerThread, user: str = "alice", since: int | None = None
) -> Client:
    client = Client(node.url, user, "firm-a")
    await client.connect(since=since)
    clients.append(client)
    return client


async def delivered(
    dovecot: Dovecot, client: Client, message: bytes, timeout: float = 2.0
) -> tuple[dict[str, Any], float]:
    """APPEND, then wait for the next notification: (it, seconds from APPEND to delivery)."""
    before = len(client.notifications())
    started = time.monotonic()
    dovecot.append(message)
    received = await client.wait_notifications(before + 1, timeout=timeout)
    return received[-1], time.monotonic() - started


async def metric(node: ServerThread, sample: str) -> float:
    """A sample's value in the node's /metrics (0 when absent)."""
    async with httpx.AsyncClient(base_url=node.url) as http:
        text = (await http.get("/metrics")).text
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def ingest_count(node: ServerThread, mailbox: str, outcome: str) -> float:
    sample = f'tocsin_ingest_messages_total{{mailbox="{mailbox}",outcome="{outcome}"}}'
    return await metric(node, sample)


async def inbox(node: ServerThread, user: str = "alice") -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=node.url) as http:
        response = await http.get(
            "/api/v1/inbox", headers={"Authorization": f"Bearer {token(user, 'firm-a')}"}
        )
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_appended_message_reaches_the_routed_user_within_two_seconds(
    dovecot: Dovecot, start_node: Any, clients: list[Client]
) -> None:
    node = start_node(dovecot.mailbox("greffe-idle", ALICE, backfill=100))
    alice = await connect(clients, node)
    bob = await connect(clients, node, "bob")
    await delivered(dovecot, alice, mail("Warm-up"), timeout=10)

    received, elapsed = await delivered(
        dovecot, alice, mail("Jugement rendu — dossier CIV-2026-0042")
    )

    print(f"\nIMAP APPEND → email-received (IDLE): {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    assert received["subject"] == "Jugement rendu — dossier CIV-2026-0042"
    assert received["from"] == "Greffe du tribunal <greffe@tribunal.example>"
    assert received["dossierNumber"] == "CIV-2026-0042"
    assert (received["tenantId"], received["userId"]) == ("firm-a", "alice")
    # Tocsin's own id; the mail's derived id (from its Message-ID) travels as sourceId.
    assert TOCSIN_ID.match(received["id"]) and received["sourceId"].startswith("mail-")
    assert bob.notifications() == []


async def test_polling_when_idle_is_off(
    dovecot: Dovecot, start_node: Any, clients: list[Client]
) -> None:
    mailbox = dovecot.mailbox("greffe-poll", ALICE, backfill=100, idle=False, poll_interval=0.2)
    node = start_node(mailbox)
    alice = await connect(clients, node)
    await delivered(dovecot, alice, mail("Warm-up"), timeout=10)

    received, elapsed = await delivered(dovecot, alice, mail("Par sondage PEN-2026-7"))

    print(f"\nIMAP APPEND → email-received (polling every 0.2 s): {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    assert received["dossierNumber"] == "PEN-2026-7"


async def test_restarts_publish_nothing_twice(
    dovecot: Dovecot, start_node: Any, clients: list[Client], sqlite_url: str
) -> None:
    node = start_node(dovecot.mailbox("greffe-restart", ALICE, backfill=100))
    alice = await connect(clients, node)
    await delivered(dovecot, alice, mail("A"), timeout=10)
    await delivered(dovecot, alice, mail("B"))

    # Down while mail arrives: the stored position says where to resume.
    node.stop()
    dovecot.append(mail("C"))
    node.start()
    alice = await connect(clients, node, since=alice.since)
    await alice.wait_notifications(1)
    await delivered(dovecot, alice, mail("D"))
    assert [n["subject"] for n in alice.notifications()] == ["C", "D"]

    # A crash between publishing and saving the position: everything is read again,
    # and the once-keys (from the Message-ID) make it publish nothing.
    node.stop()
    store = SqlStore(sqlite_url)
    await store.open(migrate=False)
    position = await store.get_mailbox_position("greffe-restart")
    assert position is not None and position.last_uid == 4
    await store.set_mailbox_position(MailboxPosition("greffe-restart", position.uidvalidity, 0))
    await store.close()
    node.start()
    alice = await connect(clients, node, since=alice.since)
    await delivered(dovecot, alice, mail("E"), timeout=10)

    assert [n["subject"] for n in alice.notifications()] == ["E"]
    assert await ingest_count(node, "greffe-restart", "duplicate") == 4
    items = await inbox(node)
    assert sorted(item["subject"] for item in items) == ["A", "B", "C", "D", "E"]
    assert len({item["sourceId"] for item in items}) == 5


async def test_a_uidvalidity_change_rereads_without_duplicates(
    dovecot: Dovecot, start_node: Any, clients: list[Client], sqlite_url: str
) -> None:
    node = start_node(dovecot.mailbox("greffe-validity", ALICE, backfill=100))
    alice = await connect(clients, node)
    await delivered(dovecot, alice, mail("A"), timeout=10)
    await delivered(dovecot, alice, mail("B"))
    node.stop()
    dovecot.stop()
    # Dovecot rebuilds lost UID lists with a new UIDVALIDITY (as after a migration).
    for stale in [dovecot.maildir / "dovecot-uidlist", *dovecot.maildir.glob("dovecot.index*")]:
        stale.unlink()
    dovecot.start()
    node.start()
    alice = await connect(clients, node, since=alice.since)
    await delivered(dovecot, alice, mail("C"), timeout=10)

    assert [n["subject"] for n in alice.notifications()] == ["C"]
    assert await ingest_count(node, "greffe-validity", "duplicate") == 2
    store = SqlStore(sqlite_url)
    await store.open(migrate=False)
    try:
        position = await store.get_mailbox_position("greffe-validity")
    finally:
        await store.close()
    assert position is not None and position.last_uid == 3


async def test_a_malformed_message_is_skipped_and_counted(
    dovecot: Dovecot, start_node: Any, clients: list[Client]
) -> None:
    node = start_node(dovecot.mailbox("greffe-broken", ALICE, backfill=100))
    alice = await connect(clients, node)
    await delivered(dovecot, alice, mail("Warm-up"), timeout=10)

    dovecot.append(b"this is not an e-mail\r\n\x01\x02 just bytes\r\n")
    received, _ = await delivered(dovecot, alice, mail("Still delivered SOC-2026-12"))

    assert received["subject"] == "Still delivered SOC-2026-12"
    assert await ingest_count(node, "greffe-broken", "malformed") == 1
    assert await ingest_count(node, "greffe-broken", "published") == 2


async def test_a_huge_attachment_is_not_fetched(
    dovecot: Dovecot, start_node: Any, clients: list[Client]
) -> None:
    node = start_node(
        dovecot.mailbox("greffe-huge", ALICE, backfill=100, max_message_bytes=64 * 1024)
    )
    alice = await connect(clients, node)
    attachment = base64.encodebytes(b"%PDF-1.7 COM-2099-999999 " * 200_000).decode()
    message = (
        "From: Greffe <greffe@tribunal.example>\r\nTo: alice@cabinet.example\r\n"
        "Subject: Pièces du dossier\r\nMessage-ID: <huge@tribunal.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=SEP\r\n\r\n"
        "--SEP\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDossier ADM-2026-31\r\n"
        "--SEP\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{attachment}--SEP--\r\n"
    ).encode()
    assert len(message) > 5_000_000

    received, _ = await delivered(dovecot, alice, message, timeout=10)

    assert received["subject"] == "Pièces du dossier"
    assert received["dossierNumber"] == "ADM-2026-31"
    assert await ingest_count(node, "greffe-huge", "oversize") == 1


async def test_encoded_words_and_display_names_are_decoded(
    dovecot: Dovecot, start_node: Any, clients: list[Client]
) -> None:
    node = start_node(dovecot.mailbox("greffe-mime", ALICE, backfill=100))
    alice = await connect(clients, node)
    subject = base64.b64encode("Délai d'appel — CIV-2026-0042".encode()).decode()
    message = mail(
        f"=?UTF-8?B?{subject}?=",
        sender="=?ISO-8859-1?Q?Ma=EEtre_Fran=E7ois_L=E9ger?= <f.leger@avocats.example>",
        body="Sans numéro ici.\r\n",
    )

    received, _ = await delivered(dovecot, alice, message, timeout=10)

    assert received["subject"] == "Délai d'appel — CIV-2026-0042"
    assert received["from"] == "Maître François Léger <f.leger@avocats.example>"
    assert received["dossierNumber"] == "CIV-2026-0042"


async def test_recipients_route_to_their_users(
    dovecot: Dovecot, start_node: Any, clients: list[Client]
) -> None:
    routing = {"alice@cabinet.example": ALICE, "@associes.example": BOB}
    node = start_node(dovecot.mailbox("cabinet", routing, backfill=100))
    alice = await connect(clients, node)
    bob = await connect(clients, node, "bob")
    dovecot.append(mail("Nobody's", to="someone@elsewhere.example"))
    both = mail("Both", to="Alice <alice@cabinet.example>, bob+greffe@associes.example")

    await delivered(dovecot, alice, both, timeout=10)
    [to_bob] = await bob.wait_notifications(1)

    assert to_bob["subject"] == "Both" and to_bob["userId"] == "bob"
    assert [n["subject"] for n in alice.notifications()] == ["Both"]
    assert await ingest_count(node, "cabinet", "unrouted") == 1


async def test_the_watcher_reconnects_when_the_server_comes_back(
    dovecot: Dovecot, start_node: Any, clients: list[Client]
) -> None:
    node = start_node(dovecot.mailbox("greffe-reconnect", ALICE, backfill=100))
    alice = await connect(clients, node)
    await delivered(dovecot, alice, mail("Before"), timeout=10)
    lost_before = await metric(node, 'tocsin_errors_total{where="imap"}')

    dovecot.stop()
    dovecot.start()
    received, elapsed = await delivered(dovecot, alice, mail("After"), timeout=15)

    print(f"\nIMAP server restarted → next message delivered after {elapsed:.1f} s")
    assert received["subject"] == "After"
    assert await metric(node, 'tocsin_errors_total{where="imap"}') > lost_before


async def test_first_start_publishes_only_the_backfill(
    dovecot: Dovecot, start_node: Any, clients: list[Client]
) -> None:
    dovecot.append(mail("Old"))
    dovecot.append(mail("Recent"))
    node = start_node(dovecot.mailbox("greffe-first", ALICE, backfill=1))
    alice = await connect(clients, node, since=0)
    await alice.wait_notifications(1)
    await delivered(dovecot, alice, mail("New"))
    assert [n["subject"] for n in alice.notifications()] == ["Recent", "New"]
