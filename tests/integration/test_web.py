"""The page at /, its assets and GET /web/session, over HTTP against a real node."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_settings
from tests.helpers import ServerThread
from tocsin.auth.nextauth import encrypt_session_token
from tocsin.web import WEB_DIR, mount_web

SECRET = "web-test-auth-secret-0123456789abcdef"


@pytest.fixture
async def web_http(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    node = ServerThread(make_settings(sqlite_url, auth_secret=SECRET))
    node.start()
    try:
        async with httpx.AsyncClient(base_url=node.url, timeout=10) as client:
            yield client
    finally:
        node.close()


def cookie_for(user: str, tenant: str, **claims: object) -> str:
    now = int(time.time())
    token = encrypt_session_token(
        {"sub": user, "tenantId": tenant, "iat": now, "exp": now + 600, **claims}, SECRET
    )
    return f"authjs.session-token={token}"


async def test_session_says_who_the_cookie_belongs_to(web_http: httpx.AsyncClient) -> None:
    anonymous = await web_http.get("/web/session")
    assert anonymous.status_code == 401
    assert anonymous.json()["reason"] == "missing_token"
    assert anonymous.json()["signinUrl"] is None

    cookie = cookie_for("alice", "firm-a", name="Me Alice Martin", email="alice@firm-a.fr")
    found = await web_http.get("/web/session", headers={"Cookie": cookie})
    assert found.status_code == 200
    body = found.json()
    assert (body["userId"], body["tenantId"], body["name"]) == (
        "alice",
        "firm-a",
        "Me Alice Martin",
    )
    assert body["email"] == "alice@firm-a.fr"

    expired = encrypt_session_token(
        {"sub": "alice", "tenantId": "firm-a", "exp": int(time.time()) - 3600}, SECRET
    )
    refused = await web_http.get(
        "/web/session", headers={"Cookie": f"authjs.session-token={expired}"}
    )
    assert refused.status_code == 401
    assert refused.json()["reason"] == "expired"


async def test_page_and_assets(web_http: httpx.AsyncClient) -> None:
    if not (WEB_DIR / "index.html").is_file():
        pytest.skip("web assets not built (make web); the not-built page is tested below")
    page = await web_http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="assets/app.js"' in page.text
    script = await web_http.get("/assets/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert (await web_http.get("/assets/missing.js")).status_code == 404
    # The API is untouched by the page's routes.
    assert (await web_http.get("/healthz")).status_code == 200


async def test_page_not_built_says_how_to_build_it(tmp_path: Path) -> None:
    api = FastAPI()
    mount_web(api, tmp_path)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        page = await client.get("/")
    assert page.status_code == 503
    assert "make web" in page.text
