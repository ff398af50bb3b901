"""The ids contract (DESIGN.md §3, §5): the id a client sees is Tocsin's, the publisher's
``id`` travels as ``sourceId``, and only a true retry is dropped.

The seed publishes every update of a dossier with ``id: dossier.id`` and
``timestamp: new Date()``; before this contract the second and third updates were answered
202 ``Idempotent-Replayed`` and never delivered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import make_settings
from tests.helpers import ADMIN_KEY, Client, ServerThread, publish, token


def dossier_update(at: datetime, action: str = "updated", **extra: Any) -> dict[str, Any]:
    """What the seed's ``notifyDossierUpdated`` sends for dossier 42."""
    return {
        "event": "dossier-updated",
        "id": "dossier-42",
        "dossierNumber": "D-2026-042",
        "dossierTitle": "Martin - Succession",
        "action": action,
        "userId": "alice",
        "tenantId": "firm-a",
        "timestamp": at.isoformat(),
        **extra,
    }


async def test_three_updates_of_one_dossier_are_three_notifications(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    try:
        start = datetime.now(UTC)
        answers = []
        for step, action in enumerate(["created", "updated", "status_changed"]):
            response = await publish(http, dossier_update(start + timedelta(seconds=step), action))
            assert response.status_code == 202, response.text
            assert "Idempotent-Replayed" not in response.headers
            answers.append(response.json())
        received = await client.wait_notifications(3)
        assert [n["action"] for n in received] == ["created", "updated", "status_changed"]
        assert {n["sourceId"] for n in received} == {"dossier-42"}
        # Each has an id of its own, the one its publish answered.
        assert [n["id"] for n in received] == [a["id"] for a in answers]
        assert len({a["id"] for a in answers}) == 3 and "dossier-42" not in received[0]["id"]
        # They are three inbox items, each marked read on its own.
        ack = await client.sio.call("mark-read", {"ids": [received[1]["id"]]})
        assert ack == {"ok": True, "ids": [received[1]["id"]], "unreadCount": 2, "unseenCount": 2}
    finally:
        await client.disconnect()


async def test_an_identical_publish_is_a_retry_and_a_changed_one_is_not(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    at = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    first = await publish(http, dossier_update(at))
    retry = await publish(http, dossier_update(at))
    assert retry.status_code == 202 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    # Any field, the timestamp included, makes it another notification of the same dossier.
    for changed in (
        dossier_update(at + timedelta(milliseconds=1)),
        dossier_update(at, status="CLOS"),
        dossier_update(at, action="document_added"),
    ):
        response = await publish(http, changed)
        assert response.status_code == 202 and "Idempotent-Replayed" not in response.headers
        assert response.json()["cursor"] > first.json()["cursor"]
    # The same source id in another tenant is that tenant's own notification.
    other = await publish(http, dossier_update(at, tenantId="firm-b"))
    assert "Idempotent-Replayed" not in other.headers
    # Without a timestamp the server stamps each publish: never identical, never dropped.
    stamped = dossier_update(at)
    del stamped["timestamp"]
    answers = [await publish(http, stamped) for _ in range(2)]
    assert all("Idempotent-Replayed" not in a.headers for a in answers)
    inbox = await http.get(
        "/api/v1/inbox",
        params={"limit": 50},
        headers={"Authorization": f"Bearer {token('alice', 'firm-a')}"},
    )
    assert [i["sourceId"] for i in inbox.json()["items"]] == ["dossier-42"] * 6


async def test_an_idempotency_key_still_makes_a_retry_whatever_the_id(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    at = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    first = await publish(http, dossier_update(at), idempotency_key="update-7")
    again = await publish(http, dossier_update(at), idempotency_key="update-7")
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    reused = await publish(http, dossier_update(at, status="X"), idempotency_key="update-7")
    assert reused.status_code == 409 and reused.json()["field"] == "Idempotency-Key"
    # The server's own once-keys live under a prefix no publisher may use: no tenant can
    # claim the key of a deadline alert before the scheduler sends it.
    reserved = await publish(
        http, dossier_update(at), idempotency_key="tocsin:deadline:d1:2031-05-02:2031-05-01"
    )
    assert reserved.status_code == 422, reserved.text
    assert reserved.json()["field"] == "Idempotency-Key"


async def test_a_long_idempotency_key_on_a_batch_is_stored(store_url: str) -> None:
    # Each item's key is derived from the batch's: ``<key>:<i>`` overflowed PostgreSQL's
    # varchar(255) for the longest key accepted (a 500 where a 200 was due).
    key = "k" * 255
    body = {"notifications": [dossier_update(datetime.now(UTC), status=str(i)) for i in range(3)]}
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Idempotency-Key": key}
    server = ServerThread(make_settings(store_url))
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            first = await http.post("/api/v1/notifications/batch", json=body, headers=headers)
            again = await http.post("/api/v1/notifications/batch", json=body, headers=headers)
    finally:
        server.close()
    assert first.status_code == 200, first.text
    assert again.json() == first.json() and all("cursor" in r for r in first.json()["results"])
