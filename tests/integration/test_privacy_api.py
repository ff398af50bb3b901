"""DESIGN §9 over HTTP, against a real server: a firm's settings (partial, validated,
audited, its own firm only), erasing a user (their sockets told why and disconnected, on
every node), and the export, which gives back every field the API took or shows."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.cluster import NodeProcess, RedisProcess
from tests.conftest import make_settings
from tests.helpers import (
    ADMIN_KEY,
    EventLog,
    ServerThread,
    connected,
    email,
    publish,
    tocsin_cli,
    token,
)
from tocsin.bus.local import LocalBus
from tocsin.config import Settings
from tocsin.service import NotificationService
from tocsin.store.base import AuditEntry, Delivery
from tocsin.store.sql import SqlStore

TENANT, OTHER = "firm-a", "firm-b"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ENDED = "session-ended"


def key_header(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def user_header(user: str, tenant: str = TENANT) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user, tenant)}"}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_keys() -> dict[str, str]:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}


async def api_key(settings: Settings, tenant: str) -> dict[str, str]:
    """A tenant key's header, made in this process (faster than `tocsin keys create`)."""
    store = SqlStore(settings.database_url)
    await store.open(migrate=False)
    try:
        full, _record = await NotificationService(settings, store, LocalBus()).create_api_key(
            tenant
        )
    finally:
        await store.close()
    return key_header(full)


async def audit_of(settings: Settings, tenant: str) -> list[AuditEntry]:
    """The firm's audit entries but the creation of its API keys (the tests' own setup)."""
    store = SqlStore(settings.database_url)
    await store.open(migrate=False)
    try:
        entries = await store.list_audit(tenant, since=None, limit=100)
    finally:
        await store.close()
    return [e for e in entries if e.action != "key.create"]


# -- a firm's settings -----------------------------------------------------------------------


