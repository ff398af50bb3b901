"""Issue 17 over HTTP and Socket.IO: every inbox-state change made on one tab reaches the
user's other tabs and devices as ``notifications-changed`` within a second, never the tab
that made it, never another user; the badge, the counts and the views say the same whichever
way they are asked for, and a tenant-wide notification has a state per user.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import ServerThread, email
from tests.integration.inbox_states import (
    ACTIONS,
    BOTH_STORES,
    TENANT,
    USER,
    People,
    badge,
    bearer,
    call,
    changed,
    counts_everywhere,
    in_seconds,
    item,
    items,
    no_state_events,
    nth,
    ok,
    post,
    published,
    sync,
    views,
)

# The tests' node and clients: pytest finds a module's fixtures among its names.
from tests.integration.inbox_states import database_url_fixture as database_url_fixture
from tests.integration.inbox_states import people_fixture as people_fixture
from tests.integration.inbox_states import settings_fixture as settings_fixture

# -- every change reaches the other tabs and devices, not the origin nor anyone else ------


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


# -- counts and views agree; tenant-wide notifications have a state per user -------------


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
