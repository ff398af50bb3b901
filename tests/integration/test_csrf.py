"""Issue 15, finding 4: cross-site request forgery on cookie-authenticated inbox writes.

The attack: a page of the same site (a sibling subdomain, another port) runs
``fetch(url, {method: "POST", mode: "no-cors", credentials: "include",
headers: {"Content-Type": "text/plain"}, body: "{}"})``. The browser sends the Lax session
cookie and no preflight; before the fix the inbox was emptied. Now a write riding the cookie
needs JSON and the server's own (or a configured) Origin, or ``Sec-Fetch-Site: same-origin``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.forge import AUTH_SECRET, authjs_token, claims
from tests.helpers import ServerThread, email, publish, token
from tocsin.api.csrf import configured_origins, own_origins, parse_origin
from tocsin.config import Settings

USER, TENANT = "alice", "firm-a"
WRITES = {
    "/api/v1/inbox/clear": "{}",
    "/api/v1/inbox/read": '{"ids": IDS}',  # two of the victim's real ids: see write_body()
    "/api/v1/inbox/read-all": "{}",
}
FOREIGN = "http://evil.example"
LISTED = "https://app.example"


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    """A node that reads Auth.js session cookies, with one other origin allowed."""
    return make_settings(sqlite_url, auth_secret=AUTH_SECRET, websocket_cors_origin=LISTED)


def write_body(path: str, ids: list[str]) -> str:
    """The body the attacker sends to ``path``: for /read, the first two of ``ids``."""
    return WRITES[path].replace("IDS", json.dumps(ids[:2]))


def cookie() -> dict[str, str]:
    """The victim's real Auth.js session cookie, as the browser attaches it."""
    return {"Cookie": f"authjs.session-token={authjs_token(claims(id=USER, tenantId=TENANT))}"}


def bearer() -> dict[str, str]:
    """The same user's bearer token: what the test reads the inbox with."""
    return {"Authorization": f"Bearer {token(USER, TENANT)}"}


@pytest.fixture
async def inbox(server: ServerThread, http: httpx.AsyncClient) -> list[str]:
    """Three unread notifications in the victim's inbox: their ids (Tocsin's), oldest first."""
    ids = []
    for id_ in ["n1", "n2", "n3"]:
        response = await publish(http, email(USER, TENANT, id=id_))
        assert response.status_code == 202
        ids.append(response.json()["id"])
    return ids


async def state(http: httpx.AsyncClient) -> tuple[list[str], int]:
    """The inbox's ids (oldest first) and unread count."""
    items = (await http.get("/api/v1/inbox", headers=bearer())).json()["items"]
    count = (await http.get("/api/v1/inbox/unread-count", headers=bearer())).json()["count"]
    return [item["id"] for item in items][::-1], count


def own(server: ServerThread) -> str:
    """The Origin of a page served by the Tocsin node itself."""
    return server.url


@pytest.mark.attack(
    title="CSRF on cookie-authenticated inbox writes (finding 4)",
    tried=(
        "`text/plain` POST with the session cookie and no, `null`, foreign, "
        "other-port or sibling Origin to /inbox/clear, /read, /read-all"
    ),
    times=1,
)
@pytest.mark.parametrize("path", list(WRITES))
@pytest.mark.parametrize(
    "origin",
    [None, FOREIGN, "null", "http://127.0.0.1", "http://sub.127.0.0.1.nip.io"],
    ids=["no-origin", "foreign", "null", "other-port", "sibling"],
)
async def test_the_no_cors_text_plain_attack_is_refused_and_changes_nothing(
    server: ServerThread, http: httpx.AsyncClient, inbox: list[str], path: str, origin: str | None
) -> None:
    headers = {**cookie(), "Content-Type": "text/plain;charset=UTF-8"}
    if origin is not None:
        headers["Origin"] = origin
    response = await http.post(path, content=write_body(path, inbox), headers=headers)
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "forbidden" and body["field"] == "Origin"
    assert await state(http) == (inbox, 3)


@pytest.mark.attack(
    title="CSRF with JSON from a foreign Origin (finding 4)",
    tried="`application/json` POST with the session cookie and a foreign Origin",
    times=1,
)
@pytest.mark.parametrize("path", list(WRITES))
async def test_json_from_a_foreign_origin_is_refused(
    server: ServerThread, http: httpx.AsyncClient, inbox: list[str], path: str
) -> None:
    headers = {**cookie(), "Content-Type": "application/json", "Origin": FOREIGN}
    response = await http.post(path, content=write_body(path, inbox), headers=headers)
    assert response.status_code == 403 and response.json()["field"] == "Origin"
    assert await state(http) == (inbox, 3)


@pytest.mark.parametrize("path", list(WRITES))
async def test_text_plain_from_the_own_origin_is_415(
    server: ServerThread, http: httpx.AsyncClient, inbox: list[str], path: str
) -> None:
    headers = {**cookie(), "Content-Type": "text/plain", "Origin": own(server)}
    response = await http.post(path, content=write_body(path, inbox), headers=headers)
    assert response.status_code == 415, response.text
    assert response.json() == {
        "error": "unsupported_media_type",
        "message": response.json()["message"],
        "field": "Content-Type",
    }
    assert await state(http) == (inbox, 3)


