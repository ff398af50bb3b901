"""Issue 17 (DESIGN §7) end to end over HTTP and Socket.IO: seen, read, archive, snooze,
actions, critical, counts and preferences, on a real node with real python-socketio clients.

Every change made on one tab must reach the user's other tabs and devices as
``notifications-changed`` within a second, never the tab that made it, never another user;
the badge must be the same whichever way it is asked for.

"Nothing arrived" is never waited for with a sleep: the node (in-process bus) queues a
change for the sockets before it answers the request, and each socket's queue is sent in
order, so a marker notification published afterwards (:func:`sync`) arrives after
anything the change would have sent. A snooze that must not end is checked the same way,
with a later snooze that does end as the marker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.forge import AUTH_SECRET, authjs_token, claims
from tests.helpers import (
    ADMIN_KEY,
    Client,
    EventLog,
    ServerThread,
    connected,
    create_api_key,
    email,
    publish,
    token,
)
from tocsin.config import Settings
from tocsin.store.sql import SqlStore

USER, TENANT, OTHER_TENANT = "alice", "firm-a", "firm-b"
LIVE = 1.0  # seconds: the "within a second" for another tab or device
DUE_WAIT = 6.0  # seconds: a snooze of ~1.5 s, the job runner's poll and a loaded machine
SNOOZE_MIN = 1.0  # the node's TOCSIN_SNOOZE_MIN_SECONDS in these tests (one minute in prod)

ACTIONS = [
    {"id": "ack", "label": "Accuser réception", "primary": True},
    {"id": "later", "label": "Plus tard"},
]

DEFAULTS: dict[str, Any] = {
    "events": {
        "email-received": {"browser": True, "push": True, "email": False},
        "dossier-updated": {"browser": False, "push": False, "email": False},
        "deadline-alert": {"browser": False, "push": True, "email": True},
        "system-notification": {"browser": False, "push": False, "email": False},
    },
    "quietHours": None,
    "digest": {"email": "off", "at": "08:00", "timezone": "Europe/Paris"},
}


@pytest.fixture
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """SQLite, or PostgreSQL for the tests parametrised with ``indirect=True``."""
    if getattr(request, "param", "sqlite") == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return sqlite_url


@pytest.fixture
def settings(database_url: str) -> Settings:
    """A node whose snoozes may be as short as a second and that reads Auth.js cookies."""
    return make_settings(database_url, snooze_min_seconds=SNOOZE_MIN, auth_secret=AUTH_SECRET)


BOTH_STORES = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


@dataclass
class People:
    """Alice's two tabs and her phone; Bob of her firm; another Alice in another firm."""

    tab1: Client
    tab2: Client
    phone: Client
    bob: Client
    namesake: Client


@pytest.fixture
async def people(server: ServerThread) -> AsyncIterator[People]:
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for user, tenant, session in [
            (USER, TENANT, "tab"),
            (USER, TENANT, "tab"),
            (USER, TENANT, "phone"),
            ("bob", TENANT, "tab"),
            (USER, OTHER_TENANT, "tab"),
        ]:
            client = Client(server.url, user, tenant)
            # A device of its own: another session token for the same identity.
            await client.connect(auth_token=token(user, tenant, device=session))
            stack.push_async_callback(client.disconnect)
            clients.append(client)
        yield People(*clients)


# -- small helpers ------------------------------------------------------------------------


def bearer(user: str = USER, tenant: str = TENANT) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user, tenant)}"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def in_seconds(seconds: float) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=seconds))


