"""A node sends what it stored itself from memory, and reads the store for everything else.

The dispatcher takes notifications this process just committed without reading them back;
these tests show the shortcut changes nothing a client can see: same payload as the store
holds, and a notification stored by another process (no hand-off, no doorbell) is still
delivered, in cursor order, when a handed-over one arrives after it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.helpers import ADMIN_KEY, Client, ServerThread, email, publish, tocsin_cli, token
from tocsin.config import Settings
from tocsin.realtime import dispatcher as dispatcher_module


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


def _hand_over_probe(server: ServerThread) -> tuple[Any, list[tuple[int, int, int | None]]]:
    """The node's dispatcher, and what it had done when each hand-over returned:
    (newest cursor handed, dispatcher cursor, recipients gone through of an unfinished one).

    The probe is a second ``on_stored`` listener, called on the node's loop right after the
    dispatcher's own, inside the publish request.
    """
    dispatcher = server.app.other_asgi_app.state.dispatcher
    seen: list[tuple[int, int, int | None]] = []

    def probe(notes: list[Any]) -> None:
        unfinished = dispatcher._unfinished
        seen.append(
            (
                max(n.cursor for n in notes),
                dispatcher.cursor,
                None if unfinished is None else unfinished.position,
            )
        )

    server.service.on_stored(probe)
    return dispatcher, seen


async def test_an_idle_node_sends_before_answering_the_publisher(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    dispatcher, seen = _hand_over_probe(server)
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    try:
        for i in range(3):
            response = await publish(http, email("alice", "firm-a", id=f"now-{i}"))
            assert response.status_code == 202, response.text
            [connection] = dispatcher.registry.of_user("firm-a", "alice")
            # Already sent when the 202 was written, not a loop iteration later.
            assert connection.delivered == response.json()["cursor"]
        await client.wait_notifications(3)
    finally:
        await client.disconnect()
    assert [(handed, cursor) for handed, cursor, _ in seen] == [(c, c) for c in (1, 2, 3)]
    assert [n["sourceId"] for n in client.notifications()] == ["now-0", "now-1", "now-2"]


async def test_a_fan_out_beyond_one_chunk_is_finished_by_the_loop_in_order(
    server: ServerThread, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two recipients per chunk: the hand-over sends the first notification to two of the
    # five sockets, the loop does the rest, and nothing published meanwhile overtakes it.
    monkeypatch.setattr(dispatcher_module, "FANOUT_CHUNK", 2)
    _, seen = _hand_over_probe(server)
    clients = [Client(server.url, f"user-{i}", "firm-a") for i in range(5)]
    await asyncio.gather(*(c.connect() for c in clients))
    try:
        notes = [
            {"event": "system-notification", "type": "info", "title": f"t{i}", "message": "m"}
            for i in range(3)
        ]
        batch = http.post(
            "/api/v1/notifications/batch",
            json={"notifications": [{**n, "tenantId": "firm-a"} for n in notes]},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        single = publish(
            http,
            {
                "event": "system-notification",
                "type": "info",
                "title": "t3",
                "message": "m",
                "tenantId": "firm-a",
            },
        )
        responses = await asyncio.gather(batch, single)
        assert [r.status_code for r in responses] == [200, 202], [r.text for r in responses]
        for client in clients:
            await client.wait_notifications(4)
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients))
    for client in clients:
        received = client.notifications()
        assert [n["cursor"] for n in received] == [1, 2, 3, 4]
    # The first hand-over stopped after two recipients of its first notification.
    assert (1, 2) in [(cursor, position) for _, cursor, position in seen]
