"""A real Node ``socket.io-client`` 4.x against a real Tocsin server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.compat.node_client import NodeClient, require_node_client
from tests.helpers import JWT_SECRET, NEW_STATE, TOCSIN_ID, ServerThread, email, publish, token
from tocsin.auth.jwt import mint_jwt

pytestmark = pytest.mark.node

TENANT = "cabinet-1"
USER = "avocat-1"
STAMP = "2026-01-07T09:30:00.000Z"

SEEDS: dict[str, dict[str, Any]] = {
    "email-received": {
        "id": "mail-42",
        "subject": "Convocation audience",
        "from": "Greffe du tribunal <greffe@tribunal.fr>",
        "dossierNumber": "D-2026-001",
        "userId": USER,
        "tenantId": TENANT,
        "timestamp": STAMP,
    },
    "dossier-updated": {
        "id": "dossier-7",
        "dossierNumber": "D-2026-007",
        "dossierTitle": "Martin - OQTF",
        "action": "status_changed",
        "status": "En cours",
        "userId": USER,
        "tenantId": TENANT,
        "timestamp": STAMP,
    },
    "deadline-alert": {
        "id": "deadline-7",
        "dossierNumber": "D-2026-007",
        "message": "OQTF délai expire demain!",
        "urgency": "critical",
        "deadlineType": "OQTF",
        "remainingDays": 1,
        "userId": USER,
        "tenantId": TENANT,
        "timestamp": STAMP,
    },
    "system-notification": {
        "id": "maintenance-1",
        "title": "Maintenance",
        "message": "Scheduled maintenance at 2am",
        "type": "warning",
        "userId": USER,
        "tenantId": TENANT,
        "timestamp": STAMP,
    },
}

Spawn = Callable[..., Awaitable[NodeClient]]


@pytest.fixture
def node() -> str:
    return require_node_client()


@pytest.fixture
async def spawn(node: str, server: ServerThread) -> AsyncIterator[Spawn]:
    clients: list[NodeClient] = []

    async def start(
        user: str = USER,
        tenant: str = TENANT,
        *,
        since: int | None = None,
        auth: dict[str, Any] | None = None,
    ) -> NodeClient:
        if auth is None:
            auth = {"token": token(user, tenant)}
            if since is not None:
                auth["since"] = since
        client = NodeClient(node, server.url, auth)
        clients.append(client)
        return await client.start()

    yield start
    for client in clients:
        await client.close()


async def published(http: httpx.AsyncClient, notification: dict[str, Any]) -> dict[str, Any]:
    response = await publish(http, notification)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_cursor(value: Any) -> None:
    assert isinstance(value, int) and not isinstance(value, bool)
    assert 0 < value < 2**53


def assert_iso(value: Any) -> None:
    assert isinstance(value, str)
    assert datetime.fromisoformat(value).tzinfo is not None


def notifications(client: NodeClient) -> list[dict[str, Any]]:
    return [m["data"] for m in client.events() if m["event"] in SEEDS]


async def test_each_kind_arrives_with_the_seed_payload(
    spawn: Spawn, http: httpx.AsyncClient
) -> None:
    client = await spawn()
    await client.connected()
    results = {name: await published(http, {"event": name, **seed}) for name, seed in SEEDS.items()}

    await client.wait_for(lambda _: all(client.events(name) for name in SEEDS))

    for name, seed in SEEDS.items():
        [payload] = client.events(name)
        fields = {key: value for key, value in seed.items() if key != "id"}
        assert set(payload) == {*fields, "id", "sourceId", "cursor", "read", *NEW_STATE}, name
        assert {key: payload[key] for key in fields} == fields, name
        assert payload["cursor"] == results[name]["cursor"]
        # Tocsin's id, the one the publish answered; the publisher's id travels as sourceId.
        assert payload["id"] == results[name]["id"] and TOCSIN_ID.match(payload["id"]), name
        assert payload["sourceId"] == seed["id"], name
        assert payload["read"] is False
        assert_cursor(payload["cursor"])
        assert_iso(payload["timestamp"])
    cursors = [m["data"]["cursor"] for m in client.events() if m["event"] in SEEDS]
    assert cursors == sorted(cursors)


async def test_optional_fields_are_absent_and_defaults_generated(
    spawn: Spawn, http: httpx.AsyncClient
) -> None:
    client = await spawn()
    await client.connected()
    plain = email(USER, TENANT)
    del plain["dossierNumber"]
    await published(http, plain)
    broadcast = {
        "event": "system-notification",
        "title": "Mise à jour",
        "message": "Nouvelles fonctionnalités",
        "type": "success",
        "tenantId": TENANT,
    }
    await published(http, broadcast)

    await client.wait_for(lambda _: len(notifications(client)) == 2)

    [mail] = client.events("email-received")
    assert set(mail) == {
        "id",
        "subject",
        "from",
        "userId",
        "tenantId",
        "timestamp",
        "cursor",
        "read",
        *NEW_STATE,
    }
    [system] = client.events("system-notification")
    assert set(system) == {
        "id",
        "title",
        "message",
        "type",
        "tenantId",
        "timestamp",
        "cursor",
        "read",
        *NEW_STATE,
    }
    for payload in (mail, system):
        assert isinstance(payload["id"], str) and payload["id"]
        assert_iso(payload["timestamp"])
        assert_cursor(payload["cursor"])


def _expired() -> str:
    return mint_jwt(JWT_SECRET, user_id=USER, tenant_id=TENANT, ttl=-120)


def _foreign() -> str:
    return mint_jwt("another-secret-that-is-long-enough-0123456789", user_id=USER, tenant_id=TENANT)


@pytest.mark.parametrize(
    ("make_auth", "reason"),
    [
        (lambda: {"token": "not-a-token"}, "invalid_token"),
        (lambda: {"token": _foreign()}, "invalid_token"),
        (lambda: {}, "missing_token"),
        (lambda: {"token": _expired()}, "expired"),
        (lambda: {"token": token(USER, "")}, "no_tenant"),
    ],
    ids=["garbage", "foreign-signature", "no-token", "expired", "no-tenant"],
)
async def test_refused_connection_is_a_connect_error(
    spawn: Spawn, make_auth: Callable[[], dict[str, Any]], reason: str
) -> None:
    client = await spawn(auth=make_auth())

    refusal = await client.wait_message("connect_error")

    assert refusal["message"] == "Unauthorized"
    assert refusal["data"]["reason"] == reason
    assert not any(m["type"] == "connect" for m in client.lines)
    assert client.events() == []


async def test_mark_read_acknowledges_and_tells_the_other_tabs(
    spawn: Spawn, http: httpx.AsyncClient
) -> None:
    tab = await spawn()
    other_tab = await spawn()
    await tab.connected()
    await other_tab.connected()
    first = await published(http, email(USER, TENANT, "Premier"))
    await published(http, email(USER, TENANT, "Second"))
    await tab.wait_for(lambda _: len(tab.events("email-received")) == 2)

    ack = await tab.emit("mark-read", {"ids": [first["id"]]})

    assert ack == {"ok": True, "ids": [first["id"]], "unreadCount": 1, "unseenCount": 1}
    await other_tab.wait_for(lambda _: bool(other_tab.events("notifications-read")))
    [read] = other_tab.events("notifications-read")
    assert read["ids"] == [first["id"]]
    assert read["all"] is False
    assert tab.events("notifications-read") == []

    refused = await tab.emit("mark-read", {"ids": "not-a-list"})
    assert refused["ok"] is False
    assert refused["error"]


async def test_since_replays_exactly_what_was_missed(spawn: Spawn, http: httpx.AsyncClient) -> None:
    first_session = await spawn()
    await first_session.connected()
    await published(http, email(USER, TENANT, "Avant"))
    await first_session.wait_for(lambda _: bool(first_session.events("email-received")))
    [seen] = first_session.events("email-received")
    await first_session.close()

    missed = [await published(http, email(USER, TENANT, f"Absent {n}")) for n in range(3)]

    second_session = await spawn(since=seen["cursor"])
    await second_session.connected()
    await second_session.wait_for(lambda _: len(notifications(second_session)) >= 3)
    sentinel = await published(http, email(USER, TENANT, "Après"))
    await second_session.wait_for(
        lambda _: any(n["id"] == sentinel["id"] for n in notifications(second_session))
    )

    received = notifications(second_session)
    assert [n["id"] for n in received] == [m["id"] for m in missed] + [sentinel["id"]]
    assert [n["cursor"] for n in received] == [m["cursor"] for m in missed] + [sentinel["cursor"]]
    assert [n["subject"] for n in received[:3]] == ["Absent 0", "Absent 1", "Absent 2"]
    assert all(n["read"] is False for n in received)
