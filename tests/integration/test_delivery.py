"""Publish over HTTP → live Socket.IO delivery, rooms and tenant isolation, read state."""

from __future__ import annotations

import contextlib
import re

import httpx

from tests.helpers import (
    NEW_STATE,
    TOCSIN_ID,
    Client,
    ServerThread,
    email,
    ids_by_source,
    publish,
    source_ids,
    token,
)

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def test_publish_reaches_the_user_with_the_seed_payload(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    try:
        response = await publish(
            http, email("alice", "firm-a", id="mail-1", timestamp="2026-01-07T10:00:00+01:00")
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert TOCSIN_ID.match(body["id"]) and isinstance(body["cursor"], int)
        [received] = await client.wait_notifications(1)
        assert received == {
            "id": body["id"],
            "sourceId": "mail-1",
            "subject": "Nouveau courrier",
            "from": "Greffe du tribunal <greffe@tribunal.fr>",
            "dossierNumber": "D-2026-001",
            "userId": "alice",
            "tenantId": "firm-a",
            "timestamp": "2026-01-07T09:00:00.000Z",
            "cursor": body["cursor"],
            "read": False,
            **NEW_STATE,
        }
    finally:
        await client.disconnect()


async def test_each_kind_is_emitted_under_its_event_name(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    kinds = [
        email("alice", "firm-a"),
        {
            "event": "dossier-updated",
            "dossierNumber": "D-1",
            "dossierTitle": "Dupont - Divorce",
            "action": "status_changed",
            "status": "CLOS",
            "userId": "alice",
            "tenantId": "firm-a",
        },
        {
            "event": "deadline-alert",
            "dossierNumber": "D-1",
            "message": "Délai OQTF expire dans 1 jour(s)",
            "urgency": "critical",
            "deadlineType": "OQTF",
            "remainingDays": 1,
            "userId": "alice",
            "tenantId": "firm-a",
        },
        {
            "event": "system-notification",
            "title": "Maintenance",
            "message": "Ce soir à 2h",
            "type": "warning",
            "tenantId": "firm-a",
        },
    ]
    try:
        for kind in kinds:
            assert (await publish(http, kind)).status_code == 202
        await client.wait_notifications(4)
        names = [
            name for name, data in client.log.events if isinstance(data, dict) and "cursor" in data
        ]
        assert names == [k["event"] for k in kinds]
        for (_name, data), kind in zip(
            [(n, d) for n, d in client.log.events if isinstance(d, dict) and "cursor" in d],
            kinds,
            strict=True,
        ):
            expected_keys = (set(kind) - {"event"}) | {
                "id",
                "timestamp",
                "cursor",
                "read",
                *NEW_STATE,
            }
            assert set(data) == expected_keys
            assert ISO.match(data["timestamp"])
    finally:
        await client.disconnect()


async def test_tenant_isolation(server: ServerThread, http: httpx.AsyncClient) -> None:
    alice_a = Client(server.url, "alice", "firm-a")
    alice_b = Client(server.url, "alice", "firm-b")  # same user id, other tenant
    bob_b = Client(server.url, "bob", "firm-b")
    for c in (alice_a, alice_b, bob_b):
        await c.connect()
    try:
        sends = [
            email("alice", "firm-b", id="user-b"),
            {
                "event": "system-notification",
                "title": "B",
                "message": "b",
                "type": "info",
                "tenantId": "firm-b",
                "id": "tenant-b",
            },
            {
                "event": "system-notification",
                "title": "All",
                "message": "all",
                "type": "success",
                "id": "everyone",
            },
            email("alice", "firm-a", id="user-a"),
        ]
        for item in sends:
            assert (await publish(http, item)).status_code == 202
        await alice_a.wait_notifications(2)
        await alice_b.wait_notifications(3)
        await bob_b.wait_notifications(2)
        # The last publish went to firm-a; everything for B was published before it and
        # is delivered in cursor order, so nothing for B can still be in flight to A.
        assert source_ids(alice_a.notifications()) == ["everyone", "user-a"]
        assert source_ids(alice_b.notifications()) == ["user-b", "tenant-b", "everyone"]
        assert source_ids(bob_b.notifications()) == ["tenant-b", "everyone"]
    finally:
        for c in (alice_a, alice_b, bob_b):
            await c.disconnect()


async def test_clients_count_is_per_tenant(server: ServerThread) -> None:
    a1 = Client(server.url, "alice", "firm-a")
    a2 = Client(server.url, "bob", "firm-a")
    b1 = Client(server.url, "carol", "firm-b")
    await a1.connect()
    await a1.log.wait_for(lambda log: {"count": 1} in log.of("clients-count"))
    await b1.connect()
    await a2.connect()
    try:
        await a1.log.wait_for(lambda log: log.of("clients-count")[-1:] == [{"count": 2}])
        await b1.log.wait_for(lambda log: log.of("clients-count")[-1:] == [{"count": 1}])
        assert all(c["count"] <= 1 for c in b1.log.of("clients-count"))
        await a2.disconnect()
        await a1.log.wait_for(lambda log: log.of("clients-count")[-1:] == [{"count": 1}])
    finally:
        for c in (a1, a2, b1):
            await c.disconnect()


async def test_mark_read_on_one_socket_reaches_the_other(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    tab1 = Client(server.url, "alice", "firm-a")
    tab2 = Client(server.url, "alice", "firm-a")
    other_user = Client(server.url, "bob", "firm-a")
    for c in (tab1, tab2, other_user):
        await c.connect()
    try:
        for i in range(3):
            await publish(http, email("alice", "firm-a", id=f"m{i}"))
        await tab1.wait_notifications(3)
        await tab2.wait_notifications(3)
        ids = ids_by_source(tab1.notifications())
        assert ids == ids_by_source(tab2.notifications())
        marked = [ids["m0"], ids["m2"]]
        # Marking read takes Tocsin's ids: a publisher's id (sourceId) marks nothing.
        ack = await tab1.sio.call("mark-read", {"ids": [*marked, "not-mine", "m1"]}, timeout=5)
        assert ack == {"ok": True, "ids": marked, "unreadCount": 1, "unseenCount": 1}
        await tab2.log.wait_for(lambda log: bool(log.of("notifications-read")))
        assert tab2.log.of("notifications-read") == [
            {"ids": marked, "all": False, "unreadCount": 1}
        ]
        headers = {"Authorization": f"Bearer {token('alice', 'firm-a')}"}
        count = await http.get("/api/v1/inbox/unread-count", headers=headers)
        assert count.json() == {"count": 1, "unseen": 1}
        inbox = (await http.get("/api/v1/inbox", headers=headers)).json()
        assert [(i["id"], i["sourceId"], i["read"]) for i in inbox["items"]] == [
            (ids["m2"], "m2", True),
            (ids["m1"], "m1", False),
            (ids["m0"], "m0", True),
        ]
        ack = await tab2.sio.call("mark-all-read", {}, timeout=5)
        assert ack["ok"] and ack["unreadCount"] == 0
        await tab1.log.wait_for(lambda log: any(e["all"] for e in log.of("notifications-read")))
        assert (await http.get("/api/v1/inbox/unread-count", headers=headers)).json() == {
            "count": 0,
            "unseen": 0,
        }
        # The sender does not get its own echo, and another user hears nothing.
        assert not [e for e in tab1.log.of("notifications-read") if not e["all"]]
        assert other_user.log.of("notifications-read") == []
    finally:
        for c in (tab1, tab2, other_user):
            await c.disconnect()


async def test_client_events_inbox_and_bad_payloads(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    try:
        for i in range(3):
            await publish(http, email("alice", "firm-a", id=f"i{i}"))
        page = await client.sio.call("inbox", {"limit": 2}, timeout=5)
        assert page["ok"] and source_ids(page["items"]) == ["i2", "i1"]
        assert page["items"][0]["event"] == "email-received"
        # The newest page's count goes up to its newest item; every page counts all unread.
        assert page["unreadCount"] == 3
        rest = await client.sio.call("inbox", {"limit": 2, "before": page["nextBefore"]}, timeout=5)
        assert source_ids(rest["items"]) == ["i0"] and rest["nextBefore"] is None
        assert rest["unreadCount"] == 3
        only_system = await client.sio.call("inbox", {"type": "system-notification"}, timeout=5)
        assert only_system["items"] == [] and only_system["unreadCount"] == 3
        bad = await client.sio.call("mark-read", {"ids": "i0"}, timeout=5)
        assert bad == {
            "ok": False,
            "error": "validation_error",
            "field": "ids",
            "message": "ids: must be a list of notification ids",
        }
        bad_limit = await client.sio.call("inbox", {"limit": 0}, timeout=5)
        assert bad_limit["ok"] is False and bad_limit["field"] == "limit"
        cleared = await client.sio.call("clear", {}, timeout=5)
        assert cleared["ok"] and cleared["unreadCount"] == 0
        empty = await client.sio.call("inbox", {}, timeout=5)
        assert empty["items"] == []
        # A client cannot join rooms: there is no such event, and it changes nothing.
        await client.sio.emit("join", {"room": "tenant:firm-b"})
        await publish(http, email("alice", "firm-b", id="foreign"))
        await publish(http, email("alice", "firm-a", id="own"))
        await client.log.wait_for(lambda log: "own" in source_ids(client.notifications()))
        assert "foreign" not in source_ids(client.notifications())
    finally:
        await client.disconnect()


async def test_refused_sockets_get_a_reason(server: ServerThread) -> None:
    import socketio

    for auth, reason in [
        ({}, "missing_token"),
        ({"token": "garbage"}, "invalid_token"),
        ({"token": token("alice", "firm-a", exp=1)}, "expired"),
        ({"token": token("alice", "firm-a", tenantId="")}, "no_tenant"),
    ]:
        sio = socketio.AsyncClient(reconnection=False)
        errors: list[object] = []
        sio.on("connect_error", errors.append)
        with contextlib.suppress(socketio.exceptions.ConnectionError):
            await sio.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=5)
        assert errors == [{"message": "Unauthorized", "data": {"reason": reason}}], auth
