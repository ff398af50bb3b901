"""The Next.js examples in production mode, in Chromium, against `tocsin serve`.

examples/nextjs (Next.js 15 App Router, NextAuth v4): sign in through NextAuth's own form; the
NotificationCenter that a Server Component layout renders goes live over a real WebSocket
through the app's rewrites; tenants stay apart; read state survives a reload; the app's route
handler publishes with @tocsin/publisher (two updates of a dossier, two notifications).
examples/nextjs-authjs: the same sign-in with Auth.js v5, whose cookie Tocsin reads too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.nextjs import AUTHJS_V5, NEXTAUTH_V4, Sockets, Stack, require_app, run_stack
from tests.helpers import ADMIN_KEY

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = pytest.mark.node

LIVE = "En direct"
# The examples' demo users (lib/users.ts).
USERS = {
    "alice": ("alice@firm-a.fr", "alice-demo", "firm-a"),
    "bob": ("bob@firm-b.fr", "bob-demo", "firm-b"),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """examples/nextjs (NextAuth v4) and its Tocsin."""
    yield from run_stack(NEXTAUTH_V4, tmp_path_factory.mktemp("nextjs"))


@pytest.fixture
def authjs_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """examples/nextjs-authjs (Auth.js v5) and its Tocsin."""
    yield from run_stack(AUTHJS_V5, tmp_path_factory.mktemp("nextjs-authjs"))


@pytest.fixture(scope="module")
def chromium(browser: Any) -> Any:
    """The module's headless Chromium (conftest's ``browser``), once the app can run here."""
    require_app(NEXTAUTH_V4)
    return browser


@pytest.fixture
def contexts(chromium: Any) -> Iterator[list[Any]]:
    """Browser profiles made by a test (``sign_in`` appends), closed after it."""
    made: list[Any] = []
    try:
        yield made
    finally:
        for context in made:
            context.close()


@dataclass
class Session:
    """A signed-in user's tab."""

    user: str
    page: Any
    sockets: Sockets


def sign_in(chromium: Any, contexts: list[Any], stack: Stack, user: str) -> Session:
    """A new browser profile signed in as ``user`` through the auth library's own form, live."""
    context = chromium.new_context(viewport={"width": 1100, "height": 800}, locale="fr-FR")
    contexts.append(context)
    page = context.new_page()
    sockets = Sockets()
    sockets.watch(page)
    page.goto(stack.app_url + "/")
    page.get_by_test_id("sign-in").click()
    page.wait_for_url("**/api/auth/signin**")
    email, password, tenant = USERS[user]
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Sign in with Cabinet").click()
    page.wait_for_url(stack.app_url + "/")
    expect(page.get_by_test_id("who")).to_contain_text(tenant)
    expect(page.get_by_test_id("tocsin-status")).to_have_text(LIVE, timeout=15_000)
    return Session(user, page, sockets)


def open_panel(page: Any) -> None:
    page.get_by_test_id("tocsin-bell").click()
    expect(page.get_by_test_id("tocsin-panel")).to_be_visible()


def item(page: Any, note_id: str) -> Any:
    return page.locator(f'[data-testid="tocsin-item"][data-id="{note_id}"]')


def email_to(user: str, subject: str) -> dict[str, Any]:
    """An e-mail notification for one of the examples' users (their tenant, their id)."""
    return {
        "event": "email-received",
        "id": f"mail-{uuid.uuid4().hex[:12]}",
        "subject": subject,
        "from": "Greffe du TJ de Lyon <greffe.tj-lyon@justice.fr>",
        "userId": user,
        "tenantId": USERS[user][2],
    }


def publish(stack: Stack, note: dict[str, Any]) -> str:
    """Publish through Tocsin's HTTP API (admin key); returns Tocsin's id."""
    response = httpx.post(
        f"{stack.tocsin_url}/api/v1/notifications",
        json=note,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    note_id: str = response.json()["id"]
    return note_id


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / name)


def test_rewrites_reach_tocsin_without_a_trailing_slash_redirect(stack: Stack) -> None:
    # The exact request engine.io-client makes first: with Next's default trailing-slash
    # redirect this is a 308, and the WebSocket upgrade that follows never completes.
    handshake = httpx.get(f"{stack.app_url}/socket.io/?EIO=4&transport=polling", timeout=10)
    assert handshake.status_code == 200, (handshake.status_code, handshake.headers, stack.tail())
    assert handshake.text.startswith("0{"), handshake.text
    assert json.loads(handshake.text[1:])["upgrades"] == ["websocket"]
    # The inbox goes through too, and Tocsin (not Next) refuses a request without a session.
    inbox = httpx.get(f"{stack.app_url}/api/v1/inbox", timeout=10)
    assert inbox.status_code == 401, inbox.text
    assert inbox.json()["error"] == "unauthorized", inbox.text