async def test_json_from_the_own_origin_is_served(
    server: ServerThread, http: httpx.AsyncClient, inbox: list[str]
) -> None:
    headers = {**cookie(), "Origin": own(server)}
    marked = await http.post("/api/v1/inbox/read", json={"ids": [inbox[0]]}, headers=headers)
    assert marked.status_code == 200 and marked.json() == {
        "ids": [inbox[0]],
        "unreadCount": 2,
        "unseenCount": 2,
    }
    everything = await http.post("/api/v1/inbox/read-all", json={}, headers=headers)
    assert everything.status_code == 200 and everything.json()["unreadCount"] == 0
    cleared = await http.post("/api/v1/inbox/clear", json={}, headers=headers)
    assert cleared.status_code == 200
    assert await state(http) == ([], 0)


async def test_sec_fetch_site_same_origin_without_origin_is_served(
    server: ServerThread, http: httpx.AsyncClient, inbox: list[str]
) -> None:
    headers = {**cookie(), "Sec-Fetch-Site": "same-origin"}
    marked = await http.post("/api/v1/inbox/read", json={"ids": [inbox[1]]}, headers=headers)
    assert marked.status_code == 200 and marked.json()["unreadCount"] == 2
    same_site = {**cookie(), "Sec-Fetch-Site": "same-site"}
    refused = await http.post("/api/v1/inbox/clear", json={}, headers=same_site)
    assert refused.status_code == 403
    assert await state(http) == (inbox, 2)


async def test_an_origin_listed_in_websocket_cors_origin_may_write(
    server: ServerThread, http: httpx.AsyncClient, inbox: list[str]
) -> None:
    headers = {**cookie(), "Origin": LISTED}
    cleared = await http.post("/api/v1/inbox/clear", json={}, headers=headers)
    assert cleared.status_code == 200
    assert await state(http) == ([], 0)


async def test_the_origin_a_proxy_forwards_is_the_own_origin(
    server: ServerThread, http: httpx.AsyncClient, inbox: list[str]
) -> None:
    proxied = {
        "X-Forwarded-Host": "notify.example.com",
        "X-Forwarded-Proto": "https",
        "Origin": "https://notify.example.com",
    }
    marked = await http.post(
        "/api/v1/inbox/read", json={"ids": [inbox[2]]}, headers={**cookie(), **proxied}
    )
    assert marked.status_code == 200 and marked.json()["ids"] == [inbox[2]]


async def test_a_bearer_token_needs_no_origin_nor_json(
    server: ServerThread, http: httpx.AsyncClient, inbox: list[str]
) -> None:
    marked = await http.post("/api/v1/inbox/read", json={"ids": [inbox[0]]}, headers=bearer())
    assert marked.status_code == 200 and marked.json()["unreadCount"] == 2
    # No body, no content type, no Origin: a script's call, which no page can forge.
    cleared = await http.post("/api/v1/inbox/clear", headers=bearer())
    assert cleared.status_code == 200
    assert await state(http) == ([], 0)


async def test_reads_with_the_cookie_need_no_origin(
    server: ServerThread, http: httpx.AsyncClient, inbox: list[str]
) -> None:
    assert (await http.get("/api/v1/inbox", headers=cookie())).status_code == 200
    assert (await http.get("/web/session", headers=cookie())).json()["userId"] == USER


async def test_a_cross_origin_credentialed_preflight_gets_no_cors_grant(
    server: ServerThread, http: httpx.AsyncClient, inbox: list[str]
) -> None:
    for origin in (FOREIGN, LISTED):
        preflight = await http.options(
            "/api/v1/inbox/clear",
            headers={
                **cookie(),
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        granted = {k for k in preflight.headers if k.lower().startswith("access-control-allow")}
        assert granted == set(), (origin, preflight.status_code, dict(preflight.headers))
    assert await state(http) == (inbox, 3)


@pytest.mark.parametrize(
    ("scheme", "headers", "origin", "same"),
    [
        ("http", {"host": "example.com:80"}, "http://example.com", True),
        ("https", {"host": "Example.COM:443"}, "https://example.com", True),
        ("http", {"host": "example.com:8000"}, "http://example.com", False),
        ("http", {"host": "example.com"}, "https://example.com", False),
        ("http", {"host": "[::1]:8000"}, "http://[::1]:8000", True),
        ("http", {"host": "a", "x-forwarded-proto": "https"}, "https://a", True),
        ("http", {"host": "a", "x-forwarded-host": "b, c"}, "http://b", True),
    ],
)
def test_own_origins_follow_the_host_and_the_proxy(
    scheme: str, headers: dict[str, Any], origin: str, same: bool
) -> None:
    assert (parse_origin(origin) in own_origins(scheme, headers)) is same


def test_a_wildcard_cors_origin_allows_no_cookie_write() -> None:
    assert configured_origins("*") == frozenset()
    assert configured_origins(["https://App.example/", "junk"]) == {"https://app.example"}
