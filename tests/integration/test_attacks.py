"""The attack matrix: each row refused with its documented reason, nothing delivered."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import socketio
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from tests.conftest import make_settings
from tests.forge import AUTH_SECRET, authjs_token, b64, claims
from tests.helpers import (
    ADMIN_KEY,
    JWT_SECRET,
    Client,
    ServerThread,
    create_api_key,
    email,
    publish,
    source_ids,
    token,
)

RSA = RSAKey.generate_key(2048)
EC = ECKey.generate_key("P-256")


def tampered(token: str) -> str:
    parts = token.split(".")
    cipher = bytearray(base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4)))
    cipher[0] ^= 0x01
    parts[3] = b64(bytes(cipher))
    return ".".join(parts)


def hs256_with_public_key() -> str:
    """The classic confusion: an HS256 token whose HMAC key is the RSA public key's PEM."""
    pem = RSA.as_pem(private=False)
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def unsigned() -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."


SOCKET_ATTACKS: list[tuple[str, Any, str]] = [
    (
        "wrong secret",
        lambda: authjs_token(claims(), "not-the-configured-secret-at-all"),
        "invalid_token",
    ),
    ("tampered ciphertext", lambda: tampered(authjs_token(claims())), "invalid_token"),
    ("alg none", unsigned, "invalid_token"),
    (
        "unexpected JWE alg",
        lambda: authjs_token(claims(), alg="A256KW", enc="A256GCM"),
        "invalid_token",
    ),
    ("unexpected JWE enc", lambda: authjs_token(claims(), enc="A128GCM"), "invalid_token"),
    (
        "unexpected JWS alg",
        lambda: jwt.encode(
            {"alg": "HS512"}, claims(), OctKey.import_key(JWT_SECRET.encode()), algorithms=["HS512"]
        ),
        "invalid_token",
    ),
    ("HS256 signed with the RS256 public key", hs256_with_public_key, "invalid_token"),
    ("expired", lambda: authjs_token(claims(exp=int(time.time()) - 120)), "expired"),
    ("not yet valid", lambda: authjs_token(claims(nbf=int(time.time()) + 600)), "invalid_token"),
    (
        "no tenant",
        lambda: authjs_token({k: v for k, v in claims().items() if k != "tenantId"}),
        "no_tenant",
    ),
    (
        "no user",
        lambda: authjs_token({k: v for k, v in claims().items() if k != "id"}),
        "invalid_token",
    ),
    ("missing", lambda: None, "missing_token"),
]


@pytest.fixture
def guarded(sqlite_url: str) -> Iterator[ServerThread]:
    node = ServerThread(
        make_settings(
            sqlite_url,
            auth_secret=AUTH_SECRET,
            jwt_public_key=RSA.as_pem(private=False).decode(),
            websocket_cors_origin="https://app.example",
        )
    )
    node.start()
    try:
        yield node
    finally:
        node.close()


