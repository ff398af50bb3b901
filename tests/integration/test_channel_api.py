"""The channel API of DESIGN §8 over HTTP: push subscriptions (only towards allowed push
services), user profiles, the session's e-mail kept on connect, and the delivery log."""

from __future__ import annotations

import base64
import os

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import make_settings
from tests.helpers import (
    ADMIN_KEY,
    Client,
    ServerThread,
    bearer,
    create_api_key,
    email,
    publish,
    token,
)
from tocsin.config import Settings
from tocsin.push.vapid import generate
from tocsin.store.sql import SqlStore

TENANT, OTHER = "firm-a", "firm-b"
AS_ALICE, AS_BOB = bearer("alice", TENANT), bearer("bob", TENANT)
LOOPBACK_PUSH = "http://127.0.0.1:*"


def b64(size: int) -> str:
    return base64.urlsafe_b64encode(os.urandom(size)).rstrip(b"=").decode()


def browser_key() -> str:
    """A P-256 public key as a browser's subscription gives it (uncompressed, base64url)."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


def subscription(endpoint: str) -> dict[str, object]:
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": browser_key(), "auth": b64(16)},
    }


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url, push_services=[LOOPBACK_PUSH, "https://fcm.googleapis.com/*"])


async def subscriptions_of(settings: Settings, user: str) -> list[str]:
    from tocsin.models import Identity

    store = SqlStore(settings.database_url)
    await store.open(migrate=False)
    try:
        return [s.endpoint for s in await store.push_subscriptions(Identity(TENANT, user))]
    finally:
        await store.close()


async def test_subscribe_and_unsubscribe(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    endpoint = "https://fcm.googleapis.com/fcm/send/abc:def"
    response = await http.post(
        "/api/v1/push/subscriptions", json=subscription(endpoint), headers=AS_ALICE
    )
    assert response.status_code == 201, response.text
    assert await subscriptions_of(settings, "alice") == [endpoint]
    # Bob cannot remove Alice's; Alice can (204 either way, nothing said about others').
    gone = await http.request(
        "DELETE",
        "/api/v1/push/subscriptions",
        json={"endpoint": endpoint},
        headers=AS_BOB,
    )
    assert gone.status_code == 204 and await subscriptions_of(settings, "alice") == [endpoint]
    gone = await http.request(
        "DELETE",
        "/api/v1/push/subscriptions",
        json={"endpoint": endpoint},
        headers=AS_ALICE,
    )
    assert gone.status_code == 204 and await subscriptions_of(settings, "alice") == []
    assert (
        await http.post("/api/v1/push/subscriptions", json=subscription(endpoint))
    ).status_code == 401


@pytest.mark.attack(
    title="Push subscription aimed at an internal address (SSRF, issue 18)",
    tried="endpoints at 169.254.169.254, localhost:5432, userinfo and look-alike hosts, "
    "http: and file: URLs",
    times=1,
)
@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:5432/",
        "https://fcm.googleapis.com@10.0.0.1/x",
        "https://fcm.googleapis.com.evil.example/x",
        "http://fcm.googleapis.com/fcm/send/x",
        "file:///etc/passwd",
    ],
)
async def test_an_endpoint_outside_the_push_services_is_refused(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings, endpoint: str
) -> None:
    response = await http.post(
        "/api/v1/push/subscriptions", json=subscription(endpoint), headers=AS_ALICE
    )
    assert response.status_code == 422 and response.json()["field"] == "endpoint", response.text
    assert await subscriptions_of(settings, "alice") == []


async def test_bad_keys_and_too_many_subscriptions(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    url = "http://127.0.0.1:9/push/"
    off_curve = base64.urlsafe_b64encode(b"\x04" + os.urandom(64)).rstrip(b"=").decode()
    for body, field in [
        ({"endpoint": url + "a"}, "keys"),
        ({"endpoint": url + "a", "keys": {"p256dh": b64(64), "auth": b64(16)}}, "keys.p256dh"),
        # 65 bytes that are no point of the curve: every push to it would fail to encrypt.
        ({"endpoint": url + "a", "keys": {"p256dh": off_curve, "auth": b64(16)}}, "keys.p256dh"),
        ({"endpoint": url + "a", "keys": {"p256dh": browser_key(), "auth": "!!"}}, "keys.auth"),
        ({"endpoint": url + "a", "keys": {"p256dh": browser_key(), "auth": b64(15)}}, "keys.auth"),
        ({"endpoint": 7, "keys": {}}, "endpoint"),
        ([], "body"),
    ]:
        response = await http.post("/api/v1/push/subscriptions", json=body, headers=AS_ALICE)
        assert response.status_code == 422 and response.json()["field"] == field, (
            body,
            response.text,
        )
    for i in range(10):
        ok = await http.post(
            "/api/v1/push/subscriptions",
            json=subscription(f"{url}{i}"),
            headers=AS_ALICE,
        )
        assert ok.status_code == 201
    refused = await http.post(
        "/api/v1/push/subscriptions", json=subscription(url + "x"), headers=AS_ALICE
    )
    assert refused.status_code == 422 and "at most 10" in refused.json()["message"]
    assert len(await subscriptions_of(settings, "alice")) == 10


async def test_profiles_by_tenant_key(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    own, other = await create_api_key(settings, TENANT), await create_api_key(settings, OTHER)
    url = f"/api/v1/tenants/{TENANT}/users/alice"
    body = {"email": "alice@firm-a.fr", "locale": "en", "timezone": "America/New_York"}
    put = await http.put(url, json=body, headers={"Authorization": f"Bearer {own}"})
    assert put.status_code == 200 and put.json() == {"tenantId": TENANT, "userId": "alice", **body}
    got = await http.get(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert got.json()["email"] == "alice@firm-a.fr"
    assert (await http.get(url, headers={"Authorization": f"Bearer {other}"})).status_code == 403
    assert (await http.get(url, headers=AS_ALICE)).status_code == 401
    for bad, field in [
        ({"email": "not an address"}, "email"),
        ({"locale": "de"}, "locale"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"phone": "0102"}, "phone"),
    ]:
        response = await http.put(url, json=bad, headers={"Authorization": f"Bearer {own}"})
        assert response.status_code == 422 and response.json()["field"] == field, response.text
    missing = await http.get(
        f"/api/v1/tenants/{TENANT}/users/nobody", headers={"Authorization": f"Bearer {own}"}
    )
    assert missing.status_code == 404


async def test_the_sessions_email_is_kept_on_connect(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    client = Client(server.url, "carol", TENANT)
    await client.connect(auth_token=token("carol", TENANT, email="carol@firm-a.fr"))
    await client.disconnect()
    got = await http.get(
        f"/api/v1/tenants/{TENANT}/users/carol", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert got.status_code == 200 and got.json()["email"] == "carol@firm-a.fr"


async def test_the_delivery_log_is_the_publishers(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    published = (await publish(http, email("alice", TENANT))).json()
    own, other = await create_api_key(settings, TENANT), await create_api_key(settings, OTHER)
    url = f"/api/v1/notifications/{published['id']}/deliveries"
    answer = await http.get(url, headers={"Authorization": f"Bearer {own}"})
    assert answer.status_code == 200 and answer.json() == {"deliveries": []}
    assert (await http.get(url, headers={"Authorization": f"Bearer {other}"})).status_code == 404
    assert (
        await http.get(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    ).status_code == 200
    unknown = await http.get(
        "/api/v1/notifications/nope/deliveries", headers={"Authorization": f"Bearer {own}"}
    )
    assert unknown.status_code == 404 and unknown.json()["field"] == "id"


async def test_the_public_key_browsers_subscribe_with(sqlite_url: str) -> None:
    keys = generate()
    for settings, expected in [
        (make_settings(sqlite_url), None),
        (
            make_settings(
                sqlite_url,
                vapid_private_key=keys.private_key,
                vapid_subject="mailto:ops@firm-a.fr",
            ),
            keys.public_key,
        ),
    ]:
        node = ServerThread(settings)
        node.start()
        try:
            async with httpx.AsyncClient(base_url=node.url) as http:
                answer = await http.get("/api/v1/push/public-key")
        finally:
            node.close()
        assert answer.json() == {"publicKey": expected}
