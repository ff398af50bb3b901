"""The Python SDK against a real server: helpers, sync client, safe retries, errors, embedding."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from tests.helpers import (
    ADMIN_KEY,
    NEW_STATE,
    TOCSIN_ID,
    Client,
    ServerThread,
    connected,
    email,
    source_ids,
    token,
)
from tocsin import sdk
from tocsin.app import create_service
from tocsin.config import Settings
from tocsin.models import Identity
from tocsin.sdk import AsyncTocsinClient, EmbeddedPublisher, TocsinAPIError, TocsinClient
from tocsin.sdk import http as sdk_http

WHEN = datetime(2026, 1, 7, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def forget_default_client() -> Iterator[None]:
    yield
    sdk.close()


@pytest.fixture
async def alice(server: ServerThread) -> AsyncIterator[Client]:
    async with connected(server.url, "u1", "t1") as client:
        yield client


@pytest.fixture
async def api(server: ServerThread) -> AsyncIterator[AsyncTocsinClient]:
    async with AsyncTocsinClient(server.url, ADMIN_KEY) as client:
        yield client


async def inbox(http: httpx.AsyncClient, user: str, tenant: str) -> list[dict[str, Any]]:
    response = await http.get(
        "/api/v1/inbox", headers={"Authorization": f"Bearer {token(user, tenant)}"}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def events(client: Client) -> list[tuple[str, dict[str, Any]]]:
    return [(name, data) for name, data in client.log.events if name in _NOTIFICATION_EVENTS]


_NOTIFICATION_EVENTS = {
    "email-received",
    "dossier-updated",
    "deadline-alert",
    "system-notification",
}


class Recording(httpx.AsyncBaseTransport):
    """Forwards to the real server and remembers every request and answer."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = await self.inner.handle_async_request(request)
        self.responses.append(response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class LosesFirstResponse(Recording):
    """The first request reaches the server, but its response is lost on the way back."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if len(self.requests) == 1:
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


# -- helpers deliver the seed's events ---------------------------------------------------


async def test_each_helper_delivers_the_seed_event(
    server: ServerThread, api: AsyncTocsinClient, alice: Client
) -> None:
    bob = Client(server.url, "u2", "t2")
    await bob.connect()
    try:
        first = await api.notify_email_received(
            {
                "id": "mail-1",
                "subject": "Convocation",
                "from": "greffe@tribunal.fr",
                "dossierNumber": "D-2026-001",
                "userId": "u1",
                "tenantId": "t1",
                "timestamp": WHEN,
            }
        )
        second = await api.notify_dossier_updated(
            {
                "id": 42,
                "dossierNumber": "D-2026-001",
                "dossierTitle": "Martin - OQTF",
                "action": "status_changed",
                "status": "clos",
                "userId": "u1",
                "tenantId": "t1",
                "timestamp": WHEN,
            }
        )
        await api.notify_deadline_alert(
            {
                "id": "deadline-42",
                "dossierNumber": "D-2026-001",
                "message": "Délai critique dans 1 jours",
                "urgency": "critical",
                "deadlineType": "OQTF",
                "remainingDays": 1,
                "userId": "u1",
                "tenantId": "t1",
                "timestamp": WHEN,
            }
        )
        await api.notify_system(
            {
                "title": "Bienvenue",
                "message": "Compte prêt",
                "type": "success",
                "userId": "u1",
                "tenantId": "t1",
            }
        )
        await api.emit_to_user(
            "u1", "email-received", {"subject": "Relance", "from": "a@b.fr"}, tenant_id="t1"
        )
        await api.emit_to_tenant(
            "t1",
            "system-notification",
            {"title": "Maintenance", "message": "à 2h", "type": "warning", "userId": "u9"},
        )
        await api.emit_to_all(
            "system-notification",
            {"title": "Platform Update", "message": "New features available!", "type": "success"},
        )

        await alice.wait_notifications(7)
        await bob.wait_notifications(1)
    finally:
        await bob.disconnect()

    assert TOCSIN_ID.match(first["id"]) and isinstance(first["cursor"], int)
    assert TOCSIN_ID.match(second["id"]) and second["id"] != first["id"]
    assert second["cursor"] > first["cursor"]
    received = events(alice)
    assert [name for name, _ in received] == [
        "email-received",
        "dossier-updated",
        "deadline-alert",
        "system-notification",
        "email-received",
        "system-notification",
        "system-notification",
    ]
    mail, dossier, deadline, welcome, direct, tenant_wide, everyone = (d for _, d in received)
    assert mail == {
        "id": first["id"],
        "sourceId": "mail-1",
        "subject": "Convocation",
        "from": "greffe@tribunal.fr",
        "dossierNumber": "D-2026-001",
        "userId": "u1",
        "tenantId": "t1",
        "timestamp": "2026-01-07T09:30:00.000Z",
        "cursor": first["cursor"],
        "read": False,
        **NEW_STATE,
    }
    assert (dossier["id"], dossier["sourceId"]) == (second["id"], "42")
    assert (dossier["action"], dossier["status"], dossier["dossierTitle"]) == (
        "status_changed",
        "clos",
        "Martin - OQTF",
    )
    assert deadline["urgency"] == "critical" and deadline["remainingDays"] == 1
    assert deadline["sourceId"] == "deadline-42"
    assert deadline["deadlineType"] == "OQTF" and deadline["timestamp"] == mail["timestamp"]
    assert (welcome["title"], welcome["type"], welcome["userId"]) == ("Bienvenue", "success", "u1")
    # No publisher id, no sourceId.
    assert "sourceId" not in welcome and "sourceId" not in everyone
    assert (direct["subject"], direct["userId"], direct["tenantId"]) == ("Relance", "u1", "t1")
    assert tenant_wide["tenantId"] == "t1" and "userId" not in tenant_wide
    assert everyone["title"] == "Platform Update"
    assert "tenantId" not in everyone and "userId" not in everyone
    # Another tenant gets the broadcast only; delivery is in cursor order, so nothing
    # addressed to t1 (published earlier) can still be on its way.
    assert [name for name, _ in events(bob)] == ["system-notification"]
    assert events(bob)[0][1]["id"] == everyone["id"]


async def test_emit_to_user_needs_a_tenant(api: AsyncTocsinClient) -> None:
    with pytest.raises(ValueError, match="tenant"):
        await api.emit_to_user("u1", "email-received", {"subject": "s", "from": "f"})


async def test_publish_batch_results_in_order(
    http: httpx.AsyncClient, api: AsyncTocsinClient
) -> None:
    results = await api.publish_batch(
        [email("u1", "t1", id="b-1"), {"event": "email-received", "userId": "u1"}]
    )
    assert TOCSIN_ID.match(results[0]["id"])
    assert results[1]["status"] == 422 and results[1]["field"] == "subject"
    items = await inbox(http, "u1", "t1")
    assert [(item["id"], item["sourceId"]) for item in items] == [(results[0]["id"], "b-1")]


# -- the synchronous client and the module-level helpers ---------------------------------


async def test_sync_client_and_module_helpers(server: ServerThread, alice: Client) -> None:
    def publish_from_sync_code() -> list[dict[str, Any]]:
        with TocsinClient(server.url, ADMIN_KEY) as client:
            one = client.notify_email_received(email("u1", "t1", id="sync-1", timestamp=WHEN))
            batch = client.publish_batch([email("u1", "t1", id="sync-2")])
        sdk.configure(server.url, ADMIN_KEY)
        two = sdk.notify_system({"title": "T", "message": "M", "type": "info", "tenantId": "t1"})
        three = sdk.emit_to_user("u1", "email-received", email("u1", "t1", id="sync-4"))
        return [one, *batch, two, three]

    results = await asyncio.to_thread(publish_from_sync_code)

    received = await alice.wait_notifications(4)
    assert [n["id"] for n in received] == [r["id"] for r in results]
    assert [n["cursor"] for n in received] == [r["cursor"] for r in results]
    assert received[0]["timestamp"] == "2026-01-07T09:30:00.000Z"
    assert received[2]["title"] == "T"


async def test_module_helpers_read_the_environment(
    server: ServerThread, alice: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOCSIN_URL", server.url)
    monkeypatch.setenv("TOCSIN_API_KEY", ADMIN_KEY)
    deadline = {
        "dossierNumber": "D-1",
        "message": "expire aujourd'hui",
        "urgency": "critical",
        "deadlineType": "appel",
        "remainingDays": 0,
        "userId": "u1",
        "tenantId": "t1",
    }
    result = await asyncio.to_thread(sdk.notify_deadline_alert, deadline)

    [received] = await alice.wait_notifications(1)
    assert received["id"] == result["id"]
    assert received["message"] == "expire aujourd'hui"


def test_module_helpers_need_configuration() -> None:
    with pytest.raises(RuntimeError, match=r"call tocsin\.sdk\.configure\(url, api_key\) first"):
        sdk.notify_system({"title": "T", "message": "M", "type": "info"})


# -- safe retries --------------------------------------------------------------------------


async def test_retry_after_a_lost_response_publishes_once(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    transport = LosesFirstResponse()
    async with AsyncTocsinClient(server.url, ADMIN_KEY, transport=transport, backoff=0) as api:
        result = await api.notify_email_received(
            {"subject": "Une fois", "from": "a@b.fr", "userId": "u1", "tenantId": "t1"}
        )

    keys = [r.headers["Idempotency-Key"] for r in transport.requests]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert transport.responses[0].status_code == 202
    assert transport.responses[1].headers.get("Idempotent-Replayed") == "true"
    items = await inbox(http, "u1", "t1")
    assert [item["id"] for item in items] == [result["id"]]


async def test_batch_retry_after_a_lost_response_publishes_once(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    transport = LosesFirstResponse()
    async with AsyncTocsinClient(server.url, ADMIN_KEY, transport=transport, backoff=0) as api:
        results = await api.publish_batch(
            [email("u1", "t1", subject="one"), email("u1", "t1", subject="two")]
        )

    assert len(transport.requests) == 2
    items = await inbox(http, "u1", "t1")
    assert sorted(item["id"] for item in items) == sorted(r["id"] for r in results)


async def test_5xx_and_429_are_retried_with_the_same_key() -> None:
    answers = [
        httpx.Response(503, json={"error": "internal_error", "message": "busy"}),
        httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow_down"}),
        httpx.Response(202, json={"id": "n-1", "cursor": 7}),
    ]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1]

    transport = httpx.MockTransport(handler)
    async with AsyncTocsinClient("http://tocsin.test", "k", transport=transport, backoff=0) as api:
        result = await api.publish(email("u1", "t1"), idempotency_key="mine")

    assert result == {"id": "n-1", "cursor": 7}
    assert [r.headers["Idempotency-Key"] for r in seen] == ["mine"] * 3
    assert seen[0].headers["Authorization"] == "Bearer k"


async def test_gives_up_after_the_retries() -> None:
    seen: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    transport = httpx.MockTransport(refuse)
    async with AsyncTocsinClient(
        "http://tocsin.test", "k", transport=transport, retries=2, backoff=0
    ) as api:
        with pytest.raises(httpx.ConnectError):
            await api.publish(email("u1", "t1"))
    assert len(seen) == 3

    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    with (
        TocsinClient(
            "http://tocsin.test", "k", transport=httpx.MockTransport(failing), backoff=0
        ) as client,
        pytest.raises(TocsinAPIError) as caught,
    ):
        client.publish(email("u1", "t1"))
    assert caught.value.status == 502 and caught.value.code == "http_502"


def test_backoff_and_retry_after() -> None:
    policy = sdk_http._RetryPolicy(retries=3, backoff=0.2)
    busy = httpx.Response(503)
    assert [policy.after_response(busy) for _ in range(4)] == [0.2, 0.4, 0.8, None]

    policy = sdk_http._RetryPolicy(retries=3, backoff=0.2)
    assert policy.after_response(httpx.Response(429, headers={"Retry-After": "2"})) == 2.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    delay = policy.after_response(httpx.Response(429, headers={"Retry-After": later}))
    assert delay is not None and 15 < delay <= 20
    huge = policy.after_response(httpx.Response(503, headers={"Retry-After": "3600"}))
    assert huge == sdk_http.MAX_RETRY_DELAY
    assert policy.after_response(httpx.Response(400)) is None


# -- errors --------------------------------------------------------------------------------


async def test_4xx_raises_an_error_naming_the_field_without_retrying(
    server: ServerThread,
) -> None:
    transport = Recording()
    async with AsyncTocsinClient(server.url, ADMIN_KEY, transport=transport) as api:
        with pytest.raises(TocsinAPIError) as missing:
            await api.notify_email_received({"from": "a@b.fr", "userId": "u1", "tenantId": "t1"})
        with pytest.raises(TocsinAPIError) as no_tenant:
            await api.emit_to_all("email-received", {"subject": "s", "from": "f"})
    assert (missing.value.status, missing.value.code) == (422, "validation_error")
    assert missing.value.field == "subject"
    assert "subject" in missing.value.message
    assert (no_tenant.value.status, no_tenant.value.field) == (422, "tenantId")
    assert len(transport.requests) == 2

    async with AsyncTocsinClient(server.url, "tsk_nope_nope", transport=transport) as api:
        with pytest.raises(TocsinAPIError) as refused:
            await api.notify_system({"title": "T", "message": "M", "type": "info"})
    assert (refused.value.status, refused.value.field) == (401, "Authorization")
    assert len(transport.requests) == 3


# -- embedded -----------------------------------------------------------------------------


async def test_embedded_publisher_publishes_in_process(settings: Settings) -> None:
    service = create_service(settings)
    await service.store.open(migrate=True)
    await service.bus.start(None)
    try:
        tocsin = EmbeddedPublisher(service)
        first = await tocsin.notify_email_received(email("u1", "t1", id="m-1", timestamp=WHEN))
        again = await tocsin.notify_email_received(email("u1", "t1", id="m-1", timestamp=WHEN))
        changed = await tocsin.notify_email_received(
            email("u1", "t1", id="m-1", subject="Autre", timestamp=WHEN)
        )
        wide = await tocsin.emit_to_tenant(
            "t1", "system-notification", {"title": "T", "message": "M", "type": "info"}
        )
        [ok, bad] = await tocsin.publish_batch(
            [email("u1", "t1", id="m-2"), {"event": "deadline-alert", "tenantId": "t1"}]
        )
        with pytest.raises(TocsinAPIError) as refused:
            await tocsin.notify_dossier_updated(
                {"dossierNumber": "D", "dossierTitle": "T", "action": "deleted", "tenantId": "t1"}
            )

        page = await service.inbox(Identity("t1", "u1"))
        other = await service.inbox(Identity("t2", "u1"))
    finally:
        await service.bus.stop()
        await service.store.close()

    # An identical publish is a retry; the same id with other content is a new notification.
    assert again == first and TOCSIN_ID.match(first["id"])
    assert changed["id"] != first["id"] and changed["cursor"] > first["cursor"]
    assert bad["status"] == 422 and bad["field"] == "dossierNumber"
    assert (refused.value.status, refused.value.field) == (422, "action")
    assert [item.notification.id for item in page.items] == [
        ok["id"],
        wide["id"],
        changed["id"],
        first["id"],
    ]
    assert source_ids(item.notification.to_wire() for item in page.items) == [
        "m-2",
        None,
        "m-1",
        "m-1",
    ]
    wire = page.items[-1].notification.to_wire()
    assert wire["timestamp"] == "2026-01-07T09:30:00.000Z"
    assert wire["subject"] == "Nouveau courrier"
    assert other.items == []
