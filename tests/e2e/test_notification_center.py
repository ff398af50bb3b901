"""The NotificationCenter in headless Chromium against a real Tocsin node.

What a person sees: the live label, a published notification appearing at once, the badge,
mark read in one tab changing the other, a server restart with nothing lost or doubled, and
the browser notification of a critical deadline shown once across tabs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.e2e.conftest import ARTIFACTS, TENANT, deadline, record_figure
from tests.helpers import ServerThread
from tocsin.demo.command import build_demo_app

pytest.importorskip("playwright")
from playwright.sync_api import expect

LIVE, CONNECTING, DISCONNECTED = "En direct", "Connexion...", "Déconnecté"
# A short first reconnection delay keeps the restart test quick; backoff still applies.
PAGE = "/?reconnectDelay=300"


def open_page(context: Any, server: ServerThread, *, panel: bool = True) -> Any:
    """A new tab on the page, live, with the panel open."""
    page = context.new_page()
    page.goto(server.url + PAGE)
    expect(status(page)).to_have_text(LIVE, timeout=10_000)
    if panel:
        page.get_by_test_id("tocsin-bell").click()
        expect(page.get_by_test_id("tocsin-panel")).to_be_visible()
    return page


def status(page: Any) -> Any:
    return page.get_by_test_id("tocsin-status")


def badge(page: Any) -> Any:
    return page.get_by_test_id("tocsin-badge")


def item(page: Any, note_id: str) -> Any:
    return page.locator(f'[data-testid="tocsin-item"][data-id="{note_id}"]')


def publish(http: httpx.Client, note: dict[str, Any]) -> str:
    response = http.post("/api/v1/notifications", json=note)
    assert response.status_code == 202, response.text
    note_id: str = response.json()["id"]
    return note_id


def email(subject: str, user: str = "alice", **extra: Any) -> dict[str, Any]:
    return {
        "event": "email-received",
        "id": f"mail-{uuid.uuid4().hex[:10]}",
        "subject": subject,
        "from": "Greffe du TJ de Lyon <greffe.tj-lyon@justice.fr>",
        "dossierNumber": "D-2026-014",
        "userId": user,
        "tenantId": TENANT,
        **extra,
    }


def test_live_badge_mark_read_and_second_tab(
    context: Any, web_server: ServerThread, publisher: httpx.Client
) -> None:
    first = open_page(context, web_server)
    expect(badge(first)).to_have_count(0)
    expect(first.get_by_test_id("tocsin-empty")).to_be_visible()

    started = time.monotonic()
    note_id = publish(publisher, email("Conclusions adverses — audience du 12 mars"))
    expect(item(first, note_id)).to_be_visible(timeout=1_000)
    latency = time.monotonic() - started
    record_figure("publish_to_visible_seconds", round(latency, 3))
    assert latency < 1.0, f"visible after {latency:.3f}s"
    expect(badge(first)).to_have_text("1")
    expect(item(first, note_id)).to_have_attribute("data-read", "false")

    second = open_page(context, web_server)
    expect(badge(second)).to_have_text("1")
    expect(item(second, note_id)).to_have_attribute("data-read", "false")

    item(first, note_id).get_by_test_id("tocsin-mark-read").click()
    expect(badge(first)).to_have_count(0)
    expect(item(first, note_id)).to_have_attribute("data-read", "true")
    # The other tab follows through the server's notifications-read event.
    expect(badge(second)).to_have_count(0)
    expect(item(second, note_id)).to_have_attribute("data-read", "true")

    # And a second publish counts from there: one up in both tabs.
    other = publish(publisher, email("Pièces complémentaires"))
    expect(item(second, other)).to_be_visible(timeout=1_000)
    expect(badge(first)).to_have_text("1")
    expect(badge(second)).to_have_text("1")
    second.get_by_test_id("tocsin-mark-all").click()
    expect(badge(second)).to_have_count(0)
    expect(badge(first)).to_have_count(0)
    expect(first.get_by_test_id("stat-unread")).to_have_text("0")


def test_server_restart_loses_nothing_and_doubles_nothing(
    context: Any, web_server: ServerThread, publisher: httpx.Client, sqlite_url: str
) -> None:
    page = open_page(context, web_server)
    before = [publish(publisher, email(f"Avant le redémarrage {n}")) for n in (1, 2)]
    for note_id in before:
        expect(item(page, note_id)).to_be_visible()
    expect(badge(page)).to_have_text("2")

    web_server.stop()
    expect(status(page)).to_have_text(DISCONNECTED, timeout=10_000)
    expect(page.get_by_test_id("tocsin-bell").locator(".tocsin-dot")).to_have_attribute(
        "data-status", "disconnected"
    )

    # Published while the node is down, straight into the store (`tocsin send`).
    during = []
    for n in (1, 2):
        source_id = f"pendant-{n}-{uuid.uuid4().hex[:6]}"
        # A separate process, as an operator would run it (Playwright's loop owns this thread).
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tocsin",
                "send",
                "email-received",
                f"id={source_id}",
                f"subject=Pendant la coupure {n}",
                "from=Me Lefèvre <c.lefevre@lefevre-avocats.fr>",
                "--tenant",
                TENANT,
                "--user",
                "alice",
                "--database-url",
                sqlite_url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        # `tocsin send` prints {id, cursor}: the id Tocsin gave it, the one the page shows.
        during.append(json.loads(done.stdout.strip().splitlines()[-1])["id"])

    started = time.monotonic()
    web_server.start()
    expect(status(page)).to_have_text(LIVE, timeout=15_000)
    record_figure("restart_to_live_seconds", round(time.monotonic() - started, 3))
    after = publish(publisher, email("Après le redémarrage"))

    expected = [*before, *during, after]
    for note_id in expected:
        expect(item(page, note_id)).to_have_count(1)
    ids = page.get_by_test_id("tocsin-item").evaluate_all("els => els.map(e => e.dataset.id)")
    assert sorted(ids) == sorted(expected), ids  # nothing lost, nothing twice
    expect(badge(page)).to_have_text("5")


def test_critical_deadline_shows_one_browser_notification_across_tabs(
    context: Any, web_server: ServerThread, publisher: httpx.Client
) -> None:
    first = open_page(context, web_server)
    second = open_page(context, web_server)
    assert first.evaluate("Notification.permission") == "granted"

    critical = publish(publisher, deadline("critical", "OQTF délai expire demain!", 1))
    for page in (first, second):
        expect(item(page, critical)).to_be_visible(timeout=1_000)
    notes = [n for page in (first, second) for n in page.evaluate("window.__tocsinNotes")]
    assert len(notes) == 1, notes  # one per event, not one per tab
    [note] = notes
    assert note["title"] == "⚠️ Délai critique"
    assert note["requireInteraction"] is True
    assert "OQTF délai expire demain!" in note["body"]
    assert note["tag"] == f"tocsin:{critical}"

    # An urgent deadline shows in the list but makes no browser notification;
    # a system error does.
    urgent = publish(publisher, deadline("urgent", "Délai d'appel expire dans 2 jours", 2))
    error = publish(
        publisher,
        {
            "event": "system-notification",
            "title": "Échec de synchronisation RPVA",
            "message": "Nouvel essai dans 5 minutes.",
            "type": "error",
            "tenantId": TENANT,
        },
    )
    for page in (first, second):
        expect(item(page, urgent)).to_be_visible()
        expect(item(page, error)).to_be_visible()
    titles = [n["title"] for page in (first, second) for n in page.evaluate("window.__tocsinNotes")]
    assert titles == ["⚠️ Délai critique", "Échec de synchronisation RPVA"], titles


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_panel_tabs_screenshots(
    context: Any, web_server: ServerThread, publisher: httpx.Client, locale: str
) -> None:
    """Every tab of the panel, saved under test-artifacts/ (the README's are test_demo_panel's)."""
    now = datetime.now(UTC)
    notes = (
        {
            "event": "system-notification",
            "title": "Maintenance ce soir",
            "message": "Maintenance programmée à 22 h : coupure d'environ 10 minutes.",
            "type": "warning",
            "tenantId": TENANT,
        },
        {
            "event": "dossier-updated",
            "dossierNumber": "D-2026-027",
            "dossierTitle": "Arvel SAS — Licenciement économique",
            "action": "status_changed",
            "status": "Audience fixée au 12 mars",
            "userId": "alice",
            "tenantId": TENANT,
        },
        deadline("urgent", "Délai d'appel expire dans 2 jours", 2),
        email("Proposition de transaction", **{"from": "Me Garnier <garnier@garnier-avocats.fr>"}),
        deadline("critical", "Délai OQTF expire dans 1 jour", 1),
        email("Convocation à l'audience de mise en état"),
    )
    for age, note in zip((180, 95, 42, 17, 6, 0), notes, strict=True):
        publish(publisher, {**note, "timestamp": (now - timedelta(minutes=age)).isoformat()})
    page = context.new_page()
    page.goto(f"{web_server.url}{PAGE}&lang={locale}")
    labels = {"fr": LIVE, "en": "Live"}
    expect(status(page)).to_have_text(labels[locale], timeout=10_000)
    expect(badge(page)).to_have_text("6")
    page.get_by_test_id("tocsin-bell").click()
    panel = page.get_by_test_id("tocsin-panel")
    expect(panel.get_by_test_id("tocsin-item")).to_have_count(6)
    ARTIFACTS.mkdir(exist_ok=True)
    expected = {"all": 6, "emails": 2, "dossiers": 1, "deadlines": 2, "system": 1}
    for tab, count in expected.items():
        page.get_by_test_id(f"tocsin-tab-{tab}").click()
        expect(panel.get_by_test_id("tocsin-item")).to_have_count(count)
        page.mouse.move(0, 0)
        page.screenshot(path=ARTIFACTS / f"notification-center-{locale}-{tab}.png")
    # An empty tab after clearing shows the empty state.
    page.get_by_test_id("tocsin-clear").click()
    expect(panel.get_by_test_id("tocsin-empty")).to_be_visible()
    expect(badge(page)).to_have_count(0)


def test_keyboard_and_screen_reader(
    context: Any, web_server: ServerThread, publisher: httpx.Client
) -> None:
    page = open_page(context, web_server, panel=False)
    bell = page.get_by_test_id("tocsin-bell")
    bell.focus()
    page.keyboard.press("Enter")
    panel = page.get_by_test_id("tocsin-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("tocsin-tab-all")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("tocsin-tab-emails")).to_be_focused()
    expect(page.get_by_test_id("tocsin-tab-emails")).to_have_attribute("aria-selected", "true")
    # Focus stays inside the dialog: a dozen Tabs never leave it.
    for _ in range(12):
        page.keyboard.press("Tab")
        inside = page.evaluate(
            "document.querySelector('[data-testid=tocsin-panel]').contains(document.activeElement)"
        )
        assert inside
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    expect(bell).to_be_focused()
    expect(bell).to_have_attribute("aria-expanded", "false")

    # New notifications are announced politely.
    publish(publisher, email("Notification du jugement"))
    live = page.get_by_test_id("tocsin-live")
    expect(live).to_have_attribute("aria-live", "polite")
    expect(live).to_have_text("Nouvel e-mail : Notification du jugement")
    expect(bell).to_have_attribute("aria-label", "Notifications (1 non lue) — En direct")


def test_signed_out_page_says_so(browser: Any, web_server: ServerThread) -> None:
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(web_server.url + "/")
        expect(page.get_by_test_id("signed-out")).to_contain_text("missing_token")
    finally:
        ctx.close()


def test_demo_sign_in_picker(browser: Any, sqlite_url: str) -> None:
    """`tocsin demo`: pick a user, land on the page live, with the firm's notifications."""
    secret = "e2e-demo-secret-0123456789abcdef"
    settings = make_settings(sqlite_url, auth_secret=secret)
    node = ServerThread(settings, lambda: build_demo_app(settings, secret, interval=0))
    node.start()
    ctx = browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        page = ctx.new_page()
        page.goto(node.url + "/")
        page.wait_for_url("**/signin")  # no session: the page sends the visitor to the picker
        page.locator('button[data-user="julien"]').click()
        expect(status(page)).to_have_text(LIVE, timeout=10_000)
        expect(page.get_by_test_id("page-user")).to_contain_text("Me Julien Moreau")
        page.get_by_test_id("tocsin-bell").click()
        # His OQTF deadline is due tomorrow: a critical alert, in red.
        critical = page.locator('[data-event="deadline-alert"] .tocsin-icon--critical')
        expect(critical).to_have_count(1)
        expect(page.get_by_test_id("tocsin-item").first).to_be_visible()
    finally:
        ctx.close()
        node.close()
