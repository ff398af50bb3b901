"""Issue 17 (DESIGN §7) with the real Node ``socket.io-client``: two tabs of one user and a
tab of another user of the same tenant, in one Node process (``states.mjs``) so that every
line is stamped by one clock. Tab 1 changes the inbox; tab 2 hears of each change within a
second of tab 1's acknowledgement, tab 1 and the other user hear nothing, a snooze comes back
on both tabs, and every acknowledgement's counts are what ``GET /api/v1/inbox/counts`` says.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.compat.node_client import COMPAT_DIR, Message, NodeClient, require_node_client
from tests.conftest import make_settings
from tests.helpers import NEW_STATE, ServerThread, email, publish, token
from tocsin.config import Settings

pytestmark = pytest.mark.node

STATES_SCRIPT = COMPAT_DIR / "states.mjs"
TENANT = "cabinet-17"
USER = "avocat-1"
OTHER_USER = "avocat-2"
TABS = ("tab1", "tab2", "other")
# The longest tab 2 may hear of a change after tab 1 got its acknowledgement.
PROPAGATION_MS = 1000.0
SNOOZE = timedelta(seconds=1.5)
# What each client may hear about someone else's change of state.
STATE_EVENTS = (
    "notifications-changed",
    "notifications-read",
    "notification-due",
    "preferences-changed",
)
ACK_ACTION = {"id": "ack", "label": "Accuser réception", "primary": True}


class NodeTabs(NodeClient):
    """``states.mjs``: named sockets in one Node process. ``auth`` maps each socket's name
    to its handshake ``auth``; every printed line names its ``socket`` and carries ``t``,
    the process's clock in milliseconds since the epoch."""

    async def start(self) -> NodeTabs:
        """Spawn the process; its sockets connect at once."""
        self._process = await asyncio.create_subprocess_exec(
            self.node,
            str(STATES_SCRIPT),
            self.url,
            json.dumps(self.auth),
            cwd=COMPAT_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        self._readers = [
            asyncio.create_task(self._read_stdout(self._process.stdout)),
            asyncio.create_task(self._read_stderr(self._process.stderr)),
        ]
        return self

    async def all_connected(self, within: float = 10.0) -> None:
        """Wait until every socket connected; fail at once on a ``connect_error``."""
        await self.wait_for(
            lambda lines: (
                {m.get("socket") for m in lines if m["type"] == "connect"} == set(self.auth)
                or any(m["type"] == "connect_error" for m in lines)
            ),
            within,
        )
        refused = [m for m in self.lines if m["type"] == "connect_error"]
        assert not refused, f"connection refused: {refused}"

    def received(self, socket: str, *events: str) -> list[Message]:
        """The event lines (with ``t`` and ``data``) ``socket`` got, of ``events`` if given."""
        return [
            m
            for m in self.lines
            if m["type"] == "event"
            and m["socket"] == socket
            and (not events or m["event"] in events)
        ]

    async def wait_received(
        self, socket: str, event: str, count: int, within: float = 10.0
    ) -> None:
        """Wait until ``socket`` got at least ``count`` ``event`` events."""
        await self.wait_for(lambda _: len(self.received(socket, event)) >= count, within)

    async def request(self, socket: str, event: str, data: Any) -> tuple[Message, Message]:
        """Emit ``event`` on ``socket`` with an ack; the ``sent`` and ``ack`` lines."""
        request = next(self._ids)
        self._send({"cmd": "emit", "socket": socket, "event": event, "data": data, "id": request})

        def mine(kind: str) -> list[Message]:
            return [m for m in self.lines if m["type"] == kind and m.get("id") == request]

        await self.wait_for(lambda _: bool(mine("ack") or mine("ack_timeout")), 15.0)
        assert not mine("ack_timeout"), f"no acknowledgement for {event!r}"
        [sent] = mine("sent")
        [ack] = mine("ack")
        return sent, ack


@dataclass
class Inbox:
    """The scenario's clients: the Node tabs, and HTTP as the user and as the other user."""

    tabs: NodeTabs
    http: httpx.AsyncClient

    async def counts(self, user: str = USER) -> dict[str, Any]:
        """``GET /api/v1/inbox/counts`` as ``user``."""
        response = await self.http.get(
            "/api/v1/inbox/counts", headers={"Authorization": f"Bearer {token(user, TENANT)}"}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def published(self, notification: dict[str, Any]) -> str:
        """Publish; Tocsin's id of the notification."""
        response = await publish(self.http, notification)
        assert response.status_code == 202, response.text
        note_id: str = response.json()["id"]
        return note_id

    async def change(
        self, event: str, data: dict[str, Any], expected: dict[str, Any]
    ) -> dict[str, Any]:
        """Tab 1 emits ``event``; its ack must be ok, with counts equal to the HTTP counts;
        tab 2 must get one more ``notifications-changed`` within a second of the ack, equal
        to ``expected`` on its keys, with the ack's ids and counts. Returns the ack."""
        before = len(self.tabs.received("tab2", "notifications-changed"))
        sent, ack_line = await self.tabs.request("tab1", event, data)
        ack: dict[str, Any] = ack_line["data"]
        assert ack.get("ok") is True, f"{event} {data}: {ack}"
        counts = await self.counts()
        assert (ack["unreadCount"], ack["unseenCount"]) == (counts["unread"], counts["unseen"]), (
            f"{event}: ack {ack} but GET /api/v1/inbox/counts {counts}"
        )

        await self.tabs.wait_received("tab2", "notifications-changed", before + 1)
        heard = self.tabs.received("tab2", "notifications-changed")
        assert len(heard) == before + 1, f"{event}: tab2 got {heard[before:]}"
        line = heard[-1]
        assert sent["t"] <= line["t"] <= ack_line["t"] + PROPAGATION_MS, (
            f"{event}: sent at {sent['t']}, acked at {ack_line['t']}, tab2 heard at {line['t']}"
        )
        change: dict[str, Any] = line["data"]
        assert {key: change.get(key) for key in expected} == expected, f"{event}: {change}"
        assert sorted(change["ids"]) == sorted(ack["ids"]), f"{event}: {change} vs ack {ack}"
        assert (change["unreadCount"], change["unseenCount"]) == (
            ack["unreadCount"],
            ack["unseenCount"],
        ), f"{event}: {change} vs ack {ack}"
        return ack


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    """A snooze may end 1 s ahead (one minute in production), so one ends during the test."""
    return make_settings(sqlite_url, snooze_min_seconds=1.0)


@pytest.fixture
async def inbox(server: ServerThread, http: httpx.AsyncClient) -> AsyncIterator[Inbox]:
    node = require_node_client()
    auths = {
        "tab1": {"token": token(USER, TENANT)},
        "tab2": {"token": token(USER, TENANT)},
        "other": {"token": token(OTHER_USER, TENANT)},
    }
    tabs = await NodeTabs(node, server.url, auths).start()
    try:
        await tabs.all_connected()
        yield Inbox(tabs, http)
    finally:
        await tabs.close()


def iso(moment: datetime) -> str:
    """JavaScript's ``toISOString`` form (milliseconds, ``Z``)."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(text: str) -> float:
    """An ISO time as milliseconds since the epoch (the Node lines' ``t``)."""
    return datetime.fromisoformat(text).timestamp() * 1000


async def test_every_change_reaches_the_other_tab_only(inbox: Inbox) -> None:
    tabs = inbox.tabs
    n1 = await inbox.published(email(USER, TENANT, "Premier"))
    n2 = await inbox.published(email(USER, TENANT, "Second"))
    n3 = await inbox.published(
        {
            "event": "deadline-alert",
            "dossierNumber": "D-2026-017",
            "message": "Délai d'appel: 3 jours",
            "urgency": "urgent",
            "deadlineType": "appel",
            "remainingDays": 3,
            "userId": USER,
            "tenantId": TENANT,
            "actions": [ACK_ACTION],
        }
    )
    n4 = await inbox.published(email(USER, TENANT, "À plus tard"))
    await inbox.published(email(OTHER_USER, TENANT, "Pour l'autre"))
    for tab in ("tab1", "tab2"):
        await tabs.wait_received(tab, "email-received", 3)
        await tabs.wait_received(tab, "deadline-alert", 1)
    await tabs.wait_received("other", "email-received", 1)
    [alert] = tabs.received("tab2", "deadline-alert")
    assert alert["data"]["actions"] == [ACK_ACTION]
    assert {key: alert["data"].get(key) for key in NEW_STATE} == NEW_STATE
    assert (await inbox.counts())["unread"] == 4

    ack = await inbox.change("mark-seen", {"ids": [n1, n2]}, {"change": "seen"})
    assert sorted(ack["ids"]) == sorted([n1, n2])
    assert (ack["unreadCount"], ack["unseenCount"]) == (4, 2)

    ack = await inbox.change("mark-read", {"ids": [n1]}, {"change": "read", "ids": [n1]})
    assert (ack["unreadCount"], ack["unseenCount"]) == (3, 2)
    await tabs.wait_received("tab2", "notifications-read", 1)  # for the seed's clients

    ack = await inbox.change("archive", {"ids": [n2]}, {"change": "archived", "ids": [n2]})
    assert (ack["unreadCount"], ack["unseenCount"]) == (2, 2)
    assert (await inbox.counts())["archived"] == 1

    ack = await inbox.change("unarchive", {"ids": [n2]}, {"change": "unarchived", "ids": [n2]})
    assert (ack["unreadCount"], ack["unseenCount"]) == (3, 2)
    assert (await inbox.counts())["archived"] == 0

    until = iso(datetime.now(UTC) + SNOOZE)
    ack = await inbox.change(
        "snooze", {"ids": [n4], "until": until}, {"change": "snoozed", "ids": [n4], "until": until}
    )
    assert ack["until"] == until
    assert (ack["unreadCount"], ack["unseenCount"]) == (2, 1)
    assert (await inbox.counts())["snoozed"] == 1

    for tab in ("tab1", "tab2"):
        await tabs.wait_received(tab, "notification-due", 1)
    counts = await inbox.counts()
    for tab in ("tab1", "tab2"):
        [due_line] = tabs.received(tab, "notification-due")
        assert due_line["t"] >= epoch_ms(until), f"{tab}: due before {until}: {due_line}"
        due = due_line["data"]
        assert due["id"] == n4 and due["event"] == "email-received", due
        assert (due["read"], due["seen"], due["archived"], due["snoozedUntil"]) == (
            False,
            False,
            False,
            None,
        ), due
        assert (due["unreadCount"], due["unseenCount"]) == (counts["unread"], counts["unseen"])
    assert (counts["unread"], counts["unseen"], counts["snoozed"]) == (3, 2, 0)

    ack = await inbox.change(
        "act",
        {"id": n3, "action": "ack"},
        {"change": "acted", "ids": [n3], "action": "ack"},
    )
    assert (ack["id"], ack["action"], ack["alreadyActed"]) == (n3, "ack", False)
    assert (ack["unreadCount"], ack["unseenCount"]) == (2, 1)

    ack = await inbox.change(
        "archive-all",
        {"onlyRead": True},
        {"change": "archived", "ids": [], "all": True, "onlyRead": True},
    )
    assert ack["count"] == 2  # n1 (read) and n3 (acted)
    assert (ack["unreadCount"], ack["unseenCount"]) == (2, 1)
    counts = await inbox.counts()
    assert (counts["total"], counts["archived"]) == (2, 2)

    wanted = {"events": {"dossier-updated": {"browser": True}}}
    sent, ack_line = await tabs.request("tab1", "set-preferences", {"preferences": wanted})
    preferences = ack_line["data"]["preferences"]
    assert ack_line["data"]["ok"] is True and preferences["events"]["dossier-updated"]["browser"]
    await tabs.wait_received("tab2", "preferences-changed", 1)
    [heard] = tabs.received("tab2", "preferences-changed")
    assert heard["data"]["preferences"] == preferences
    assert sent["t"] <= heard["t"] <= ack_line["t"] + PROPAGATION_MS, (sent, ack_line, heard)

    # Last, a notification to each user: what was sent before it has been delivered.
    await inbox.published(email(USER, TENANT, "Fin"))
    await inbox.published(email(OTHER_USER, TENANT, "Fin"))
    for tab, count in (("tab1", 4), ("tab2", 4), ("other", 2)):
        await tabs.wait_received(tab, "email-received", count)

    assert tabs.received("tab1", "notifications-changed", "notifications-read") == []
    assert tabs.received("tab1", "preferences-changed") == []
    assert tabs.received("other", *STATE_EVENTS) == []
    assert len(tabs.received("tab2", "notifications-changed")) == 7
    assert len(tabs.received("tab2", "preferences-changed")) == 1
    for tab in ("tab1", "tab2"):
        assert len(tabs.received(tab, "notification-due")) == 1, tab
    assert (await inbox.counts(OTHER_USER))["unread"] == 2