async def call(client: Client, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A client event and its acknowledgement."""
    answer = await client.sio.call(event, {} if data is None else data, timeout=10)
    assert isinstance(answer, dict), answer
    return answer


async def ok(client: Client, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A client event that must succeed: its acknowledgement without ``ok``."""
    answer = await call(client, event, data)
    assert answer.pop("ok", None) is True, (event, data, answer)
    return answer


async def post(
    http: httpx.AsyncClient, path: str, body: Any, user: str = USER, tenant: str = TENANT
) -> dict[str, Any]:
    """A POST /api/v1/inbox/<path> that must succeed: its answer."""
    response = await http.post(f"/api/v1/inbox/{path}", json=body, headers=bearer(user, tenant))
    assert response.status_code == 200, (path, body, response.text)
    answer: dict[str, Any] = response.json()
    return answer


async def published(http: httpx.AsyncClient, notification: dict[str, Any]) -> tuple[str, int]:
    """Publish; Tocsin's id and cursor of the notification."""
    response = await publish(http, notification)
    assert response.status_code == 202, response.text
    body = response.json()
    return body["id"], body["cursor"]


async def sync(http: httpx.AsyncClient, *clients: Client) -> None:
    """Publish a marker to each client's user and wait until every client has it: what the
    node sent them before has arrived by then."""
    markers: dict[tuple[str, str], str] = {}
    for client in clients:
        who = (client.user, client.tenant)
        if who not in markers:
            markers[who], _ = await published(http, email(*who, subject="marker"))
    for client in clients:
        await client.log.wait_for(has(client, markers[(client.user, client.tenant)]))


def has(client: Client, id_: str) -> Callable[[EventLog], bool]:
    """A check for :meth:`EventLog.wait_for`: the client received notification ``id_``."""
    return lambda _log: any(n["id"] == id_ for n in client.notifications())


async def nth(client: Client, name: str, count: int, timeout: float = LIVE) -> dict[str, Any]:
    """The ``count``-th ``name`` event the client received, waited for up to ``timeout``."""
    await client.log.wait_for(lambda log: len(log.of(name)) >= count, timeout)
    event: dict[str, Any] = client.log.of(name)[count - 1]
    return event


async def counts_everywhere(
    http: httpx.AsyncClient, observer: Client, user: str = USER, tenant: str = TENANT
) -> dict[str, Any]:
    """GET /inbox/counts, after checking that GET /inbox/unread-count and the socket's
    ``counts`` (``observer`` is a socket of the same user) say the same."""
    counts = (await http.get("/api/v1/inbox/counts", headers=bearer(user, tenant))).json()
    badge = (await http.get("/api/v1/inbox/unread-count", headers=bearer(user, tenant))).json()
    assert badge == {"count": counts["unread"], "unseen": counts["unseen"]}, (badge, counts)
    assert await ok(observer, "counts") == counts
    answer: dict[str, Any] = counts
    return answer


async def badge(http: httpx.AsyncClient, observer: Client) -> tuple[int, int]:
    """(unread, unseen), the same over HTTP and over the socket."""
    counts = await counts_everywhere(http, observer)
    return counts["unread"], counts["unseen"]


async def items(
    http: httpx.AsyncClient, user: str = USER, tenant: str = TENANT, **query: str
) -> list[dict[str, Any]]:
    response = await http.get("/api/v1/inbox", params=query, headers=bearer(user, tenant))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


async def views(
    http: httpx.AsyncClient, user: str = USER, tenant: str = TENANT
) -> dict[str, list[str]]:
    """The ids (newest first) of the inbox, the archive and the snoozed view."""
    return {
        "inbox": [i["id"] for i in await items(http, user, tenant)],
        "archived": [i["id"] for i in await items(http, user, tenant, archived="true")],
        "snoozed": [i["id"] for i in await items(http, user, tenant, snoozed="true")],
    }


async def item(http: httpx.AsyncClient, id_: str, user: str = USER, **query: str) -> dict[str, Any]:
    [found] = [i for i in await items(http, user, **query) if i["id"] == id_]
    return found


def changed(change: str, answer: dict[str, Any], *, everything: bool = False) -> dict[str, Any]:
    """The ``notifications-changed`` other sockets must get for a change answered ``answer``."""
    return {"change": change, **answer, **({"all": True} if everything else {})}


def no_state_events(client: Client) -> bool:
    return not client.log.of("notifications-changed", "notifications-read", "notification-due")


# -- 1. every change reaches the other tabs and devices, not the origin nor anyone else ---


@BOTH_STORES
async def test_each_change_on_a_tab_reaches_the_other_tab_and_device_within_a_second(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    tab1, tab2, phone = people.tab1, people.tab2, people.phone
    a, b, c, d = [
        (await published(http, email(USER, TENANT, subject=s, actions=ACTIONS)))[0] for s in "abcd"
    ]
    assert await badge(http, phone) == (4, 4)
    later = in_seconds(3600)
    # (event, data, change, all?, (unread, unseen) after, {view: ids} after, seed event?)
    steps: list[tuple[str, dict[str, Any], str, bool, tuple[int, int], dict[str, Any], str]] = [
        ("mark-seen", {"ids": [a]}, "seen", False, (4, 3), {"inbox": [d, c, b, a]}, ""),
        ("mark-read", {"ids": [a, b]}, "read", False, (2, 2), {"inbox": [d, c, b, a]}, "read"),
        ("archive", {"ids": [a]}, "archived", False, (2, 2),
         {"inbox": [d, c, b], "archived": [a]}, ""),
        ("unarchive", {"ids": [a]}, "unarchived", False, (2, 2), {"inbox": [d, c, b, a]}, ""),
        ("snooze", {"ids": [c], "until": later}, "snoozed", False, (1, 1),
         {"inbox": [d, b, a], "snoozed": [c]}, ""),
        ("unsnooze", {"ids": [c]}, "unsnoozed", False, (2, 2), {"inbox": [d, c, b, a]}, ""),
        ("act", {"id": d, "action": "ack"}, "acted", False, (1, 1), {"inbox": [d, c, b, a]}, ""),
    ]  # fmt: skip
    await run_steps(http, people, steps)
    e, e_cursor = await published(http, email(USER, TENANT, subject="e"))
    f, f_cursor = await published(http, email(USER, TENANT, subject="f"))
    steps = [
        ("archive-all", {"onlyRead": True}, "archived", True, (3, 3),
         {"inbox": [f, e, c], "archived": [d, b, a]}, ""),
        ("archive-all", {"upTo": e_cursor}, "archived", True, (1, 1),
         {"inbox": [f], "archived": [e, d, c, b, a]}, ""),
        ("mark-all-read", {}, "read", True, (0, 0), {"inbox": [f], "archived": [e, d, c, b, a]},
         "read"),
        ("archive-all", {}, "archived", True, (0, 0), {"inbox": [], "archived": [f, e, d, c, b, a]},
         ""),
        ("clear", {}, "cleared", True, (0, 0), {"inbox": [], "archived": []}, "cleared"),
    ]  # fmt: skip
    answers = await run_steps(http, people, steps)
    assert [(x["count"], x["upTo"], x["onlyRead"]) for x in answers if "count" in x] == [
        (3, f_cursor, True),
        (2, e_cursor, False),
        (1, f_cursor, False),
    ]
    # The origin got none of it; Bob and the other firm's Alice got nothing at all.
    await sync(http, tab1, people.bob, people.namesake)
    assert no_state_events(tab1), tab1.log.of("notifications-changed", "notifications-read")
    assert no_state_events(people.bob) and no_state_events(people.namesake)
    assert len(tab2.log.of("notifications-changed")) == len(phone.log.of("notifications-changed"))


async def run_steps(
    http: httpx.AsyncClient,
    people: People,
    steps: list[tuple[str, dict[str, Any], str, bool, tuple[int, int], dict[str, Any], str]],
) -> list[dict[str, Any]]:
    """Make each change on tab1; check the answer, what tab2 and the phone got, the counts
    everywhere and the views over HTTP. Returns the answers."""
    answers = []
    others = (people.tab2, people.phone)
    for event, data, change, everything, counts, expected_views, seed in steps:
        before = {
            id(other): (
                len(other.log.of("notifications-changed")),
                len(other.log.of("notifications-read")),
            )
            for other in others
        }
        answer = await ok(people.tab1, event, data)
        answers.append(answer)
        assert (answer["unreadCount"], answer["unseenCount"]) == counts, (event, answer)
        for other in others:
            changes_before, reads_before = before[id(other)]
            got = await nth(other, "notifications-changed", changes_before + 1)
            assert got == changed(change, answer, everything=everything), (event, got)
            if seed:
                read = await nth(other, "notifications-read", reads_before + 1)
                expected_read: dict[str, Any] = {
                    "ids": answer["ids"],
                    "all": everything,
                    "unreadCount": counts[0],
                }
                if "upTo" in answer:
                    expected_read["upTo"] = answer["upTo"]
                if seed == "cleared":
                    expected_read["cleared"] = True
                assert read == expected_read, (event, read)
        assert await badge(http, people.phone) == counts, event
        assert await views(http) == {"inbox": [], "archived": [], "snoozed": [], **expected_views}
    return answers


@BOTH_STORES
async def test_each_change_over_http_reaches_every_socket_of_the_user(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    a, _ = await published(http, email(USER, TENANT, actions=ACTIONS))
    b, b_cursor = await published(http, email(USER, TENANT, actions=ACTIONS))
    steps: list[tuple[str, dict[str, Any], str, bool, tuple[int, int]]] = [
        ("seen", {"ids": [a]}, "seen", False, (2, 1)),
        ("read", {"ids": [a]}, "read", False, (1, 1)),
        ("archive", {"ids": [a]}, "archived", False, (1, 1)),
        ("unarchive", {"ids": [a]}, "unarchived", False, (1, 1)),
        ("snooze", {"ids": [b], "until": in_seconds(3600)}, "snoozed", False, (0, 0)),
        ("unsnooze", {"ids": [b]}, "unsnoozed", False, (1, 1)),
        ("act", {"id": b, "action": "later"}, "acted", False, (0, 0)),
        ("archive-all", {"onlyRead": True, "upTo": b_cursor}, "archived", True, (0, 0)),
        ("unarchive", {"ids": [a, b]}, "unarchived", False, (0, 0)),
        ("archive-all", {}, "archived", True, (0, 0)),
    ]
    sockets = (people.tab1, people.tab2, people.phone)
    for number, (path, body, change, everything, counts) in enumerate(steps, start=1):
        answer = await post(http, path, body)
        assert (answer["unreadCount"], answer["unseenCount"]) == counts, (path, answer)
        for socket in sockets:
            got = await nth(socket, "notifications-changed", number)
            assert got == changed(change, answer, everything=everything), (path, got)
        assert await badge(http, people.tab1) == counts, path
    # the read change was also told the seed's way
    for socket in sockets:
        read = socket.log.of("notifications-read")[0]
        assert read == {"ids": [a], "all": False, "unreadCount": 1}, read
    await sync(http, people.bob, people.namesake)
    assert no_state_events(people.bob) and no_state_events(people.namesake)


async def test_act_tells_seed_clients_the_item_is_read(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    """``act`` marks the item read: seed clients, which only know ``notifications-read``,
    must hear of it like any other read change, or their badge stays one too high."""
    a, _ = await published(http, email(USER, TENANT, actions=ACTIONS))
    answer = await ok(people.tab1, "act", {"id": a, "action": "ack"})
    assert answer["unreadCount"] == 0
    read = await nth(people.tab2, "notifications-read", 1)
    assert read["ids"] == [a] and read["unreadCount"] == 0, read


# -- 2. counts and views agree; tenant-wide notifications have a state per user ----------


def by_event(counts: dict[str, Any]) -> dict[str, Any]:
    """``byEvent`` without events that have nothing left in the inbox view."""
    return {name: n for name, n in counts["byEvent"].items() if n != {"unread": 0, "total": 0}}


@BOTH_STORES
async def test_counts_views_and_per_user_state_of_tenant_wide_notifications(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    tab1, tab2, bob = people.tab1, people.tab2, people.bob
    e1, _ = await published(http, email(USER, TENANT, subject="e1"))
    e2, _ = await published(http, email(USER, TENANT, subject="e2"))
    deadline, _ = await published(
        http,
        {
            "event": "deadline-alert",
            "dossierNumber": "D-1",
            "message": "Délai OQTF expire dans 1 jour(s)",
            "urgency": "critical",
            "deadlineType": "OQTF",
            "remainingDays": 1,
            "userId": USER,
            "tenantId": TENANT,
        },
    )
    dossier, _ = await published(
        http,
        {
            "event": "dossier-updated",
            "dossierNumber": "D-1",
            "dossierTitle": "Dupont - Divorce",
            "action": "updated",
            "userId": USER,
            "tenantId": TENANT,
        },
    )
    system, _ = await published(
        http,
        {
            "event": "system-notification",
            "title": "Maintenance",
            "message": "Ce soir",
            "type": "info",
            "tenantId": TENANT,
        },
    )
    one = {"unread": 1, "total": 1}
    assert await counts_everywhere(http, tab1) == {
        "unread": 5,
        "unseen": 5,
        "total": 5,
        "archived": 0,
        "snoozed": 0,
        "byEvent": {
            "email-received": {"unread": 2, "total": 2},
            "deadline-alert": one,
            "dossier-updated": one,
            "system-notification": one,
        },
    }
    bob_counts = await counts_everywhere(http, bob, "bob", TENANT)
    assert (bob_counts["unread"], bob_counts["total"]) == (1, 1)

    # seen is not read; read is seen
    assert (await post(http, "seen", {"ids": [e1]}))["ids"] == [e1]
    assert await badge(http, tab2) == (5, 4)
    assert (await ok(tab1, "mark-read", {"ids": [e2]}))["ids"] == [e2]
    assert await badge(http, tab2) == (4, 3)
    state = await item(http, e1)
    assert (state["seen"], state["read"]) == (True, False)
    state = await item(http, e2)
    assert (state["seen"], state["read"]) == (True, True)

    # archived: out of the inbox and the counts, in the archive view
    await post(http, "archive", {"ids": [e1]})
    counts = await counts_everywhere(http, tab2)
    assert (counts["unread"], counts["unseen"], counts["total"], counts["archived"]) == (3, 3, 4, 1)
    assert by_event(counts)["email-received"] == {"unread": 0, "total": 1}
    archived = await item(http, e1, archived="true")
    assert archived["archived"] is True and archived["event"] == "email-received"

    # snoozed: out of the inbox and the counts until it ends, in the snoozed view
    until = in_seconds(7200)
    snoozed = await ok(tab1, "snooze", {"ids": [dossier], "until": until})
    assert snoozed["until"] == until and snoozed["ids"] == [dossier]
    counts = await counts_everywhere(http, tab2)
    assert (counts["unread"], counts["total"], counts["snoozed"], counts["archived"]) == (
        2,
        3,
        1,
        1,
    )
    assert "dossier-updated" not in by_event(counts)
    state = await item(http, dossier, snoozed="true")
    assert state["snoozedUntil"] == until and state["archived"] is False

    # the tenant-wide notification: Alice archives it, not Bob
    await ok(tab1, "archive", {"ids": [system]})
    assert await views(http) == {
        "inbox": [deadline, e2],
        "archived": [system, e1],
        "snoozed": [dossier],
    }
    assert await views(http, "bob") == {"inbox": [system], "archived": [], "snoozed": []}
    bob_item = await item(http, system, "bob")
    assert (bob_item["archived"], bob_item["read"], bob_item["seen"]) == (False, False, False)
    assert await counts_everywhere(http, bob, "bob", TENANT) == bob_counts
    counts = await counts_everywhere(http, tab1)
    assert counts == {
        "unread": 1,
        "unseen": 1,
        "total": 2,
        "archived": 2,
        "snoozed": 1,
        "byEvent": counts["byEvent"],
    }
    assert by_event(counts) == {"email-received": {"unread": 0, "total": 1}, "deadline-alert": one}

    # the socket's inbox says what HTTP says, view by view
    for view in ({}, {"archived": True}, {"snoozed": True}):
        page = await ok(tab2, "inbox", view)
        query = {name: "true" for name in view}
        assert [i["id"] for i in page["items"]] == [i["id"] for i in await items(http, **query)]
        assert (page["unreadCount"], page["unseenCount"]) == (1, 1)
    both = await http.get("/api/v1/inbox?archived=true&snoozed=true", headers=bearer())
    assert both.status_code == 422 and both.json()["field"] == "archived", both.text
    refused = await call(tab2, "inbox", {"archived": True, "snoozed": True})
    assert refused["ok"] is False and refused["field"] == "archived", refused

    # back from the archive and from the snooze, as they were
    await ok(tab1, "unarchive", {"ids": [e1, system]})
    await post(http, "unsnooze", {"ids": [dossier]})
    counts = await counts_everywhere(http, tab1)
    assert (counts["unread"], counts["unseen"], counts["total"]) == (4, 3, 5)
    assert (counts["archived"], counts["snoozed"]) == (0, 0)
    assert await views(http) == {
        "inbox": [system, dossier, deadline, e2, e1],
        "archived": [],
        "snoozed": [],
    }


# -- 3. actions --------------------------------------------------------------------------


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


# -- 4. critical -------------------------------------------------------------------------


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


# -- 5. snooze ---------------------------------------------------------------------------


async def test_snooze_until_is_validated(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    id_, _ = await published(http, email(USER, TENANT))
    bad: list[dict[str, Any]] = [
        {"ids": [id_]},
        {"ids": [id_], "until": None},
        {"ids": [id_], "until": 1893456000},
        {"ids": [id_], "until": "demain 9 h"},
        {"ids": [id_], "until": "2026-13-01T09:00:00Z"},
        {"ids": [id_], "until": in_seconds(-60)},
        {"ids": [id_], "until": in_seconds(SNOOZE_MIN / 4)},
        {"ids": [id_], "until": in_seconds(367 * 86400)},
    ]
    for body in bad:
        response = await http.post("/api/v1/inbox/snooze", json=body, headers=bearer())
        assert response.status_code == 422, (body, response.text)
        assert response.json()["field"] == "until", (body, response.json())
        answer = await call(people.tab1, "snooze", body)
        assert answer["ok"] is False and answer["field"] == "until", (body, answer)
    assert await views(http) == {"inbox": [id_], "archived": [], "snoozed": []}
    # the bounds themselves are fine: a year (less a minute) ahead
    assert (await post(http, "snooze", {"ids": [id_], "until": in_seconds(365 * 86400)}))[
        "ids"
    ] == [id_]
    await sync(http, people.tab1)
    assert people.tab1.log.of("notification-due") == []


async def test_a_snooze_is_at_least_a_minute_ahead_by_default(sqlite_url: str) -> None:
    node = ServerThread(make_settings(sqlite_url))
    node.start()
    try:
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            id_, _ = await published(http, email(USER, TENANT))
            body = {"ids": [id_], "until": in_seconds(30)}
            response = await http.post("/api/v1/inbox/snooze", json=body, headers=bearer())
            assert response.status_code == 422 and response.json()["field"] == "until"
            body = {"ids": [id_], "until": in_seconds(90)}
            assert (await post(http, "snooze", body))["ids"] == [id_]
    finally:
        node.close()


def dues(client: Client, id_: str) -> list[dict[str, Any]]:
    return [due for due in client.log.of("notification-due") if due["id"] == id_]


async def wait_due(client: Client, id_: str, count: int = 1) -> dict[str, Any]:
    await client.log.wait_for(lambda _log: len(dues(client, id_)) >= count, DUE_WAIT)
    return dues(client, id_)[count - 1]


@BOTH_STORES
async def test_a_snooze_ends_once_with_notification_due_on_every_socket(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    tab1, tab2, phone = people.tab1, people.tab2, people.phone
    target, _ = await published(http, email(USER, TENANT, subject="target"))
    other, _ = await published(http, email(USER, TENANT, subject="other"))
    await ok(tab1, "mark-read", {"ids": [target]})
    assert await badge(http, phone) == (1, 1)
    until = in_seconds(1.5)
    answer = await ok(tab1, "snooze", {"ids": [target], "until": until})
    assert (answer["ids"], answer["until"], answer["unreadCount"]) == ([target], until, 1)
    assert await views(http) == {"inbox": [other], "archived": [], "snoozed": [target]}

    for socket in (tab1, tab2, phone):  # the origin too
        due = await wait_due(socket, target)
        assert datetime.now(UTC) >= datetime.fromisoformat(until), "woke up early"
        assert due["event"] == "email-received" and due["subject"] == "target"
        assert (due["read"], due["seen"], due["snoozedUntil"], due["archived"]) == (
            False,
            False,
            None,
            False,
        )
        assert (due["unreadCount"], due["unseenCount"]) == (2, 2), due
    assert tab1.log.of("notification-due") == tab2.log.of("notification-due")
    assert await badge(http, phone) == (2, 2)
    assert await views(http) == {"inbox": [other, target], "archived": [], "snoozed": []}
    state = await item(http, target)
    assert (state["read"], state["seen"], state["snoozedUntil"]) == (False, False, None)

    # once: another snooze that ends later is the marker; the first never comes again
    await ok(tab2, "snooze", {"ids": [other], "until": in_seconds(1.2)})
    for socket in (tab1, tab2, phone):
        await wait_due(socket, other)
        assert len(dues(socket, target)) == 1, socket.log.of("notification-due")
    await sync(http, people.bob, people.namesake)
    assert people.bob.log.of("notification-due") == []
    assert people.namesake.log.of("notification-due") == []


async def test_unsnooze_or_archive_before_the_end_means_no_due_event(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    tab1, tab2 = people.tab1, people.tab2
    unsnoozed, _ = await published(http, email(USER, TENANT, subject="unsnoozed"))
    archived, _ = await published(http, email(USER, TENANT, subject="archived"))
    marker, _ = await published(http, email(USER, TENANT, subject="marker"))
    soon = in_seconds(1.5)
    await ok(tab1, "snooze", {"ids": [unsnoozed, archived], "until": soon})
    assert (await ok(tab1, "unsnooze", {"ids": [unsnoozed]}))["ids"] == [unsnoozed]
    # only what is snoozed is unsnoozed
    assert (await post(http, "unsnooze", {"ids": [unsnoozed, marker]}))["ids"] == []
    await post(http, "archive", {"ids": [archived]})
    end = in_seconds(2.0)
    await ok(tab1, "snooze", {"ids": [marker], "until": end})
    for socket in (tab1, tab2):
        await wait_due(socket, marker)
        assert [due["id"] for due in socket.log.of("notification-due")] == [marker]
    state = await item(http, unsnoozed)
    assert (state["read"], state["snoozedUntil"]) == (False, None)
    state = await item(http, archived, archived="true")
    assert (state["archived"], state["snoozedUntil"]) == (True, None)
    assert await views(http) == {
        "inbox": [marker, unsnoozed],
        "archived": [archived],
        "snoozed": [],
    }


async def test_a_snoozed_item_cleared_before_its_end_does_not_come_back(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    """``clear`` removes everything up to now from every view: a ``notification-due`` for a
    cleared item would put on top of the clients' lists an item the inbox no longer has."""
    tab1 = people.tab1
    cleared, _ = await published(http, email(USER, TENANT, subject="cleared"))
    await ok(tab1, "snooze", {"ids": [cleared], "until": in_seconds(1.5)})
    await post(http, "clear", {})
    marker, _ = await published(http, email(USER, TENANT, subject="marker"))
    await ok(tab1, "snooze", {"ids": [marker], "until": in_seconds(2.0)})
    await wait_due(tab1, marker)
    assert await views(http) == {"inbox": [marker], "archived": [], "snoozed": []}
    assert dues(tab1, cleared) == [], f"a cleared item came back: {dues(tab1, cleared)}"


async def test_snoozing_again_moves_the_end(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    tab1, tab2 = people.tab1, people.tab2
    target, _ = await published(http, email(USER, TENANT, subject="target"))
    marker, _ = await published(http, email(USER, TENANT, subject="marker"))
    await ok(tab1, "snooze", {"ids": [target], "until": in_seconds(1.5)})
    later = in_seconds(3.0)
    await ok(tab2, "snooze", {"ids": [target], "until": later})
    await ok(tab1, "snooze", {"ids": [marker], "until": in_seconds(2.0)})
    await wait_due(tab1, marker)
    assert dues(tab1, target) == [], "the first end still fired"
    assert (await item(http, target, snoozed="true"))["snoozedUntil"] == later
    for socket in (tab1, tab2):
        await wait_due(socket, target)
        assert datetime.now(UTC) >= datetime.fromisoformat(later)
    await ok(tab1, "snooze", {"ids": [marker], "until": in_seconds(1.2)})
    for socket in (tab1, tab2):
        await wait_due(socket, marker, 2)
        assert len(dues(socket, target)) == 1


@BOTH_STORES
async def test_a_snooze_survives_a_restart_of_the_node(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    target, _ = await published(http, email(USER, TENANT, subject="target"))
    await post(http, "read-all", {})  # read by the watermark, not by a state row
    end = datetime.now(UTC) + timedelta(seconds=5)
    await post(http, "snooze", {"ids": [target], "until": iso(end)})
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as fresh,
        connected(server.url, USER, TENANT) as tab,
    ):
        assert datetime.now(UTC) < end, "the restart took longer than the snooze"
        assert await views(fresh) == {"inbox": [], "archived": [], "snoozed": [target]}
        due = await wait_due(tab, target)
        assert datetime.now(UTC) >= end
        assert (due["read"], due["seen"], due["unreadCount"], due["unseenCount"]) == (
            False,
            False,
            1,
            1,
        )
        assert await badge(fresh, tab) == (1, 1)
        # back unread above the read watermark; reading everything reads it again
        assert (await post(fresh, "read-all", {}))["unreadCount"] == 0
        assert (await item(fresh, target))["read"] is True
        assert await badge(fresh, tab) == (0, 0)


# -- 6. preferences ----------------------------------------------------------------------


def with_changes(document: dict[str, Any], **events: dict[str, bool]) -> dict[str, Any]:
    """``document`` with some events' channels changed."""
    result = {**document, "events": {name: dict(c) for name, c in document["events"].items()}}
    for name, channels in events.items():
        result["events"][name.replace("_", "-")].update(channels)
    return result


async def test_user_preferences_defaults_partial_updates_errors_and_sync(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    tab1, tab2, phone = people.tab1, people.tab2, people.phone
    assert (await http.get("/api/v1/preferences", headers=bearer())).json() == DEFAULTS
    assert await ok(tab1, "preferences") == {"preferences": DEFAULTS}

    # HTTP: a partial document merges; every socket of the user hears of it
    patch = {"events": {"dossier-updated": {"browser": True}}}
    response = await http.put("/api/v1/preferences", json=patch, headers=bearer())
    assert response.status_code == 200, response.text
    first = with_changes(DEFAULTS, dossier_updated={"browser": True})
    assert response.json() == first
    assert (await http.get("/api/v1/preferences", headers=bearer())).json() == first
    for socket in (tab1, tab2, phone):
        got = await nth(socket, "preferences-changed", 1)
        assert got["preferences"] == first, got

    quiet = {"quietHours": {"start": "20:00", "end": "08:00"}}
    response = await http.put("/api/v1/preferences", json=quiet, headers=bearer())
    second = {
        **first,
        "quietHours": {
            "timezone": "Europe/Paris",
            "start": "20:00",
            "end": "08:00",
            "days": [1, 2, 3, 4, 5, 6, 7],
        },
    }
    assert response.json() == second

    # errors name the path of the field; nothing changes
    for body, field in [
        ({"events": {"deadline-alert": {"push": "yes"}}}, "events.deadline-alert.push"),
        ({"digest": {"email": "weekly"}}, "digest.email"),
        ({"digest": {"at": "8h"}}, "digest.at"),
        ({"quietHours": {"start": "25:00", "end": "08:00"}}, "quietHours.start"),
        ({"quietHours": {"start": "20:00", "end": "08:00", "timezone": "Mars/Olympus"}},
         "quietHours.timezone"),
    ]:  # fmt: skip
        response = await http.put("/api/v1/preferences", json=body, headers=bearer())
        assert response.status_code == 422, (body, response.text)
        assert response.json()["field"] == field, (body, response.json())
        answer = await call(tab1, "set-preferences", {"preferences": body})
        assert answer["ok"] is False and answer["field"] == field, (body, answer)
    assert (await http.get("/api/v1/preferences", headers=bearer())).json() == second

    # the socket: the other tabs and devices hear of it, not the origin, not Bob
    answer = await ok(tab1, "set-preferences", {"preferences": {"quietHours": None}})
    assert answer == {"preferences": first}
    for socket in (tab2, phone):
        got = await nth(socket, "preferences-changed", 3)
        assert got["preferences"] == first, got
    assert await ok(tab2, "preferences") == {"preferences": first}
    await sync(http, tab1, people.bob)
    assert len(tab1.log.of("preferences-changed")) == 2
    assert people.bob.log.of("preferences-changed") == []
    assert (await http.get("/api/v1/preferences", headers=bearer("bob"))).json() == DEFAULTS


async def test_tenant_defaults_apply_where_the_user_did_not_choose(
    server: ServerThread, http: httpx.AsyncClient, people: People, settings: Settings
) -> None:
    firm_a, firm_b = (
        await create_api_key(settings, TENANT),
        await create_api_key(settings, OTHER_TENANT),
    )
    await ok(
        people.tab1,
        "set-preferences",
        {"preferences": {"events": {"dossier-updated": {"browser": True}}}},
    )
    url = f"/api/v1/tenants/{TENANT}/preferences"
    defaults = {
        "events": {
            "dossier-updated": {"browser": False, "push": True},
            "system-notification": {"browser": True},
        },
        "digest": {"email": "daily", "at": "07:30"},
    }
    response = await http.put(url, json=defaults, headers={"Authorization": f"Bearer {firm_a}"})
    assert response.status_code == 200, response.text
    tenant = {
        **with_changes(
            DEFAULTS,
            dossier_updated={"browser": False, "push": True},
            system_notification={"browser": True},
        ),
        "digest": {"email": "daily", "at": "07:30", "timezone": "Europe/Paris"},
    }
    assert response.json() == tenant
    for key in (firm_a, ADMIN_KEY):
        got = await http.get(url, headers={"Authorization": f"Bearer {key}"})
        assert got.status_code == 200 and got.json() == tenant

    # every socket of the tenant is told to fetch again; the other firm is not
    for socket in (people.tab1, people.tab2, people.phone, people.bob):
        told = await nth(
            socket, "preferences-changed", 2 if socket in (people.tab2, people.phone) else 1
        )
        assert told == {"scope": "tenant"}, socket.log.of("preferences-changed")
    await sync(http, people.namesake)
    assert people.namesake.log.of("preferences-changed") == []

    alice = (await http.get("/api/v1/preferences", headers=bearer())).json()
    assert alice == with_changes(tenant, dossier_updated={"browser": True})
    assert await ok(people.tab2, "preferences") == {"preferences": alice}
    bob = (await http.get("/api/v1/preferences", headers=bearer("bob"))).json()
    assert bob == tenant
    other_firm = (await http.get("/api/v1/preferences", headers=bearer(USER, OTHER_TENANT))).json()
    assert other_firm == DEFAULTS

    # another firm's key, a user's token, a bad document
    for method in ("GET", "PUT"):
        refused = await http.request(
            method, url, json=defaults, headers={"Authorization": f"Bearer {firm_b}"}
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["field"] == "tenantId"
        refused = await http.request(method, url, json=defaults, headers=bearer())
        assert refused.status_code == 401, refused.text
    bad = await http.put(
        url,
        json={"events": {"deadline-alert": {"email": 1}}},
        headers={"Authorization": f"Bearer {firm_a}"},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "events.deadline-alert.email"
    assert (await http.get(url, headers={"Authorization": f"Bearer {firm_a}"})).json() == tenant

    # the admin key sets any tenant's defaults; that tenant's sockets hear of it
    response = await http.put(
        f"/api/v1/tenants/{OTHER_TENANT}/preferences",
        json={"quietHours": {"start": "22:00", "end": "07:00", "days": [6, 7]}},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 200, response.text
    assert await nth(people.namesake, "preferences-changed", 1) == {"scope": "tenant"}
    other_firm = (await http.get("/api/v1/preferences", headers=bearer(USER, OTHER_TENANT))).json()
    assert other_firm["quietHours"] == {
        "timezone": "Europe/Paris",
        "start": "22:00",
        "end": "07:00",
        "days": [6, 7],
    }
    assert (await http.get("/api/v1/preferences", headers=bearer())).json() == alice


# -- 7. attacks --------------------------------------------------------------------------


def session_cookie() -> dict[str, str]:
    """Alice's Auth.js session cookie, as her browser attaches it to any request."""
    return {"Cookie": f"authjs.session-token={authjs_token(claims(id=USER, tenantId=TENANT))}"}


CSRF_WRITES = ["seen", "archive", "unarchive", "archive-all", "snooze", "unsnooze", "act"]


@pytest.mark.attack(
    title="CSRF on the inbox-state writes (issue 17)",
    tried="`application/json` POST with the session cookie from a foreign Origin to "
    "/inbox/seen, archive, unarchive, archive-all, snooze, unsnooze, act, and PUT preferences",
    times=1,
)
@pytest.mark.parametrize("path", [*CSRF_WRITES, "preferences"])
async def test_a_cookie_write_from_a_foreign_origin_is_refused(
    server: ServerThread, http: httpx.AsyncClient, path: str
) -> None:
    id_, _ = await published(http, email(USER, TENANT, actions=ACTIONS))
    before = await views(http)
    body: dict[str, Any] = {
        "ids": [id_],
        "id": id_,
        "action": "ack",
        "until": in_seconds(3600),
        "events": {"email-received": {"browser": False}},
    }
    headers = {**session_cookie(), "Origin": "http://evil.example"}
    if path == "preferences":
        response = await http.put("/api/v1/preferences", json=body, headers=headers)
    else:
        response = await http.post(f"/api/v1/inbox/{path}", json=body, headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["field"] == "Origin"
    assert await views(http) == before
    state = await item(http, id_)
    assert (state["seen"], state["read"], state["actionTaken"]) == (False, False, None)
    assert (await http.get("/api/v1/preferences", headers=bearer())).json() == DEFAULTS
    # the same request from the node's own page is served
    own = {**session_cookie(), "Origin": server.url}
    if path == "archive":
        assert (await http.post("/api/v1/inbox/archive", json=body, headers=own)).json()["ids"] == [
            id_
        ]


async def test_more_than_a_thousand_ids_is_a_422(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    id_, _ = await published(http, email(USER, TENANT))
    too_many = [id_] + [f"{n:032x}" for n in range(1000)]
    just_enough = too_many[:1000]
    until = in_seconds(3600)
    for path, event in [
        ("seen", "mark-seen"),
        ("read", "mark-read"),
        ("archive", "archive"),
        ("unarchive", "unarchive"),
        ("snooze", "snooze"),
        ("unsnooze", "unsnooze"),
    ]:
        body = {"ids": too_many, "until": until}
        response = await http.post(f"/api/v1/inbox/{path}", json=body, headers=bearer())
        assert response.status_code == 422 and response.json()["field"] == "ids", response.text
        answer = await call(people.tab1, event, body)
        assert answer["ok"] is False and answer["field"] == "ids", answer
    assert await views(http) == {"inbox": [id_], "archived": [], "snoozed": []}
    assert (await item(http, id_))["seen"] is False
    # a thousand is fine
    assert (await post(http, "seen", {"ids": just_enough}))["ids"] == [id_]


@pytest.mark.attack(
    title="Inbox states of another tenant's or user's notifications (issue 17)",
    tried="seen, read, archive, unarchive, snooze, unsnooze, act and archive-all by a user "
    "of another firm (same user id) and by a colleague, on a user's and a firm's notification",
    times=1,
)
async def test_nobody_changes_the_state_of_someone_elses_notification(
    server: ServerThread, http: httpx.AsyncClient, people: People
) -> None:
    own, _ = await published(http, email(USER, TENANT, actions=ACTIONS))
    firm_wide, _ = await published(
        http,
        {
            "event": "system-notification",
            "title": "Firm",
            "message": "Pour tout le cabinet",
            "type": "info",
            "tenantId": TENANT,
            "actions": ACTIONS,
        },
    )
    alice_before = await views(http)
    bob_before = await views(http, "bob")
    until = in_seconds(3600)
    attackers = [(USER, OTHER_TENANT, [own, firm_wide]), ("bob", TENANT, [own])]
    for user, tenant, targets in attackers:
        client = people.namesake if tenant == OTHER_TENANT else people.bob
        for path, event in [
            ("seen", "mark-seen"),
            ("read", "mark-read"),
            ("archive", "archive"),
            ("snooze", "snooze"),
            ("unarchive", "unarchive"),
            ("unsnooze", "unsnooze"),
        ]:
            body = {"ids": targets, "until": until}
            assert (await post(http, path, body, user, tenant))["ids"] == [], (user, path)
            assert (await ok(client, event, body))["ids"] == [], (user, event)
        for target in targets:
            data = {"id": target, "action": "ack"}
            response = await http.post("/api/v1/inbox/act", json=data, headers=bearer(user, tenant))
            assert response.status_code == 404, (user, response.text)
            answer = await call(client, "act", data)
            assert answer["ok"] is False and answer["error"] == "not_found"
    assert (await post(http, "archive-all", {}, USER, OTHER_TENANT))["count"] == 0
    assert await views(http) == alice_before
    assert await views(http, "bob") == bob_before
    for id_ in (own, firm_wide):
        state = await item(http, id_)
        assert (state["seen"], state["read"], state["actionTaken"]) == (False, False, None)
    await sync(http, people.tab1, people.tab2)
    assert no_state_events(people.tab1) and no_state_events(people.tab2)
