"""A node sends what it stored itself from memory, and reads the store for everything else.

The dispatcher takes notifications this process just committed without reading them back;
these tests show the shortcut changes nothing a client can see: same payload as the store
holds, and a notification stored by another process (no hand-off, no doorbell) is still
delivered, in cursor order, when a handed-over one arrives after it.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import make_settings
from tests.helpers import Client, ServerThread, email, publish, tocsin_cli, token
from tocsin.config import Settings


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    # A store poll once a minute (this module's `server`): a notification the dispatcher
    # was not handed must be found because of the gap before a handed one, not by the poll.
    return make_settings(sqlite_url, poll_interval=60)


async def test_handed_over_payload_is_what_the_store_returns(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    try:
        response = await publish(
            http, email("alice", "firm-a", id="m-1", timestamp="2026-03-01T08:30:15.123456+02:00")
        )
        assert response.status_code == 202, response.text
        [live] = await client.wait_notifications(1)
    finally:
        await client.disconnect()
    inbox = await http.get(
        "/api/v1/inbox", headers={"Authorization": f"Bearer {token('alice', 'firm-a')}"}
    )
    [stored] = inbox.json()["items"]
    assert stored.pop("event") == "email-received"
    assert live == stored
    assert live["timestamp"] == "2026-03-01T06:30:15.123Z"


async def test_a_notification_stored_elsewhere_is_sent_before_a_later_handed_one(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    try:
        # Another process (the CLI) writes into the same SQLite file: nothing is handed over
        # and this node hears no doorbell.
        elsewhere = await asyncio.to_thread(
            tocsin_cli,
            server.settings,
            "send",
            "email-received",
            "subject=from the CLI",
            "from=Greffe <greffe@tribunal.fr>",
            "--tenant",
            "firm-a",
            "--user",
            "alice",
        )
        response = await publish(http, email("alice", "firm-a", subject="over HTTP"))
        assert response.status_code == 202, response.text
        received = await client.wait_notifications(2, timeout=10)
        assert [n["subject"] for n in received] == ["from the CLI", "over HTTP"]
        cursors = [n["cursor"] for n in received]
        assert cursors == sorted(cursors) and len(set(cursors)) == 2
        assert str(cursors[0]) in elsewhere
        assert len(client.notifications()) == 2
    finally:
        await client.disconnect()