def test_signed_in_users_get_their_own_notifications_live_over_websocket(
    stack: Stack, chromium: Any, contexts: list[Any]
) -> None:
    alice = sign_in(chromium, contexts, stack, "alice")
    bob = sign_in(chromium, contexts, stack, "bob")
    for session in (alice, bob):
        session.sockets.engine_io()  # upgraded to a WebSocket through `next start`
        open_panel(session.page)

    for_alice = email_to("alice", "Conclusions adverses — audience du 12 mars")
    ws = alice.sockets.engine_io()
    # The event itself must come over the WebSocket, not over a long-polling fallback.
    with ws.expect_event("framereceived", lambda p: for_alice["id"] in str(p), timeout=10_000):
        alice_note = publish(stack, for_alice)
    expect(item(alice.page, alice_note)).to_be_visible()
    expect(alice.page.get_by_test_id("tocsin-badge")).not_to_have_count(0)

    bob_note = publish(stack, email_to("bob", "Convocation — conseil de prud'hommes"))
    expect(item(bob.page, bob_note)).to_be_visible(timeout=10_000)
    # Delivery is in order: had alice's reached bob, it would be there before his own.
    expect(item(bob.page, alice_note)).to_have_count(0)
    expect(item(alice.page, bob_note)).to_have_count(0)
    assert not [f for f in bob.sockets.received if for_alice["id"] in f]

    # The app's route handler keeps tenants apart too: bob cannot update alice's dossier.
    refused = bob.page.request.patch(
        f"{stack.app_url}/api/dossiers/dos-a1",
        data={},
        headers={"Content-Type": "application/json"},
    )
    assert refused.status == 404, refused.text()
    screenshot(alice.page, "nextjs-alice.png")
    screenshot(bob.page, "nextjs-bob.png")


def test_read_state_survives_a_reload(stack: Stack, chromium: Any, contexts: list[Any]) -> None:
    alice = sign_in(chromium, contexts, stack, "alice")
    open_panel(alice.page)
    note_id = publish(stack, email_to("alice", "Pièces complémentaires"))
    by_http = publish(stack, email_to("alice", "Bordereau de communication de pièces"))
    for one in (note_id, by_http):
        expect(item(alice.page, one)).to_have_attribute("data-read", "false", timeout=10_000)

    ws = alice.sockets.engine_io()
    # Tocsin acknowledges `mark-read` once the read state is stored.
    acked = partial(alice.sockets.is_ack_of, "mark-read")
    with ws.expect_event("framereceived", acked, timeout=10_000) as ack:
        item(alice.page, note_id).get_by_test_id("tocsin-mark-read").click()
    assert '"ok":true' in str(ack.value), ack.value
    expect(item(alice.page, note_id)).to_have_attribute("data-read", "true")
    # The other through the inbox API, as the client does while disconnected: a write with the
    # session cookie through the app's rewrite (Tocsin checks its Origin against the app's host).
    status = alice.page.evaluate(
        """ids => fetch("/api/v1/inbox/read", {method: "POST", credentials: "same-origin",
              headers: {"Content-Type": "application/json"}, body: JSON.stringify({ids})})
            .then(r => r.status)""",
        [by_http],
    )
    assert status == 200, (status, stack.tail())

    alice.page.reload()
    expect(alice.page.get_by_test_id("tocsin-status")).to_have_text(LIVE, timeout=15_000)
    open_panel(alice.page)
    for one in (note_id, by_http):
        expect(item(alice.page, one)).to_have_attribute("data-read", "true")
    screenshot(alice.page, "nextjs-after-reload.png")


def test_two_updates_through_the_route_handler_are_two_notifications(
    stack: Stack, chromium: Any, contexts: list[Any]
) -> None:
    alice = sign_in(chromium, contexts, stack, "alice")
    update = alice.page.get_by_test_id("update-dos-a1")
    notified = alice.page.get_by_test_id("notified-dos-a1")
    update.click()
    expect(notified).to_have_text("notifications : 1", timeout=10_000)
    update.click()
    expect(notified).to_have_text("notifications : 2", timeout=10_000)

    ids = (notified.get_attribute("data-ids") or "").split()
    assert len(ids) == 2 and ids[0] != ids[1], ids
    open_panel(alice.page)
    for note_id in ids:
        note = item(alice.page, note_id)
        expect(note).to_be_visible(timeout=10_000)
        expect(note).to_have_attribute("data-event", "dossier-updated")
        expect(note).to_contain_text("Dupont - Divorce")
        expect(note).to_contain_text("D-2026-014")
    # Both came over the WebSocket, each with the dossier's id as sourceId.
    frames = [f for f in alice.sockets.received if '"sourceId":"dos-a1"' in f]
    assert {note_id for note_id in ids if any(note_id in f for f in frames)} == set(ids), frames
    screenshot(alice.page, "nextjs-dossier-updates.png")


def test_authjs_v5_session_signs_the_socket_in(
    authjs_stack: Stack, chromium: Any, contexts: list[Any]
) -> None:
    bob = sign_in(chromium, contexts, authjs_stack, "bob")
    cookies = {c["name"] for c in bob.page.context.cookies()}
    assert "authjs.session-token" in cookies, cookies  # Auth.js v5's cookie, not NextAuth v4's
    open_panel(bob.page)
    note = email_to("bob", "Convocation — conseil de prud'hommes")
    ws = bob.sockets.engine_io()
    with ws.expect_event("framereceived", lambda p: note["id"] in str(p), timeout=10_000):
        note_id = publish(authjs_stack, note)
    expect(item(bob.page, note_id)).to_be_visible()
    screenshot(bob.page, "nextjs-authjs-bob.png")
