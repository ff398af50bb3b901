"""The operator page's guard rails, over HTTP against a real node: sign-in, the session
cookie, CSRF on every write, rate limiting, languages and security headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.conftest import make_settings
from tests.helpers import ADMIN_KEY, ServerThread
from tocsin.admin.session import COOKIE, SessionSigner
from tocsin.store.sql import SqlStore

ENDPOINTS = ("connections", "publishes", "notifications", "jobs")
NOTE = {"tenantId": "firm-a", "title": "Essai", "message": "Depuis la page"}


@pytest.fixture
async def admin(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in on the operator page (the cookie jar holds its session)."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        signed = await client.post(
            "/admin/signin", data={"key": ADMIN_KEY}, headers={"Origin": server.url}
        )
        assert signed.status_code == 303, signed.text
        yield client


async def csrf_of(client: httpx.AsyncClient) -> str:
    page = await client.get("/admin")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found, page.text[:500]
    return found.group(1)


async def test_sign_in_sets_a_strict_http_only_cookie_and_a_wrong_key_is_refused(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    page = await http.get("/admin")
    assert page.status_code == 200 and 'action="/admin/signin"' in page.text
    wrong = await http.post(
        "/admin/signin", data={"key": ADMIN_KEY + "x"}, headers={"Origin": server.url}
    )
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers and "Clé refusée" in wrong.text
    assert (await http.get("/admin")).text.count('name="csrf-token"') == 0

    right = await http.post(
        "/admin/signin", data={"key": ADMIN_KEY}, headers={"Origin": server.url}
    )
    assert right.status_code == 303 and right.headers["location"] == "/admin?lang=fr"
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/admin", "Max-Age=28800"):
        assert attribute in cookie, cookie
    dashboard = await http.get("/admin")
    assert dashboard.status_code == 200 and 'name="csrf-token"' in dashboard.text
    # A sign-in posted from another site is refused before the key is even looked at.
    forged = await http.post(
        "/admin/signin", data={"key": ADMIN_KEY}, headers={"Origin": "http://evil.example"}
    )
    assert forged.status_code == 403 and forged.json()["field"] == "Origin"
    assert "Secure" not in cookie  # plain http here; behind TLS it is Secure:
    async with httpx.AsyncClient(base_url=server.url) as behind_tls:
        proxied = await behind_tls.post(
            "/admin/signin",
            data={"key": ADMIN_KEY},
            headers={"Origin": "https://ops.example", "X-Forwarded-Proto": "https"},
        )
        assert proxied.status_code == 403  # not this server's origin, even behind a proxy…
        proxied = await behind_tls.post(
            "/admin/signin",
            data={"key": ADMIN_KEY},
            headers={
                "Origin": "https://ops.example",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "ops.example",
            },
        )
        assert proxied.status_code == 303 and "Secure" in proxied.headers["set-cookie"]


async def test_admin_endpoints_need_the_cookie(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        for name in ENDPOINTS:
            response = await anonymous.get(f"/admin/api/{name}")
            assert response.status_code == 401, name
            assert response.json()["field"] == "cookie"
        # The admin key itself opens nothing here: the page's endpoints take the cookie only.
        bearer = await anonymous.get(
            "/admin/api/connections", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert bearer.status_code == 401
        publish = await anonymous.post(
            "/admin/api/publish", json=NOTE, headers={"Origin": server.url}
        )
        assert publish.status_code == 401
        # Forged, tampered, expired or other-key cookies are no session either.
        forged_token, _ = SessionSigner("another-admin-key").issue()
        genuine, _ = SessionSigner(ADMIN_KEY).issue()
        expired, _ = SessionSigner(ADMIN_KEY).issue(now=0)
        payload, signature = genuine.split(".")
        for value in (forged_token, expired, f"{payload}.{signature[:-2]}AA", "junk", "a.b"):
            anonymous.cookies.set(COOKIE, value, path="/admin")
            assert (await anonymous.get("/admin/api/jobs")).status_code == 401, value
        anonymous.cookies.set(COOKIE, genuine, path="/admin")
        assert (await anonymous.get("/admin/api/jobs")).status_code == 200


async def test_every_write_needs_the_page_origin_and_its_csrf_token(
    server: ServerThread, admin: httpx.AsyncClient
) -> None:
    csrf = await csrf_of(admin)
    own = {"Origin": server.url, "X-CSRF-Token": csrf}
    refusals = [
        ({"Origin": "http://evil.example", "X-CSRF-Token": csrf}, 403, "Origin"),
        ({"X-CSRF-Token": csrf}, 403, "Origin"),  # no Origin, no Sec-Fetch-Site
        ({"Origin": "null", "X-CSRF-Token": csrf}, 403, "Origin"),
        ({"Origin": "null", "Sec-Fetch-Site": "cross-site", "X-CSRF-Token": csrf}, 403, "Origin"),
        ({"Sec-Fetch-Site": "cross-site", "X-CSRF-Token": csrf}, 403, "Origin"),
        ({"Origin": server.url}, 403, "X-CSRF-Token"),
        ({"Origin": server.url, "X-CSRF-Token": csrf[:-1] + "x"}, 403, "X-CSRF-Token"),
    ]
    for headers, status, field in refusals:
        response = await admin.post("/admin/api/publish", json=NOTE, headers=headers)
        assert response.status_code == status, (headers, response.text)
        assert response.json()["field"] == field, headers
    # A form post (what another site could send without asking) is no publish either.
    as_form = await admin.post("/admin/api/publish", data=NOTE, headers=own)
    assert as_form.status_code == 415
    # Nothing above was stored.
    notes = (await admin.get("/admin/api/notifications")).json()["items"]
    assert notes == []

    same_site = {"Sec-Fetch-Site": "same-origin", "X-CSRF-Token": csrf}
    for headers in (own, same_site):
        published = await admin.post("/admin/api/publish", json=NOTE, headers=headers)
        assert published.status_code == 202, published.text
    items = (await admin.get("/admin/api/notifications")).json()["items"]
    assert [(i["tenantId"], i["userId"], i["summary"]) for i in items] == [
        ("firm-a", None, "Essai"),
        ("firm-a", None, "Essai"),
    ]
    invalid = await admin.post("/admin/api/publish", json={**NOTE, "tenantId": ""}, headers=own)
    assert invalid.status_code == 422 and invalid.json()["field"] == "tenantId"
    invalid = await admin.post("/admin/api/publish", json={**NOTE, "level": "boom"}, headers=own)
    assert invalid.status_code == 422 and invalid.json()["field"] == "level"

    # The operator's publishes are in the audit log.
    store = SqlStore(server.settings.database_url)
    await store.open(migrate=False)
    try:
        entries = await store.list_audit("firm-a", since=None, limit=10)
    finally:
        await store.close()
    assert [(e.actor, e.action) for e in entries] == [("admin-page", "admin.publish")] * 2
    assert {e.target for e in entries} == {i["id"] for i in items}

    # Signing out is a write too: the page's token, or nothing happens.
    kept = await admin.post("/admin/signout", data={"csrf": "nope"}, headers={"Origin": server.url})
    assert kept.status_code == 403
    assert (await admin.get("/admin/api/jobs")).status_code == 200
    out = await admin.post("/admin/signout", data={"csrf": csrf}, headers={"Origin": server.url})
    assert out.status_code == 303 and f'{COOKIE}=""' in out.headers["set-cookie"]
    assert (await admin.get("/admin/api/jobs")).status_code == 401


async def test_failed_sign_ins_are_rate_limited(server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=server.url) as guesser:
        statuses = []
        for i in range(7):
            answer = await guesser.post(
                "/admin/signin", data={"key": f"guess-{i}"}, headers={"Origin": server.url}
            )
            statuses.append(answer.status_code)
        assert statuses == [401] * 5 + [429] * 2
        assert int(answer.headers["retry-after"]) >= 1
        # While limited, even the right key is not looked at.
        right = await guesser.post(
            "/admin/signin", data={"key": ADMIN_KEY}, headers={"Origin": server.url}
        )
        assert right.status_code == 429 and "set-cookie" not in right.headers


async def test_french_by_default_english_when_asked(http: httpx.AsyncClient) -> None:
    assert 'lang="fr"' in (await http.get("/admin")).text
    english = await http.get("/admin", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert 'lang="en"' in english.text and "Operator sign-in" in english.text
    preferred = await http.get("/admin", headers={"Accept-Language": "de, fr;q=0.9, en;q=0.8"})
    assert 'lang="fr"' in preferred.text
    asked = await http.get("/admin?lang=en", headers={"Accept-Language": "fr"})
    assert 'lang="en"' in asked.text and 'href="/admin?lang=fr"' in asked.text


async def test_pages_allow_no_inline_script_nor_framing(admin: httpx.AsyncClient) -> None:
    for path in ("/admin", "/admin?lang=en"):
        page = await admin.get(path)
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy
        assert "frame-ancestors 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        # Every script is a file of this server, or data the browser does not run.
        for tag in re.findall(r"<script[^>]*>", page.text):
            assert 'src="/admin/assets/' in tag or 'type="application/json"' in tag, tag
    script = await admin.get("/admin/assets/admin.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    for name in ENDPOINTS:
        answer = await admin.get(f"/admin/api/{name}")
        assert answer.headers["cache-control"] == "no-store"


@pytest.fixture
def closed_server(sqlite_url: str) -> Iterator[ServerThread]:
    node = ServerThread(make_settings(sqlite_url, admin_key=None))
    node.start()
    try:
        yield node
    finally:
        node.close()


async def test_without_an_admin_key_the_page_is_closed(closed_server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=closed_server.url) as client:
        page = await client.get("/admin")
        assert page.status_code == 503 and "TOCSIN_ADMIN_KEY" in page.text
        refused = await client.post(
            "/admin/signin", data={"key": ""}, headers={"Origin": closed_server.url}
        )
        assert refused.status_code == 503 and "set-cookie" not in refused.headers
        assert (await client.get("/admin/api/connections")).status_code == 401