async def refusal(
    url: str, *, auth: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> list[Any]:
    sio = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    sio.on("connect_error", errors.append)
    delivered: list[Any] = []
    sio.on("*", lambda event, data=None: delivered.append(event))
    with contextlib.suppress(socketio.exceptions.ConnectionError):
        await sio.connect(
            url, auth=auth, headers=headers or {}, transports=["websocket"], wait_timeout=5
        )
    assert not sio.connected and delivered == []
    await sio.disconnect()
    return errors


@pytest.mark.parametrize(
    ("case", "make", "reason"), SOCKET_ATTACKS, ids=[c[0] for c in SOCKET_ATTACKS]
)
@pytest.mark.parametrize("where", ["auth.token", "cookie"])
async def test_forged_or_broken_sessions_are_refused(
    guarded: ServerThread, case: str, make: Any, reason: str, where: str
) -> None:
    value = make()
    if where == "cookie" and value is not None:
        errors = await refusal(guarded.url, headers={"Cookie": f"authjs.session-token={value}"})
    else:
        errors = await refusal(guarded.url, auth={"token": value} if value else {})
    assert errors == [{"message": "Unauthorized", "data": {"reason": reason}}], case


async def test_the_positive_controls_are_accepted(guarded: ServerThread) -> None:
    """The same server accepts the genuine article, so the refusals above mean something."""
    good = {
        "auth.js": authjs_token(claims()),
        "RS256": jwt.encode({"alg": "RS256"}, claims(), RSA, algorithms=["RS256"]),
    }
    for label, value in good.items():
        client = Client(guarded.url, "alice", "firm-a")
        await client.connect(auth_token=value)
        assert client.sio.connected, label
        await client.disconnect()


async def test_es256_tokens_verify_with_an_ec_public_key(sqlite_url: str) -> None:
    node = ServerThread(make_settings(sqlite_url, jwt_public_key=EC.as_pem(private=False).decode()))
    node.start()
    try:
        client = Client(node.url, "alice", "firm-a")
        await client.connect(
            auth_token=jwt.encode({"alg": "ES256"}, claims(), EC, algorithms=["ES256"])
        )
        assert client.sio.connected
        await client.disconnect()
        errors = await refusal(node.url, auth={"token": token("alice", "firm-a")[:-4] + "AAAA"})
        assert errors == [{"message": "Unauthorized", "data": {"reason": "invalid_token"}}]
    finally:
        node.close()


async def test_foreign_origin_is_refused(guarded: ServerThread) -> None:
    """Cross-site WebSocket hijacking: a page on another site rides the user's cookie."""
    cookie = {"Cookie": f"authjs.session-token={authjs_token(claims())}"}
    # refusal() asserts the socket never connects and receives nothing.
    await refusal(guarded.url, headers={**cookie, "Origin": "https://evil.example"})
    async with httpx.AsyncClient() as http:
        polling = await http.get(
            f"{guarded.url}/socket.io/?EIO=4&transport=polling",
            headers={**cookie, "Origin": "https://evil.example"},
        )
    assert polling.status_code == 400
    allowed = socketio.AsyncClient(reconnection=False)
    await allowed.connect(
        guarded.url,
        headers={**cookie, "Origin": "https://app.example"},
        transports=["websocket"],
        wait_timeout=5,
    )
    assert allowed.connected
    await allowed.disconnect()


async def test_by_default_only_the_servers_own_origin_may_connect(server: ServerThread) -> None:
    auth = {"token": token("alice", "firm-a")}
    await refusal(server.url, auth=auth, headers={"Origin": "https://evil.example"})
    own = socketio.AsyncClient(reconnection=False)
    await own.connect(
        server.url,
        auth=auth,
        headers={"Origin": server.url},
        transports=["websocket"],
        wait_timeout=5,
    )
    assert own.connected
    await own.disconnect()


async def test_a_client_event_cannot_join_another_room(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    attacker = Client(server.url, "mallory", "firm-b")
    await attacker.connect()
    try:
        for event in ("join", "enter_room", "subscribe"):
            await attacker.sio.emit(event, {"room": "tenant:firm-a"})
            await attacker.sio.emit(event, "user:alice")
        await publish(http, email("alice", "firm-a", id="secret"))
        await publish(
            http,
            {
                "event": "system-notification",
                "title": "A",
                "message": "a",
                "type": "info",
                "tenantId": "firm-a",
                "id": "team-secret",
            },
        )
        await publish(http, email("mallory", "firm-b", id="own"))
        await attacker.log.wait_for(lambda _l: "own" in source_ids(attacker.notifications()))
        assert source_ids(attacker.notifications()) == ["own"]
    finally:
        await attacker.disconnect()


async def test_a_tenant_key_cannot_publish_into_another_tenant(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    full = await create_api_key(server.settings, "firm-b")
    victim = Client(server.url, "alice", "firm-a")
    await victim.connect()
    try:
        for body in (
            email("alice", "firm-a"),
            {
                "event": "system-notification",
                "title": "t",
                "message": "m",
                "type": "error",
                "tenantId": "firm-a",
            },
        ):
            refused = await publish(http, body, key=full)
            assert refused.status_code == 403 and refused.json()["field"] == "tenantId"
        batch = await http.post(
            "/api/v1/notifications/batch",
            json={"notifications": [email("alice", "firm-a")]},
            headers={"Authorization": f"Bearer {full}"},
        )
        assert batch.json()["results"][0]["status"] == 403
        legit = await publish(http, email("alice", "firm-a", id="legit"), key=ADMIN_KEY)
        await victim.log.wait_for(lambda _l: bool(victim.notifications()))
        assert [(n["id"], n["sourceId"]) for n in victim.notifications()] == [
            (legit.json()["id"], "legit")
        ]
    finally:
        await victim.disconnect()


async def test_a_user_cannot_read_or_mark_another_users_inbox(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    bobs = (await publish(http, email("bob", "firm-a", id="bobs-mail"))).json()["id"]
    other = (await publish(http, email("alice", "firm-b", id="other-alice"))).json()["id"]
    alice = {"Authorization": f"Bearer {token('alice', 'firm-a')}"}
    bob = {"Authorization": f"Bearer {token('bob', 'firm-a')}"}
    snooped = await http.get("/api/v1/inbox?userId=bob&tenantId=firm-a", headers=alice)
    assert snooped.status_code == 200 and snooped.json()["items"] == []
    # Knowing the ids (Tocsin's, or the publisher's) is not enough to mark them.
    marked = await http.post(
        "/api/v1/inbox/read", json={"ids": [bobs, other, "bobs-mail"]}, headers=alice
    )
    assert marked.status_code == 200 and marked.json()["ids"] == []
    await http.post("/api/v1/inbox/read-all", headers=alice)
    await http.post("/api/v1/inbox/clear", headers=alice)
    assert (await http.get("/api/v1/inbox/unread-count", headers=bob)).json() == {
        "count": 1,
        "unseen": 1,
    }
    items = (await http.get("/api/v1/inbox", headers=bob)).json()["items"]
    assert [(i["id"], i["sourceId"], i["read"]) for i in items] == [(bobs, "bobs-mail", False)]
    forged = await http.get("/api/v1/inbox", headers={"Authorization": "Bearer " + unsigned()})
    assert forged.status_code == 401 and forged.json()["reason"] == "invalid_token"


async def test_a_socket_is_disconnected_when_its_session_expires(server: ServerThread) -> None:
    # Expired 14 s ago: still inside the 15 s tolerance, so it connects and expires at once.
    soon = token("alice", "firm-a", exp=int(time.time()) - 14)
    client = Client(server.url, "alice", "firm-a")
    client.sio.on("disconnect", lambda reason=None: client.log.add("disconnect", reason))
    await client.connect(auth_token=soon)
    await client.log.wait_for(lambda log: bool(log.of("disconnect")), timeout=10)
    assert not client.sio.connected
    errors = await refusal(server.url, auth={"token": soon})
    assert errors == [{"message": "Unauthorized", "data": {"reason": "expired"}}]
