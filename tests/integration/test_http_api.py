"""The HTTP API: every documented error, API keys from the CLI, batches, idempotency."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import (
    ADMIN_KEY,
    TOCSIN_ID,
    Client,
    ServerThread,
    email,
    ids_by_source,
    publish,
    source_ids,
    tocsin_cli,
    token,
)
from tocsin.config import Settings


def user_headers(user: str, tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user, tenant)}"}


async def test_documented_errors_and_nothing_accepted_is_lost(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    firm_a_key = tocsin_cli(settings, "keys", "create", "--tenant", "firm-a", "--name", "app")
    assert firm_a_key.startswith("tsk_")
    accepted: list[tuple[str, str, str, str]] = []  # (tenant, user, id, sourceId) answered 2xx

    async def expect(response: httpx.Response, status: int, error: str, field: str | None) -> None:
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error"] == error, body
        assert body.get("field") == field, body
        assert body["message"]

    # 400: not JSON
    await expect(
        await http.post(
            "/api/v1/notifications",
            content=b"{nope",
            headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
        ),
        400,
        "invalid_json",
        "body",
    )
    # 401: no key, a wrong key, a user token where a key is expected
    await expect(
        await http.post("/api/v1/notifications", json=email("u", "firm-a")),
        401,
        "unauthorized",
        "Authorization",
    )
    await expect(
        await publish(http, email("u", "firm-a"), key="tsk_abc_wrong"),
        401,
        "unauthorized",
        "Authorization",
    )
    await expect(
        await publish(http, email("u", "firm-a"), key=token("u", "firm-a")),
        401,
        "unauthorized",
        "Authorization",
    )
    # 403: a tenant key publishing into another tenant
    await expect(
        await publish(http, email("u", "firm-b"), key=firm_a_key), 403, "forbidden", "tenantId"
    )
    # 404: no such route
    missing = await http.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    # 409: an idempotency key reused for another notification
    first = await publish(http, email("u", "firm-a", id="k-1"), idempotency_key="same-key")
    assert first.status_code == 202
    accepted.append(("firm-a", "u", first.json()["id"], "k-1"))
    await expect(
        await publish(http, email("u", "firm-a", id="k-2"), idempotency_key="same-key"),
        409,
        "idempotency_key_reused",
        "Idempotency-Key",
    )
    # 422: an Idempotency-Key over 255 characters
    await expect(
        await publish(http, email("u", "firm-a"), idempotency_key="k" * 256),
        422,
        "validation_error",
        "Idempotency-Key",
    )
    # 413: body over the limit
    huge = email("u", "firm-a", subject="x" * (settings.max_body_bytes + 10))
    await expect(await publish(http, huge), 413, "payload_too_large", "body")
    # 422: each kind of invalid field is named
    bad: list[tuple[dict[str, Any], str]] = [
        ({"subject": "s", "from": "f", "userId": "u", "tenantId": "t"}, "event"),
        ({**email("u", "firm-a"), "event": "nope"}, "event"),
        ({k: v for k, v in email("u", "firm-a").items() if k != "subject"}, "subject"),
        ({**email("u", "firm-a"), "colour": "red"}, "colour"),
        ({**email("u", "firm-a"), "tenantId": None}, "tenantId"),
        (
            {
                "event": "deadline-alert",
                "dossierNumber": "D",
                "message": "m",
                "urgency": "panic",
                "deadlineType": "OQTF",
                "remainingDays": 1,
                "userId": "u",
                "tenantId": "t",
            },
            "urgency",
        ),
        (
            {
                "event": "dossier-updated",
                "dossierNumber": "D",
                "dossierTitle": "T",
                "action": "created",
                "tenantId": "t",
                "userId": "u",
                "timestamp": "yesterday",
            },
            "timestamp",
        ),
    ]
    for body, field in bad:
        await expect(await publish(http, body), 422, "validation_error", field)
    # The inbox without a token: 401 with the socket's reason code
    no_token = await http.get("/api/v1/inbox")
    assert no_token.status_code == 401
    assert no_token.json()["reason"] == "missing_token"
    bad_limit = await http.get("/api/v1/inbox?limit=500", headers=user_headers("u", "firm-a"))
    assert bad_limit.status_code == 422 and bad_limit.json()["field"] == "limit"

    # Accepted: with the tenant key (tenantId implied) and the admin key.
    implied = await publish(
        http,
        {k: v for k, v in email("u", "firm-a", id="implied").items() if k != "tenantId"},
        key=firm_a_key,
    )
    assert implied.status_code == 202, implied.text
    accepted.append(("firm-a", "u", implied.json()["id"], "implied"))
    batch = await http.post(
        "/api/v1/notifications/batch",
        json={
            "notifications": [
                email("u", "firm-a", id="b-1"),
                {"event": "nope"},
                email("v", "firm-b", id="b-2"),
            ]
        },
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert batch.status_code == 200
    results = batch.json()["results"]
    assert TOCSIN_ID.match(results[0]["id"]) and isinstance(results[0]["cursor"], int)
    assert results[1]["error"] == "validation_error" and results[1]["field"] == "event"
    assert TOCSIN_ID.match(results[2]["id"])
    accepted += [("firm-a", "u", results[0]["id"], "b-1"), ("firm-b", "v", results[2]["id"], "b-2")]

    # Nothing answered 2xx is missing, nothing refused is there.
    for tenant, user in {(t, u) for t, u, _, _ in accepted}:
        inbox = await http.get("/api/v1/inbox?limit=200", headers=user_headers(user, tenant))
        ids = {(item["id"], item["sourceId"]) for item in inbox.json()["items"]}
        assert ids == {(i, s) for t, u, i, s in accepted if (t, u) == (tenant, user)}


async def test_an_identical_publish_returns_the_first_result_and_a_changed_one_is_new(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    client = Client(server.url, "u", "firm-a")
    await client.connect()
    try:
        mail = email("u", "firm-a", id="mail-42", timestamp="2026-01-07T10:00:00+01:00")
        first = await publish(http, mail)
        again = await publish(http, mail)
        assert first.status_code == again.status_code == 202
        assert "Idempotent-Replayed" not in first.headers
        assert again.json() == first.json()
        assert again.headers.get("Idempotent-Replayed") == "true"
        # The same id with other content is another notification, delivered like any.
        changed = await publish(http, {**mail, "subject": "changed"})
        assert changed.status_code == 202 and "Idempotent-Replayed" not in changed.headers
        assert changed.json()["id"] != first.json()["id"]
        assert changed.json()["cursor"] > first.json()["cursor"]
        retry = await publish(http, email("u", "firm-a"), idempotency_key="retry-1")
        retry_again = await publish(http, email("u", "firm-a"), idempotency_key="retry-1")
        assert retry_again.json() == retry.json()
        assert retry_again.headers.get("Idempotent-Replayed") == "true"
        # Delivery is in cursor order: once the last one is in, a replayed one would be too.
        last = await publish(http, email("u", "firm-a", id="last"))
        await client.log.wait_for(lambda _l: "last" in source_ids(client.notifications()))
        expected = [
            (first.json()["id"], "mail-42", "Nouveau courrier"),
            (changed.json()["id"], "mail-42", "changed"),
            (retry.json()["id"], None, "Nouveau courrier"),
            (last.json()["id"], "last", "Nouveau courrier"),
        ]
        received = client.notifications()
        assert [(n["id"], n.get("sourceId"), n["subject"]) for n in received] == expected
        inbox = await http.get("/api/v1/inbox", headers=user_headers("u", "firm-a"))
        items = inbox.json()["items"]
        assert [(i["id"], i.get("sourceId"), i["subject"]) for i in items] == expected[::-1]
    finally:
        await client.disconnect()


async def test_revoked_key_is_refused(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    key = tocsin_cli(settings, "keys", "create", "--tenant", "firm-a")
    assert (await publish(http, email("u", "firm-a"), key=key)).status_code == 202
    key_id = key.split("_")[1]
    listing = tocsin_cli(settings, "keys", "list", "--tenant", "firm-a")
    assert key_id in listing and "active" in listing
    assert key.split("_", 2)[2] not in listing  # the secret is never shown again
    tocsin_cli(settings, "keys", "revoke", key_id)
    refused = await publish(http, email("u", "firm-a"), key=key)
    assert refused.status_code == 401 and refused.json()["error"] == "key_revoked"


async def test_inbox_http_endpoints(server: ServerThread, http: httpx.AsyncClient) -> None:
    for i in range(5):
        await publish(http, email("u", "firm-a", id=f"n{i}"))
    await publish(
        http,
        {
            "event": "system-notification",
            "title": "T",
            "message": "M",
            "type": "info",
            "tenantId": "firm-a",
            "id": "sys",
        },
    )
    headers = user_headers("u", "firm-a")
    page = (await http.get("/api/v1/inbox?limit=4", headers=headers)).json()
    assert source_ids(page["items"]) == ["sys", "n4", "n3", "n2"]
    assert page["items"][0]["event"] == "system-notification"
    rest = (
        await http.get(f"/api/v1/inbox?limit=4&before={page['nextBefore']}", headers=headers)
    ).json()
    assert source_ids(rest["items"]) == ["n1", "n0"] and rest["nextBefore"] is None
    ids = ids_by_source(page["items"] + rest["items"])
    only = (await http.get("/api/v1/inbox?event=system-notification", headers=headers)).json()
    assert [i["id"] for i in only["items"]] == [ids["sys"]]
    # Marking read takes Tocsin's ids: a publisher's id ("n1") marks nothing.
    marked = (
        await http.post(
            "/api/v1/inbox/read", json={"ids": [ids["n0"], ids["sys"], "n1"]}, headers=headers
        )
    ).json()
    assert marked == {"ids": [ids["n0"], ids["sys"]], "unreadCount": 4, "unseenCount": 4}
    unread = (await http.get("/api/v1/inbox?unread=true", headers=headers)).json()
    assert [i["id"] for i in unread["items"]] == [ids[f"n{i}"] for i in (4, 3, 2, 1)]
    read_all = (await http.post("/api/v1/inbox/read-all", headers=headers)).json()
    assert read_all["unreadCount"] == 0
    count = (await http.get("/api/v1/inbox/unread-count", headers=headers)).json()
    assert count == {"count": 0, "unseen": 0}
    assert (await http.post("/api/v1/inbox/read", json={"ids": "n1"}, headers=headers)).json()[
        "field"
    ] == "ids"
    openapi = (await http.get("/openapi.json")).json()
    assert "/api/v1/notifications" in openapi["paths"]
    assert "EmailReceived" in openapi["components"]["schemas"]
    assert (await http.get("/docs")).status_code == 200


async def test_unpaired_surrogates_are_refused_however_they_are_spelled(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
    template = (
        '{"event":"email-received","subject":"%s","from":"G <g@t.fr>","userId":"u","tenantId":"t"}'
    )
    bodies = {
        "escaped": (template % "\\ud800x").encode(),
        "utf-8 bytes": (template % "X").encode().replace(b"X", b"\xed\xa0\x80"),
        "utf-16": (template % "\\ud800")
        .encode()
        .decode("unicode_escape")
        .encode("utf-16-le", "surrogatepass"),
    }
    for spelling, body in bodies.items():
        response = await http.post("/api/v1/notifications", content=body, headers=headers)
        assert response.status_code == 400, (spelling, response.text)
        assert response.json()["field"] == "body", spelling
    fine = await http.post(
        "/api/v1/notifications", content=(template % "Écrit \\u00e9").encode(), headers=headers
    )
    assert fine.status_code == 202, fine.text
