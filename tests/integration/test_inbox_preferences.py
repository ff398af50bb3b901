"""Issue 17: notification preferences, the user's and the tenant's defaults, over HTTP and
Socket.IO; a change reaches the user's other tabs and devices (the tenant's sockets for
tenant defaults), never another user or firm.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import ADMIN_KEY, ServerThread, create_api_key
from tests.integration.inbox_states import (
    DEFAULTS,
    OTHER_TENANT,
    TENANT,
    USER,
    People,
    bearer,
    call,
    nth,
    ok,
    sync,
    user_preferences,
)

# The tests' node and clients: pytest finds a module's fixtures among its names.
from tests.integration.inbox_states import database_url_fixture as database_url_fixture
from tests.integration.inbox_states import people_fixture as people_fixture
from tests.integration.inbox_states import settings_fixture as settings_fixture
from tocsin.config import Settings


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
    assert await user_preferences(http) == DEFAULTS
    assert await ok(tab1, "preferences") == {"preferences": DEFAULTS}

    # HTTP: a partial document merges; every socket of the user hears of it
    patch = {"events": {"dossier-updated": {"browser": True}}}
    response = await http.put("/api/v1/preferences", json=patch, headers=bearer())
    assert response.status_code == 200, response.text
    first = with_changes(DEFAULTS, dossier_updated={"browser": True})
    assert response.json() == first
    assert await user_preferences(http) == first
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
    for missing in ({}, {"preferences": ["events"]}):
        answer = await call(tab1, "set-preferences", missing)
        assert answer["ok"] is False and answer["field"] == "preferences", answer
    assert await user_preferences(http) == second

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
    assert await user_preferences(http, "bob") == DEFAULTS


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

    alice = await user_preferences(http)
    assert alice == with_changes(tenant, dossier_updated={"browser": True})
    assert await ok(people.tab2, "preferences") == {"preferences": alice}
    bob = await user_preferences(http, "bob")
    assert bob == tenant
    other_firm = await user_preferences(http, USER, OTHER_TENANT)
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
    other_firm = await user_preferences(http, USER, OTHER_TENANT)
    assert other_firm["quietHours"] == {
        "timezone": "Europe/Paris",
        "start": "22:00",
        "end": "07:00",
        "days": [6, 7],
    }
    assert await user_preferences(http) == alice
