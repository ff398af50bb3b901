"""What the inbox-state tests (issue 17, DESIGN §7) share: a real node whose snoozes may be
as short as a second and that reads Auth.js cookies, on SQLite or PostgreSQL; Alice's two
tabs and phone, Bob of her firm and another Alice of another firm as real python-socketio
clients; and the helpers that make a change, wait for what it sends and read the inbox back
over HTTP and the socket.

The fixtures are imported explicitly by each ``test_inbox_*.py`` module: a conftest here
would give every integration test this node's settings.

"Nothing arrived" is never waited for with a sleep: the node (in-process bus) queues a
change for the sockets before it answers the request, and each socket's queue is sent in
order, so a marker notification published afterwards (:func:`sync`) arrives after
anything the change would have sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.forge import AUTH_SECRET
from tests.helpers import Client, EventLog, ServerThread, email, publish, token
from tocsin.config import Settings

USER, TENANT, OTHER_TENANT = "alice", "firm-a", "firm-b"
LIVE = 1.0  # seconds: the "within a second" for another tab or device
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


@pytest.fixture(name="database_url")
def database_url_fixture(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """SQLite, or PostgreSQL for the tests parametrised with ``indirect=True``."""
    if getattr(request, "param", "sqlite") == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return sqlite_url


@pytest.fixture(name="settings")
def settings_fixture(database_url: str) -> Settings:
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


@pytest.fixture(name="people")
async def people_fixture(server: ServerThread) -> AsyncIterator[People]:
    """The five clients, connected for the test and disconnected after it."""
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


async def user_preferences(
    http: httpx.AsyncClient, user: str = USER, tenant: str = TENANT
) -> dict[str, Any]:
    """GET /preferences: the user's preferences, tenant defaults applied."""
    response = await http.get("/api/v1/preferences", headers=bearer(user, tenant))
    found: dict[str, Any] = response.json()
    return found


def changed(change: str, answer: dict[str, Any], *, everything: bool = False) -> dict[str, Any]:
    """The ``notifications-changed`` other sockets must get for a change answered ``answer``."""
    return {"change": change, **answer, **({"all": True} if everything else {})}


def no_state_events(client: Client) -> bool:
    return not client.log.of("notifications-changed", "notifications-read", "notification-due")
