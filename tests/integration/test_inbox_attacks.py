"""Issue 17 attacks on the inbox-state writes: CSRF with the session cookie, too many ids,
and changing the state of another user's or another firm's notification.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.forge import authjs_token, claims
from tests.helpers import ServerThread, email
from tests.integration.inbox_states import (
    ACTIONS,
    DEFAULTS,
    OTHER_TENANT,
    TENANT,
    USER,
    People,
    bearer,
    call,
    in_seconds,
    item,
    no_state_events,
    ok,
    post,
    published,
    sync,
    user_preferences,
    views,
)

# The tests' node and clients: pytest finds a module's fixtures among its names.
from tests.integration.inbox_states import database_url_fixture as database_url_fixture
from tests.integration.inbox_states import people_fixture as people_fixture
from tests.integration.inbox_states import settings_fixture as settings_fixture


def session_cookie() -> dict[str, str]:
    """Alice's Auth.js session cookie, as her browser attaches it to any request."""
    return {"Cookie": f"authjs.session-token={authjs_token(claims(id=USER, tenantId=TENANT))}"}


# The writes that take a list of ids: POST /inbox/<path> and the socket's event.
ID_WRITES = [
    ("seen", "mark-seen"),
    ("read", "mark-read"),
    ("archive", "archive"),
    ("snooze", "snooze"),
    ("unarchive", "unarchive"),
    ("unsnooze", "unsnooze"),
]
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
    assert await user_preferences(http) == DEFAULTS
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
    for path, event in ID_WRITES:
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
        for path, event in ID_WRITES:
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
