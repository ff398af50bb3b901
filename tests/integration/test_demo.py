"""`tocsin demo`: the sign-in picker's real Auth.js cookie, the firm's data and the stream."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_settings
from tests.helpers import ADMIN_KEY, Client, ServerThread
from tocsin.cli import build_parser
from tocsin.config import Settings
from tocsin.demo.command import build_demo_app, cmd_demo, demo_settings
from tocsin.demo.data import TENANT_ID, TENANT_NAME, USERS

SECRET = "demo-test-auth-secret-0123456789abcdef"


@pytest.fixture
def demo_server(sqlite_url: str) -> Iterator[ServerThread]:
    settings = make_settings(sqlite_url, auth_secret=SECRET)
    node = ServerThread(settings, lambda: build_demo_app(settings, SECRET, interval=0.05, seed=7))
    node.start()
    try:
        yield node
    finally:
        node.close()


async def sign_in(http: httpx.AsyncClient, user: str) -> httpx.Response:
    return await http.post(
        "/signin",
        content=f"user={user}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_picker_sets_a_real_session_cookie(demo_server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=demo_server.url, timeout=10) as http:
        picker = await http.get("/signin")
        assert picker.status_code == 200
        for user in USERS:
            assert f'data-user="{user.id}"' in picker.text
        assert TENANT_NAME.replace("&", "&amp;") in picker.text

        signed = await sign_in(http, "camille")
        assert signed.status_code == 303
        assert signed.headers["location"] == "/"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("authjs.session-token=ey")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie

        session = await http.get("/web/session")  # the client kept the cookie
        assert session.status_code == 200
        body = session.json()
        assert (body["userId"], body["tenantId"]) == ("camille", TENANT_ID)
        assert body["name"] == "Me Camille Laurent"
        assert body["tenantName"] == TENANT_NAME
        assert body["signinUrl"] == "/signin"

        assert (await sign_in(http, "mallory")).status_code == 400
        out = await http.get("/signout")
        assert out.status_code == 303
        assert (await http.get("/web/session")).status_code == 401


async def test_the_firm_has_history_deadlines_and_a_stream(demo_server: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=demo_server.url, timeout=10) as http:
        await sign_in(http, "camille")
        inbox = (await http.get("/api/v1/inbox", params={"limit": 200})).json()["items"]
        events = {item["event"] for item in inbox}
        assert events >= {"email-received", "dossier-updated", "system-notification"}
        alerts = [i for i in inbox if i["event"] == "deadline-alert"]
        # Her deadlines due in 2 and 3 days alerted when they were registered.
        assert {a["urgency"] for a in alerts} >= {"urgent", "warning"}
        assert any(item["read"] for item in inbox), "one e-mail was read before the demo"
        assert all(i["tenantId"] == TENANT_ID for i in inbox if "tenantId" in i)

        deadlines = await http.get(
            "/api/v1/deadlines",
            params={"tenantId": TENANT_ID},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert len(deadlines.json()["items"]) >= 5

    # Then it keeps coming, live.
    client = Client(demo_server.url, "camille", TENANT_ID)
    await client.connect()
    try:
        live = await client.wait_notifications(2, timeout=15)
        assert {n["tenantId"] for n in live} == {TENANT_ID}
    finally:
        await client.disconnect()


def test_demo_settings_generate_a_secret_unless_one_is_set(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    settings, secret, generated = demo_settings(sqlite_url, "127.0.0.1", 0)
    assert generated and len(secret) >= 32
    assert settings.session_secrets == [("AUTH_SECRET", secret)]
    monkeypatch.setenv("AUTH_SECRET", "from-the-environment-0123456789abcdef")
    settings, secret, generated = demo_settings(sqlite_url, None, None)
    assert not generated
    assert secret == "from-the-environment-0123456789abcdef"
    assert isinstance(settings, Settings)


def test_cli_registers_demo() -> None:
    args = build_parser().parse_args(["demo", "--port", "0", "--interval", "2", "--seed", "3"])
    assert args.func is cmd_demo
    assert (args.port, args.interval, args.seed, args.database_url) == (0, 2.0, 3, None)


async def test_previews_show_the_digest_alert_email_and_push_of_the_demo_firm(
    demo_server: ServerThread,
) -> None:
    async with httpx.AsyncClient(base_url=demo_server.url, timeout=10) as http:
        index = await http.get("/demo/mail")
        assert index.status_code == 200
        for user in USERS:
            assert f"/demo/mail/digest?user={user.id}" in index.text

        # Julien follows the OQTF appeal: his seeded deadline alerts are critical and unread.
        digest = await http.get("/demo/mail/digest", params={"user": "julien"})
        assert digest.status_code == 200
        assert TENANT_NAME.replace("&", "&amp;") in digest.text
        assert "D-2026-021" in digest.text
        text = await http.get("/demo/mail/digest", params={"user": "julien", "format": "text"})
        assert text.text.startswith(f"Objet : ⚠️ {TENANT_NAME} : ")
        assert "non lues" in text.text

        alert = await http.get("/demo/mail/alert", params={"user": "julien"})
        assert alert.status_code == 200 and "D-2026-021" in alert.text

        push = await http.get("/demo/push", params={"user": "julien"})
        assert push.status_code == 200
        assert 'data-testid="push-preview"' in push.text
        assert "&quot;critical&quot;: true" in push.text
        assert 'class="toast critical"' in push.text

        unknown = await http.get("/demo/push", params={"user": "mallory"})
        assert unknown.status_code == 404

        # The firm's name and its people's addresses were stored for real e-mails.
        profile = await http.get(
            f"/api/v1/tenants/{TENANT_ID}/users/julien",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert profile.json()["email"] == "j.moreau@cabinet-laurent.fr"
