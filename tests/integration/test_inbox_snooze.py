"""Issue 17: snoozes. The end is validated; it comes once, as ``notification-due`` on every
socket of the user (the origin too), unless the item was unsnoozed, archived or cleared
first; snoozing again moves it; it survives a restart of the node.

A snooze that must not end is checked without a sleep: a later snooze that does end is the
marker (see :mod:`tests.integration.inbox_states`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import make_settings
from tests.helpers import Client, ServerThread, connected, email
from tests.integration.inbox_states import (
    BOTH_STORES,
    SNOOZE_MIN,
    TENANT,
    USER,
    People,
    badge,
    bearer,
    call,
    in_seconds,
    iso,
    item,
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

DUE_WAIT = 6.0  # seconds: a snooze of ~1.5 s, the job runner's poll and a loaded machine


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


# On SQLite only: tests/integration/test_snooze_cluster.py restarts PostgreSQL nodes too.
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