async def test_tenant_settings_are_partial_audited_and_the_firms_own(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    mine = await api_key(server.settings, TENANT)
    theirs = await api_key(server.settings, OTHER)
    url = f"/api/v1/tenants/{TENANT}/settings"
    first = await http.get(url, headers=mine)
    assert first.status_code == 200
    assert first.json() == {
        "tenantId": TENANT,
        "name": None,
        "retentionDays": None,
        "pushAfter": None,
        "emailAfter": None,
        "effective": {"name": TENANT, "retentionDays": 365, "pushAfter": 600, "emailAfter": 1800},
    }
    changed = await http.put(
        url, json={"name": "Cabinet Laurent", "retentionDays": 30}, headers=mine
    )
    assert changed.status_code == 200
    # Partial: what a PUT does not name stays.
    changed = await http.put(url, json={"pushAfter": 120}, headers=ADMIN)
    assert changed.json()["name"] == "Cabinet Laurent"
    assert (changed.json()["retentionDays"], changed.json()["pushAfter"]) == (30, 120)
    # The same values again change nothing and leave no entry; null restores the default.
    assert (await http.put(url, json={"pushAfter": 120}, headers=mine)).status_code == 200
    reset = await http.put(url, json={"retentionDays": None}, headers=mine)
    assert reset.json()["retentionDays"] is None
    assert reset.json()["effective"]["retentionDays"] == 365
    assert (await http.get(url, headers=mine)).json() == reset.json()
    # Another firm's key reads and changes nothing of this one; no key is a 401.
    for method, body in (("GET", None), ("PUT", {"name": "Pirate"})):
        refused = await http.request(method, url, json=body, headers=theirs)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "forbidden"
    assert (await http.get(url)).status_code == 401
    assert (await http.get(url, headers=mine)).json()["name"] == "Cabinet Laurent"
    entries = [e for e in await audit_of(server.settings, TENANT) if e.action == "tenant.settings"]
    assert [e.detail for e in entries] == [
        {"changed": {"name": "Cabinet Laurent", "retentionDays": 30}},
        {"changed": {"pushAfter": 120}},
        {"changed": {"retentionDays": None}},
    ]
    assert entries[1].actor == "key:admin" and entries[0].actor.startswith("key:")
    assert {e.target for e in entries} == {TENANT}
    assert await audit_of(server.settings, OTHER) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x" * 201}, "name"),
        ({"name": ""}, "name"),
        ({"name": "Cabinet\r\nBcc: x@y.z"}, "name"),
        ({"name": 7}, "name"),
        ({"retentionDays": 0}, "retentionDays"),
        ({"retentionDays": 36_501}, "retentionDays"),
        ({"retentionDays": 1.5}, "retentionDays"),
        ({"retentionDays": True}, "retentionDays"),
        ({"pushAfter": -1}, "pushAfter"),
        ({"pushAfter": "60"}, "pushAfter"),
        ({"emailAfter": 604_801}, "emailAfter"),
        ({"name": "ok", "colour": "red"}, "colour"),
        (["name"], "body"),
    ],
)
async def test_bad_settings_are_refused_naming_the_field(
    server: ServerThread, http: httpx.AsyncClient, body: Any, field: str
) -> None:
    url = f"/api/v1/tenants/{TENANT}/settings"
    refused = await http.put(url, json=body, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    assert (refused.json()["error"], refused.json()["field"]) == ("validation_error", field)
    assert (await http.get(url, headers=ADMIN)).json()["name"] is None
    assert await audit_of(server.settings, TENANT) == []


# -- erasure --------------------------------------------------------------------------------


def ended_then_gone(log: EventLog) -> bool:
    names = [name for name, _ in log.events]
    return "disconnect" in names and ENDED in names


async def test_erasure_disconnects_the_user_and_no_one_else(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    mine = await api_key(server.settings, TENANT)
    theirs = await api_key(server.settings, OTHER)
    for user, tenant in (("alice", TENANT), ("bob", TENANT), ("alice", OTHER)):
        assert (await publish(http, email(user, tenant))).status_code == 202
    shared = {"event": "system-notification", "title": "T", "message": "M", "type": "info"}
    assert (await publish(http, {**shared, "tenantId": TENANT})).status_code == 202
    async with (
        connected(server.url, "alice", TENANT) as alice,
        connected(server.url, "bob", TENANT) as bob,
        connected(server.url, "alice", OTHER) as twin,
    ):
        read = await http.post("/api/v1/inbox/read-all", json={}, headers=user_header("alice"))
        assert read.status_code == 200
        url = f"/api/v1/tenants/{TENANT}/users/alice"
        assert (await http.delete(url, headers=theirs)).status_code == 403
        assert alice.sio.connected
        erased = await http.delete(url, headers=mine)
        assert erased.status_code == 200, erased.text
        counts = erased.json()["erased"]
        assert (counts["notifications"], counts["watermarks"]) == (1, 1)
        await alice.log.wait_for(ended_then_gone, timeout=5)
        names = [name for name, _ in alice.log.events]
        assert names.index(ENDED) < names.index("disconnect")
        assert alice.log.of(ENDED) == [{"reason": "erased"}]
        # The colleague and the other firm's alice stay, and still receive.
        assert bob.sio.connected and twin.sio.connected
        await publish(http, email("bob", TENANT, "après"))
        await publish(http, email("alice", OTHER, "après"))
        assert [n["subject"] for n in (await bob.wait_notifications(1))] == ["après"]
        assert [n["subject"] for n in (await twin.wait_notifications(1))] == ["après"]
        assert ENDED not in [name for name, _ in bob.log.events + twin.log.events]
    # What is left for a new alice: the firm's notification, unread again.
    inbox = await http.get("/api/v1/inbox", headers=user_header("alice"))
    assert [(i["event"], i["read"]) for i in inbox.json()["items"]] == [
        ("system-notification", False)
    ]
    twin_inbox = await http.get("/api/v1/inbox", headers=user_header("alice", OTHER))
    assert len(twin_inbox.json()["items"]) == 2
    [entry] = [e for e in await audit_of(server.settings, TENANT) if e.action == "user.erase"]
    assert "alice" not in json.dumps([entry.actor, entry.target, entry.detail])
    assert entry.detail == {"erased": counts}


async def test_erasure_reaches_sockets_on_another_node(
    tmp_path: Any, postgres_url: str, redis: RedisProcess
) -> None:
    nodes = [NodeProcess(postgres_url, redis.url) for _ in range(2)]
    try:
        for node in nodes:
            node.start()
        async with (
            connected(nodes[1].url, "alice", TENANT) as alice,
            connected(nodes[1].url, "bob", TENANT) as bob,
            httpx.AsyncClient(base_url=nodes[0].url, timeout=30) as http,
        ):
            erased = await http.delete(f"/api/v1/tenants/{TENANT}/users/alice", headers=ADMIN)
            assert erased.status_code == 200, erased.text
            await alice.log.wait_for(ended_then_gone, timeout=5)
            assert alice.log.of(ENDED) == [{"reason": "erased"}]
            assert bob.sio.connected
    finally:
        for node in nodes:
            node.close()


# -- export ---------------------------------------------------------------------------------


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url, push_services=["https://fcm.googleapis.com/*"])


async def inbox_items(http: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of the user's inbox, archive and snoozed list, as the API shows them."""
    items: list[dict[str, Any]] = []
    for view in ({}, {"archived": "true"}, {"snoozed": "true"}):
        page = await http.get("/api/v1/inbox", params={"limit": 200, **view}, headers=headers)
        items += page.json()["items"]
    return items


async def test_export_gives_back_every_field(server: ServerThread, http: httpx.AsyncClient) -> None:
    alice = user_header("alice")
    when = "2026-03-02T09:15:00.000Z"
    acts = [
        {"id": "acknowledge", "label": "Accuser réception", "primary": True},
        {"id": "open", "label": "Ouvrir", "url": "https://app.example.com/d/14"},
    ]
    published = {}
    for name, body in {
        "mail": email(
            "alice",
            TENANT,
            id="mail-77",
            timestamp=when,
            actions=acts,
            critical=True,
        ),
        "dossier": {
            "event": "dossier-updated",
            "dossierNumber": "D-2026-014",
            "dossierTitle": "Durand c/ SCI Les Tilleuls",
            "action": "status_changed",
            "status": "Audience fixée",
            "userId": "alice",
            "tenantId": TENANT,
        },
        "deadline": {
            "event": "deadline-alert",
            "dossierNumber": "D-2026-014",
            "message": "Conclusions à déposer",
            "urgency": "urgent",
            "deadlineType": "Conclusions",
            "remainingDays": 2,
            "userId": "alice",
            "tenantId": TENANT,
        },
        "own-system": {
            "event": "system-notification",
            "title": "Compte",
            "message": "Mot de passe changé",
            "type": "success",
            "userId": "alice",
            "tenantId": TENANT,
        },
        "firm": {
            "event": "system-notification",
            "title": "Fermeture",
            "message": "Le cabinet ferme le 14",
            "type": "warning",
            "tenantId": TENANT,
        },
        "everyone": {
            "event": "system-notification",
            "title": "Maintenance",
            "message": "Ce soir",
            "type": "info",
        },
        "bob": email("bob", TENANT),
    }.items():
        answer = await publish(http, body, idempotency_key=f"k-{name}")
        assert answer.status_code == 202, answer.text
        published[name] = answer.json()
    ids = {name: p["id"] for name, p in published.items()}

    async def post(path: str, body: dict[str, Any]) -> None:
        answer = await http.post(f"/api/v1/inbox/{path}", json=body, headers=alice)
        assert answer.status_code == 200, answer.text

    await post("read-all", {"upTo": published["mail"]["cursor"] - 1})
    await post("act", {"id": ids["mail"], "action": "acknowledge"})
    await post("seen", {"ids": [ids["dossier"]]})
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    await post("snooze", {"ids": [ids["deadline"]], "until": until.isoformat()})
    await post("archive", {"ids": [ids["own-system"], ids["everyone"]]})
    await post("read", {"ids": [ids["firm"]]})
    preferences: dict[str, Any] = {
        "events": {"dossier-updated": {"push": False, "email": True}},
        "quietHours": {"timezone": "Europe/Paris", "start": "20:00", "end": "08:00"},
        "digest": {"email": "daily", "at": "07:30", "timezone": "Europe/Paris"},
    }
    answer = await http.put("/api/v1/preferences", json=preferences, headers=alice)
    assert answer.status_code == 200, answer.text
    profile = {"email": "alice@cabinet-laurent.fr", "locale": "en", "timezone": "Europe/Paris"}
    answer = await http.put(f"/api/v1/tenants/{TENANT}/users/alice", json=profile, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    subscription = {"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "keys": browser_keys()}
    answer = await http.post("/api/v1/push/subscriptions", json=subscription, headers=alice)
    assert answer.status_code == 201, answer.text
    due = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()
    deadline = {
        "dossierNumber": "D-2026-014",
        "deadlineType": "Appel",
        "dueAt": due,
        "userId": "alice",
        "tenantId": TENANT,
        "message": "Délai d'appel",
    }
    answer = await http.put("/api/v1/deadlines/appel-14", json=deadline, headers=ADMIN)
    assert answer.status_code in (200, 201), answer.text
    store = SqlStore(server.settings.database_url)
    await store.open(migrate=False)
    sent_at = datetime(2026, 3, 2, 9, 20, 1, 123000, tzinfo=UTC)
    try:
        await store.add_deliveries(
            [Delivery(published["mail"]["cursor"], TENANT, "alice", "push", "sent", "201", sent_at)]
        )
    finally:
        await store.close()

    response = await http.get(f"/api/v1/tenants/{TENANT}/users/alice/export", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    exported = response.json()

    # Every item the inbox shows, in every view, is in the export with every field equal.
    shown = {item["id"]: item for item in await inbox_items(http, alice)}
    own = {item["id"]: item for item in exported["notifications"]}
    states = {item["id"]: item for item in exported["states"]}
    assert set(own) == {ids[n] for n in ("mail", "dossier", "deadline", "own-system")}
    # The firm's and everyone's notifications come with alice's state of them, no others.
    assert set(states) == {ids["firm"], ids["everyone"]}
    assert set(shown) == set(own) | set(states)
    for item_id, item in shown.items():
        copy = {**own, **states}[item_id]
        for field, value in item.items():
            assert copy[field] == value, (item_id, field)
        assert set(copy) - set(item) <= {"audience", "acceptedAt", "state"}
    mail = own[ids["mail"]]
    assert (mail["sourceId"], mail["timestamp"], mail["critical"]) == ("mail-77", when, True)
    assert mail["actions"] == acts and mail["dossierNumber"] == "D-2026-001"
    assert mail["state"]["action"] == "acknowledge" and mail["state"]["actedAt"] == mail["actedAt"]
    assert mail["audience"] == "user" and mail["acceptedAt"] is not None
    assert own[ids["dossier"]]["status"] == "Audience fixée"
    assert own[ids["dossier"]]["state"]["seenAt"] is not None
    assert own[ids["dossier"]]["state"]["readAt"] is None
    snoozed = own[ids["deadline"]]["state"]["snoozedUntil"]
    assert datetime.fromisoformat(snoozed) == until
    assert own[ids["own-system"]]["state"]["archivedAt"] is not None
    assert states[ids["everyone"]]["audience"] == "all"
    assert states[ids["firm"]]["state"]["readAt"] is not None
    assert exported["watermarks"] == {
        "readUpTo": published["mail"]["cursor"] - 1,
        "clearedUpTo": 0,
    }
    # Preferences as given, profile and subscription as stored, and the rest.
    assert exported["preferences"]["events"] == preferences["events"]
    assert exported["preferences"]["digest"] == preferences["digest"]
    quiet = exported["preferences"]["quietHours"]
    assert {k: quiet[k] for k in preferences["quietHours"]} == preferences["quietHours"]
    assert exported["profile"] == {"tenantId": TENANT, "userId": "alice", **profile}
    [pushed] = exported["pushSubscriptions"]
    assert (pushed["endpoint"], pushed["keys"]) == (subscription["endpoint"], subscription["keys"])
    assert exported["deliveries"] == [
        {
            "cursor": published["mail"]["cursor"],
            "channel": "push",
            "status": "sent",
            "detail": "201",
            "at": "2026-03-02T09:20:01.123Z",
        }
    ]
    [snooze_job] = [j for j in exported["jobs"] if j["kind"] == "snooze"]
    assert snooze_job["status"] == "pending"
    assert snooze_job["payload"]["cursor"] == published["deadline"]["cursor"]
    listed = await http.get("/api/v1/deadlines", params={"tenantId": TENANT}, headers=ADMIN)
    assert exported["deadlines"] == listed.json()["items"]
    [acted] = exported["audit"]
    assert (acted["action"], acted["target"]) == ("act", ids["mail"])
    assert "bob" not in response.text
    # The CLI prints the same document.
    printed = json.loads(
        await asyncio.to_thread(
            tocsin_cli, server.settings, "users", "export", "--tenant", TENANT, "--user", "alice"
        )
    )
    assert {**printed, "exportedAt": None} == {**exported, "exportedAt": None}


async def test_export_and_erasure_are_the_firms_own(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    theirs = await api_key(server.settings, OTHER)
    base = f"/api/v1/tenants/{TENANT}/users/alice"
    assert (await http.get(f"{base}/export", headers=theirs)).status_code == 403
    assert (await http.get(f"{base}/export")).status_code == 401
    assert (await http.delete(base)).status_code == 401
    printed = await asyncio.to_thread(
        tocsin_cli, server.settings, "users", "erase", "--tenant", TENANT, "--user", "alice"
    )
    assert json.loads(printed)["erased"]["notifications"] == 0
    [entry] = await audit_of(server.settings, TENANT)
    assert (entry.actor, entry.action) == ("key:cli", "user.erase")
