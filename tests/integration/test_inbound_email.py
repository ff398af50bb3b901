"""POST /api/v1/inbound/email: raw RFC 822 in, email-received out, once."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.helpers import ADMIN_KEY, TOCSIN_ID, Client, ServerThread, create_api_key, token
from tocsin.config import Settings

ROUTES = [
    {
        "name": "cabinet",
        "routing": {
            "alice@cabinet.example": {"tenantId": "firm-a", "userId": "alice"},
            "@associes.example": {"tenantId": "firm-a", "userId": "bob"},
        },
    },
    {
        "name": "greffe-b",
        "address": "greffe@firm-b.example",
        "routing": {"tenantId": "firm-b", "userId": "carol"},
        "dossier_pattern": r"\bRG (\d{2}/\d{5})\b",
    },
]
LIMIT = 64 * 1024


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    path = tmp_path / "mailboxes.json"
    path.write_text(json.dumps(ROUTES))
    return make_settings(sqlite_url, mailboxes_file=str(path), inbound_max_bytes=LIMIT)


def raw(
    subject: str = "Convocation — dossier CIV-2026-0042",
    *,
    to: str = "alice@cabinet.example",
    message_id: str = "<conv-1@tribunal.example>",
    received: str = "mx1",
) -> bytes:
    return (
        f"Received: from {received}.provider.example\r\n"
        "From: =?UTF-8?Q?Greffe_du_tribunal_judiciaire?= <greffe@tribunal.example>\r\n"
        f"To: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nAudience le 12 mars.\r\n"
    ).encode()


async def post(
    http: httpx.AsyncClient,
    body: bytes,
    *,
    key: str = ADMIN_KEY,
    params: dict[str, str] | None = None,
    content_type: str = "message/rfc822",
) -> httpx.Response:
    return await http.post(
        "/api/v1/inbound/email",
        content=body,
        params=params,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )


async def test_a_message_is_accepted_and_delivered(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    alice = Client(server.url, "alice", "firm-a")
    await alice.connect()
    try:
        response = await post(http, raw())
        assert response.status_code == 202, response.text
        body = response.json()
        [received] = await alice.wait_notifications(1)
    finally:
        await alice.disconnect()
    assert (body["id"], body["cursor"]) == (received["id"], received["cursor"])
    # Tocsin's own id; the mail's derived id (from its Message-ID) travels as sourceId.
    assert TOCSIN_ID.match(received["id"]) and received["sourceId"].startswith("mail-")
    assert received["subject"] == "Convocation — dossier CIV-2026-0042"
    assert received["from"] == "Greffe du tribunal judiciaire <greffe@tribunal.example>"
    assert received["dossierNumber"] == "CIV-2026-0042"
    assert (received["tenantId"], received["userId"]) == ("firm-a", "alice")


async def test_a_retry_with_the_same_message_id_creates_nothing(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    first = await post(http, raw())
    # A provider's retry may come through another relay: same Message-ID, other bytes.
    again = await post(http, raw(received="mx2"))
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["cursor"] == first.json()["cursor"]
    assert again.headers["Idempotent-Replayed"] == "true"
    inbox = await http.get(
        "/api/v1/inbox", headers={"Authorization": f"Bearer {token('alice', 'firm-a')}"}
    )
    assert len(inbox.json()["items"]) == 1


async def test_every_routed_recipient_gets_one(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    response = await post(http, raw(to="alice@cabinet.example, Bob <bob+x@associes.example>"))
    assert response.status_code == 202, response.text
    users = [(n["tenantId"], n["userId"]) for n in response.json()["notifications"]]
    assert users == [("firm-a", "alice"), ("firm-a", "bob")]


async def test_a_mailbox_address_and_its_dossier_pattern_apply(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    key = await create_api_key(settings, "firm-b")
    response = await post(
        http, raw("Votre affaire RG 24/01234", to="greffe@firm-b.example"), key=key
    )
    assert response.status_code == 202, response.text
    [item] = (
        await http.get(
            "/api/v1/inbox", headers={"Authorization": f"Bearer {token('carol', 'firm-b')}"}
        )
    ).json()["items"]
    assert item["dossierNumber"] == "24/01234"


async def test_explicit_user_and_tenant_keys(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    key = await create_api_key(settings, "firm-b")
    own = await post(http, raw(to="x@unknown.example"), key=key, params={"userId": "dave"})
    assert own.status_code == 202, own.text
    assert own.json()["notifications"][0]["tenantId"] == "firm-b"

    other = await post(http, raw(), key=key, params={"tenantId": "firm-a", "userId": "alice"})
    assert other.status_code == 403
    assert other.json()["error"] == "forbidden" and other.json()["field"] == "tenantId"

    # Routed by recipient into another tenant: refused as well.
    routed = await post(http, raw(message_id="<other@x>"), key=key)
    assert routed.status_code == 403 and routed.json()["field"] == "to"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b"\x00\x01\x02 not mail at all \xff", "message/rfc822", 422, "body"),
        (b"   \r\n", "message/rfc822", 400, "body"),
        (b'{"subject": "json"}', "application/json", 415, "Content-Type"),
        (b"From: a@b.example\r\nSubject: x\r\n\r\n" + b"A" * LIMIT, "text/plain", 413, "body"),
        (b"From: a@b.example\r\nTo: nobody@nowhere.example\r\n\r\nhi", "text/plain", 422, "to"),
    ],
    ids=["garbage", "empty", "json", "too-large", "unrouted"],
)
async def test_what_is_not_a_routable_message_is_a_json_error(
    server: ServerThread,
    http: httpx.AsyncClient,
    body: bytes,
    content_type: str,
    status: int,
    field: str,
) -> None:
    response = await post(http, body, content_type=content_type)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert response.json()["message"]


async def test_an_api_key_is_required(server: ServerThread, http: httpx.AsyncClient) -> None:
    response = await http.post("/api/v1/inbound/email", content=raw())
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
