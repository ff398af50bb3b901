"""Issue 17: actions on notifications (validated when published, the first one recorded
once per user, read and audited) and the ``critical`` flag.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.helpers import ServerThread, email, publish
from tests.integration.inbox_states import (
    ACTIONS,
    BOTH_STORES,
    OTHER_TENANT,
    TENANT,
    USER,
    People,
    badge,
    bearer,
    call,
    changed,
    item,
    items,
    nth,
    ok,
    post,
    published,
    sync,
)

# The tests' node and clients: pytest finds a module's fixtures among its names.
from tests.integration.inbox_states import database_url_fixture as database_url_fixture
from tests.integration.inbox_states import people_fixture as people_fixture
from tests.integration.inbox_states import settings_fixture as settings_fixture
from tocsin.config import Settings
from tocsin.store.sql import SqlStore

# -- actions -----------------------------------------------------------------------------


async def test_publishing_actions_is_validated(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    three = [
        {"id": "ack", "label": "Accuser réception", "primary": True},
        {"id": "open", "label": "Ouvrir", "url": "/dossiers/D-1"},
        {"id": "site", "label": "Site", "url": "https://greffe.example/affaire?id=1"},
    ]
    id_, _ = await published(http, email(USER, TENANT, actions=three))
    [live] = await people.tab1.wait_notifications(1)
    assert live["id"] == id_ and live["actions"] == three and live["actionTaken"] is None
    assert (await item(http, id_))["actions"] == three

    refused = [
        ([*three, {"id": "more", "label": "Encore"}], "actions"),
        ([{"id": "x", "label": "Un"}, {"id": "x", "label": "Deux"}], "actions"),
        ([{"id": "x", "label": "Lien", "url": "javascript:alert(1)"}], "actions.0.url"),
        ([{"id": "x", "label": "Lien", "url": "//evil.example/phish"}], "actions.0.url"),
        ([{"id": "x", "label": "Lien", "url": "JaVaScRiPt:alert(1)"}], "actions.0.url"),
    ]
    for actions, field in refused:
        response = await publish(http, email(USER, TENANT, actions=actions))
        assert response.status_code == 422, (actions, response.text)
        assert response.json()["field"] == field, (actions, response.json())
    await sync(http, people.tab1)
    assert [n["id"] for n in people.tab1.notifications()][:-1] == [id_]


@BOTH_STORES
async def test_act_records_the_first_action_once_marks_read_and_is_audited(
    server: ServerThread,
    http: httpx.AsyncClient,
    people: People,
    settings: Settings,
) -> None:
    tab1, tab2 = people.tab1, people.tab2
    id_, _ = await published(http, email(USER, TENANT, actions=ACTIONS))
    other, _ = await published(http, email(USER, TENANT, actions=ACTIONS))
    plain, _ = await published(http, email(USER, TENANT))
    first = await ok(tab1, "act", {"id": id_, "action": "ack"})
    assert first["id"] == id_ and first["action"] == "ack" and first["alreadyActed"] is False
    assert first["ids"] == [id_] and (first["unreadCount"], first["unseenCount"]) == (2, 2)
    acted_at = datetime.fromisoformat(first["actedAt"])
    assert abs((datetime.now(UTC) - acted_at).total_seconds()) < 60

    # a second act, with another action and over HTTP, answers the first
    second = await post(http, "act", {"id": id_, "action": "later"})
    assert second == {**first, "alreadyActed": True}
    state = await item(http, id_)
    assert (state["actionTaken"], state["actedAt"], state["read"], state["seen"]) == (
        "ack",
        first["actedAt"],
        True,
        True,
    )
    assert "action" not in state  # the seed's email-received has no such field
    assert await badge(http, tab2) == (2, 2)
    got = await nth(tab2, "notifications-changed", 1)
    assert got == changed("acted", first)

    # unknown action, another user's notification, another firm's: 404, nothing recorded
    for client, data in [
        (tab1, {"id": other, "action": "nope"}),
        (people.bob, {"id": other, "action": "ack"}),
        (people.namesake, {"id": other, "action": "ack"}),
        (tab1, {"id": "0" * 32, "action": "ack"}),
        (tab1, {"id": plain, "action": "ack"}),
    ]:
        answer = await call(client, "act", data)
        assert answer["ok"] is False and answer["error"] == "not_found", (data, answer)
    response = await http.post(
        "/api/v1/inbox/act", json={"id": other, "action": "ack"}, headers=bearer("bob")
    )
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    response = await http.post(
        "/api/v1/inbox/act", json={"id": other, "action": "nope"}, headers=bearer()
    )
    assert response.status_code == 404 and response.json()["field"] == "action"
    state = await item(http, other)
    assert (state["actionTaken"], state["read"]) == (None, False)
    assert "actedAt" not in state

    # exactly one audit entry, even after two acts
    store = SqlStore(settings.database_url)
    await store.open(migrate=False)
    try:
        entries = await store.list_audit(TENANT, since=None, limit=100)
    finally:
        await store.close()
    acts = [entry for entry in entries if entry.action == "act"]
    assert len(acts) == 1, entries
    assert (acts[0].actor, acts[0].target, acts[0].detail) == (
        f"user:{USER}",
        id_,
        {"action": "ack", "userId": USER},
    )


async def test_acting_on_a_tenant_wide_notification_is_per_user(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    system, _ = await published(
        http,
        {
            "event": "system-notification",
            "title": "Nouvelle version",
            "message": "Merci de confirmer la lecture",
            "type": "info",
            "tenantId": TENANT,
            "actions": ACTIONS,
        },
    )
    alice = await post(http, "act", {"id": system, "action": "ack"})
    bob = await post(http, "act", {"id": system, "action": "later"}, user="bob")
    assert (alice["action"], alice["alreadyActed"]) == ("ack", False)
    assert (bob["action"], bob["alreadyActed"]) == ("later", False)
    assert (await item(http, system))["actionTaken"] == "ack"
    assert (await item(http, system, "bob"))["actionTaken"] == "later"
    refused = await http.post(
        "/api/v1/inbox/act",
        json={"id": system, "action": "ack"},
        headers=bearer(USER, OTHER_TENANT),
    )
    assert refused.status_code == 404


# -- critical ----------------------------------------------------------------------------


async def test_critical_is_set_exactly_as_designed(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    def deadline(urgency: str) -> dict[str, Any]:
        return {
            "event": "deadline-alert",
            "dossierNumber": "D-1",
            "message": "Délai",
            "urgency": urgency,
            "deadlineType": "OQTF",
            "remainingDays": 1,
            "userId": USER,
            "tenantId": TENANT,
        }

    def system(kind: str, **extra: Any) -> dict[str, Any]:
        return {
            "event": "system-notification",
            "title": "Système",
            "message": "Message",
            "type": kind,
            "userId": USER,
            "tenantId": TENANT,
            **extra,
        }

    cases = [
        (deadline("critical"), True),
        (deadline("urgent"), False),
        (deadline("warning"), False),
        (deadline("info"), False),
        (system("error"), True),
        (system("warning"), False),
        (system("info", critical=True), True),
        (email(USER, TENANT, critical=True), True),
        (email(USER, TENANT, critical=False), False),
        (email(USER, TENANT), False),
    ]
    ids = [(await published(http, notification))[0] for notification, _ in cases]
    expected = {id_: critical for id_, (_, critical) in zip(ids, cases, strict=True)}
    live = await people.tab1.wait_notifications(len(cases))
    assert {n["id"]: n["critical"] for n in live} == expected
    stored = await items(http)
    assert {i["id"]: i["critical"] for i in stored} == expected
