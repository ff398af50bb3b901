"""Inbox states in the NotificationCenter (DESIGN §7), in headless Chromium against a real node.

Seen, read, archived, snoozed and acted in one tab show within a second in a second tab of the
same profile and on a second device (another browser context); the badge, the socket's
acknowledgement and ``GET /api/v1/inbox/counts`` agree. Snoozed items are listed in the Archive
tab under « Reportées », until when, and « Réveiller maintenant » brings them back. A critical
deadline alert muted for browser notifications still shows one; a non-critical one follows the
preferences and the quiet hours. The snooze menu and the preferences view work from the
keyboard, and the panel's new views fit a 390 px phone; their screenshots go to test-artifacts/
(docs/screenshots/ under TOCSIN_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.e2e.conftest import (
    AUTH_SECRET,
    DOCS,
    RECORD_NOTIFICATIONS,
    TENANT,
    UPDATE_SCREENSHOTS,
    deadline,
    save_screenshot,
    session_cookie,
)
from tests.helpers import ADMIN_KEY, ServerThread

pytest.importorskip("playwright")
from playwright.sync_api import expect

LIVE = "En direct"
PAGE = "/?reconnectDelay=300"
WITHIN = 1_000  # ms: "shows in the other tabs and devices within a second"


ACKNOWLEDGE = {"id": "acknowledge", "label": "Accuser réception", "primary": True}
OPEN_DOSSIER = {"id": "open", "label": "Ouvrir le dossier", "url": "/?dossier=D-2026-021"}

# A Socket.IO acknowledgement in a WebSocket frame: "43<id>[answer]".
_ACK = re.compile(r"^43\d+(\[.*\])$", re.S)


def ack_with_counts(payload: str | bytes) -> dict[str, Any] | None:
    """The answer of an acknowledgement carrying the badge's counts, else None."""
    match = _ACK.match(payload) if isinstance(payload, str) else None
    if not match:
        return None
    answer = json.loads(match.group(1))[0]
    return answer if isinstance(answer, dict) and "unreadCount" in answer else None


def device(browser: Any, server: ServerThread, width: int = 1100, height: int = 800) -> Any:
    """Another browser profile (a second device) signed in as alice."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR")
    ctx.grant_permissions(["notifications"], origin=server.url)
    ctx.add_cookies([session_cookie(server, "alice", "Me Alice Martin")])
    ctx.add_init_script(RECORD_NOTIFICATIONS)
    return ctx


def open_page(ctx: Any, server: ServerThread, *, panel: bool) -> tuple[Any, Any]:
    """A live tab on the page (and its WebSocket), with the panel open or not."""
    page = ctx.new_page()
    with page.expect_websocket() as socket:
        page.goto(server.url + PAGE)
    expect(page.get_by_test_id("tocsin-status")).to_have_text(LIVE, timeout=10_000)
    if panel:
        page.get_by_test_id("tocsin-bell").click()
        expect(page.get_by_test_id("tocsin-panel")).to_be_visible()
    return page, socket.value


def acked(ws: Any, action: Callable[[], None]) -> dict[str, Any]:
    """Do ``action`` and return the acknowledgement (with counts) it brought on ``ws``."""
    with ws.expect_event(
        "framereceived", predicate=lambda p: ack_with_counts(p) is not None
    ) as got:
        action()
    answer = ack_with_counts(got.value)
    assert answer is not None and answer.get("ok") is True, answer
    return answer


def item(scope: Any, note_id: str) -> Any:
    """The row of ``note_id`` in a page or in a part of it."""
    return scope.locator(f'[data-testid="tocsin-item"][data-id="{note_id}"]')


def snoozed_section(page: Any) -> Any:
    """The Archive tab's « Reportées » section (a region named by its heading)."""
    return page.get_by_role("region", name="Reportées")


# « jusqu'à 9:00 » today, « jusqu'à demain 9:00 », « jusqu'à lun. 9:00 », « jusqu'à 23 mars 9:00 ».
UNTIL_NINE = re.compile(r"^jusqu'à (demain |[a-z]{3}\. |\d{1,2} \S+ )?9:00$")


def bell(page: Any) -> Any:
    return page.get_by_test_id("tocsin-bell")


def publish(http: httpx.Client, note: dict[str, Any]) -> str:
    response = http.post("/api/v1/notifications", json=note)
    assert response.status_code == 202, response.text
    note_id: str = response.json()["id"]
    return note_id


def email(subject: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": "email-received",
        "id": f"mail-{uuid.uuid4().hex[:10]}",
        "subject": subject,
        "from": "Greffe du TJ de Lyon <greffe.tj-lyon@justice.fr>",
        "dossierNumber": "D-2026-014",
        "userId": "alice",
        "tenantId": TENANT,
        **extra,
    }


def counts(page: Any, server: ServerThread) -> dict[str, Any]:
    """``GET /api/v1/inbox/counts`` with the page's own session cookie."""
    response = page.request.get(f"{server.url}/api/v1/inbox/counts")
    assert response.ok, response.text()
    answer: dict[str, Any] = response.json()
    return answer


def expect_badge(page: Any, unread: int) -> None:
    """The bell says ``unread`` (the badge shows it, or is absent at 0)."""
    expect(bell(page)).to_have_attribute("data-unread", str(unread), timeout=WITHIN)
    badge = page.get_by_test_id("tocsin-badge")
    if unread:
        expect(badge).to_have_text(str(unread))
    else:
        expect(badge).to_have_count(0)


def test_each_state_change_reaches_the_other_tab_and_device_within_a_second(
    browser: Any, context: Any, web_server: ServerThread, publisher: httpx.Client
) -> None:
    mails = [publish(publisher, email(f"Courrier {n}")) for n in range(1, 5)]
    alert = publish(
        publisher,
        deadline("critical", "OQTF délai expire demain!", 1, actions=[ACKNOWLEDGE, OPEN_DOSSIER]),
    )
    first, ws = open_page(context, web_server, panel=False)
    second, _ = open_page(context, web_server, panel=False)
    phone = device(browser, web_server)
    try:
        other, _ = open_page(phone, web_server, panel=False)
        others = (second, other)
        for page in (first, *others):
            expect(bell(page)).to_have_attribute("data-unseen", "5")
            expect_badge(page, 5)

        # Seen: opening the panel in one tab shows the items there, so they are seen everywhere.
        answer = acked(ws, lambda: bell(first).click())
        assert (answer["unreadCount"], answer["unseenCount"]) == (5, 0), answer
        for page in others:
            expect(bell(page)).to_have_attribute("data-unseen", "0", timeout=WITHIN)
        assert counts(first, web_server)["unseen"] == 0
        for page in others:
            bell(page).click()
            expect(item(page, alert)).to_have_attribute("data-seen", "true")

        # Read.
        answer = acked(ws, lambda: item(first, mails[0]).get_by_test_id("tocsin-mark-read").click())
        for page in others:
            expect(item(page, mails[0])).to_have_attribute("data-read", "true", timeout=WITHIN)
        assert counts(first, web_server)["unread"] == answer["unreadCount"] == 4
        for page in (first, *others):
            expect_badge(page, 4)

        # Archived: gone from the inboxes, in the other device's Archive tab, and back again.
        answer = acked(ws, lambda: item(first, mails[1]).get_by_test_id("tocsin-archive").click())
        for page in others:
            expect(item(page, mails[1])).to_have_count(0, timeout=WITHIN)
        for page in (first, *others):
            expect_badge(page, answer["unreadCount"])
        assert counts(first, web_server)["unread"] == answer["unreadCount"] == 3
        other.get_by_test_id("tocsin-tab-archive").click()
        archived = item(other, mails[1])
        expect(archived).to_have_attribute("data-archived", "true")
        archived.get_by_test_id("tocsin-unarchive").click()
        for page in (first, second):
            expect(item(page, mails[1])).to_be_visible(timeout=WITHIN)
            expect_badge(page, 4)
        other.get_by_test_id("tocsin-tab-all").click()

        # Snoozed: gone from every inbox and from the counts until it is due.
        def snooze_in_an_hour() -> None:
            item(first, mails[2]).get_by_test_id("tocsin-snooze").click()
            first.get_by_role("menuitem", name="Dans 1 heure").click()

        answer = acked(ws, snooze_in_an_hour)
        assert answer["until"] > datetime.now(UTC).isoformat()
        for page in others:
            expect(item(page, mails[2])).to_have_count(0, timeout=WITHIN)
        seen_by_http = counts(first, web_server)
        assert (seen_by_http["unread"], seen_by_http["snoozed"]) == (answer["unreadCount"], 1)
        for page in (first, *others):
            expect_badge(page, 3)

        # Acted: « Accuser réception » is recorded once, reads the item, and shows everywhere.
        button = item(first, alert).locator(
            '[data-testid="tocsin-action"][data-action="acknowledge"]'
        )
        expect(button).to_have_text("Accuser réception")
        expect(button).to_have_class(re.compile(r"\bis-primary\b"))
        answer = acked(ws, lambda: button.click())
        assert (answer["action"], answer["alreadyActed"]) == ("acknowledge", False), answer
        for page in (first, *others):
            acted = item(page, alert).get_by_test_id("tocsin-acted")
            expect(acted).to_have_text("Réception accusée", timeout=WITHIN)
            expect(item(page, alert)).to_have_attribute("data-read", "true")
            expect(item(page, alert).get_by_test_id("tocsin-action")).to_have_count(0)
        assert counts(first, web_server)["unread"] == answer["unreadCount"] == 2

        # « Tout archiver »: every inbox is empty, the archive holds them.
        answer = acked(ws, lambda: first.get_by_test_id("tocsin-archive-all").click())
        assert answer["count"] == 4, answer
        for page in others:
            expect(page.get_by_test_id("tocsin-item")).to_have_count(0, timeout=WITHIN)
        final = counts(first, web_server)
        assert (final["unread"], final["archived"], final["snoozed"]) == (0, 4, 1), final
        for page in (first, *others):
            expect_badge(page, final["unread"])
    finally:
        phone.close()


@pytest.fixture
def quick_snoozes(sqlite_url: str) -> Iterator[ServerThread]:
    """A node whose snoozes may end a second ahead, looking for due wake-ups five times a second."""
    settings = make_settings(
        sqlite_url, auth_secret=AUTH_SECRET, snooze_min_seconds=1, jobs_poll_interval=0.2
    )
    node = ServerThread(settings)
    node.start()
    try:
        yield node
    finally:
        node.close()


def test_a_snoozed_item_comes_back_unread_on_top_in_every_tab(
    browser: Any, quick_snoozes: ServerThread
) -> None:
    server = quick_snoozes
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        old = publish(http, email("Relance du confrère"))
        newer = [publish(http, email(f"Courrier {n}")) for n in (1, 2)]
    ctx = device(browser, server)
    try:
        first, _ = open_page(ctx, server, panel=True)
        second, _ = open_page(ctx, server, panel=True)
        item(first, old).get_by_test_id("tocsin-mark-read").click()
        for page in (first, second):
            expect(item(page, old)).to_have_attribute("data-read", "true")
            expect_badge(page, 2)
        # The second tab shows the Archive tab: the snoozed item is listed there until it is due.
        second.get_by_test_id("tocsin-tab-archive").click()
        expect(second.get_by_test_id("tocsin-empty")).to_have_text("Aucune notification archivée")
        until = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
        # From the page itself: a cookie-authenticated change must come with the page's Origin.
        status = first.evaluate(
            """(body) => fetch('/api/v1/inbox/snooze', {
                 method: 'POST', headers: {'Content-Type': 'application/json'},
                 body: JSON.stringify(body)}).then((r) => r.status)""",
            {"ids": [old], "until": until},
        )
        assert status == 200, status
        expect(item(first, old)).to_have_count(0, timeout=WITHIN)
        expect(item(snoozed_section(second), old)).to_be_visible(timeout=WITHIN)
        # notification-due: out of the snoozed list; back, unread, above newer notifications.
        expect(item(second, old)).to_have_count(0, timeout=6_000)
        second.get_by_test_id("tocsin-tab-all").click()
        for page in (first, second):
            expect(item(page, old)).to_have_attribute("data-read", "false", timeout=6_000)
            order = page.get_by_test_id("tocsin-item")
            expect(order).to_have_count(3)
            assert order.evaluate_all("els => els.map(e => e.dataset.id)") == [old, *newer[::-1]]
            expect_badge(page, 3)
        assert counts(first, server)["unread"] == 3
        live = second.get_by_test_id("tocsin-live")
        expect(live).to_have_text("Rappel : Relance du confrère")
        # Shown once as a browser notification, by the one tab elected to show them.
        returns = [
            n for page in (first, second) for n in notes(page) if n["tag"] == f"tocsin:{old}"
        ]
        assert len(returns) == 1, returns
    finally:
        ctx.close()


def notes(page: Any) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = page.evaluate("window.__tocsinNotes")
    return shown


def test_snoozed_items_are_listed_in_the_archive_tab_and_woken_from_there(
    context: Any, web_server: ServerThread, publisher: httpx.Client
) -> None:
    mails = [publish(publisher, email(f"Courrier {n}")) for n in range(1, 4)]
    first, ws = open_page(context, web_server, panel=True)
    second, second_ws = open_page(context, web_server, panel=True)
    second.get_by_test_id("tocsin-tab-archive").click()
    # Loaded, and nothing snoozed or archived yet: no section, the archive is empty.
    expect(second.get_by_test_id("tocsin-empty")).to_have_text("Aucune notification archivée")
    expect(second.get_by_role("heading", name="Reportées")).to_have_count(0)

    # Snoozed in the first tab: under « Reportées » in the second within a second.
    def snooze_until_monday() -> None:
        item(first, mails[1]).get_by_test_id("tocsin-snooze").click()
        first.get_by_role("menuitem", name="Lundi 9 h").click()

    answer = acked(ws, snooze_until_monday)
    row = item(snoozed_section(second), mails[1])
    expect(row).to_be_visible(timeout=WITHIN)
    expect(second.get_by_role("heading", name="Reportées")).to_be_visible()
    expect(second.get_by_role("heading", name="Archivées")).to_be_visible()
    expect(second.get_by_test_id("tocsin-archived-empty")).to_have_text(
        "Aucune notification archivée"
    )
    until = row.get_by_test_id("tocsin-snoozed-until")
    expect(until).to_have_text(UNTIL_NINE)
    shown_until = until.locator("time").get_attribute("datetime")
    assert shown_until is not None
    assert datetime.fromisoformat(shown_until) == datetime.fromisoformat(answer["until"])
    # Described by its details and until when; its button names it.
    assert "jusqu'à" in row.evaluate(
        "el => el.getAttribute('aria-describedby').split(' ')"
        ".map((id) => document.getElementById(id).textContent).join(' ')"
    )
    wake = second.get_by_role("button", name="Réveiller maintenant : Courrier 2")
    expect(wake).to_have_text("Réveiller maintenant")
    by_http = counts(first, web_server)
    assert by_http["snoozed"] == 1, by_http
    assert by_http["unread"] == answer["unreadCount"] == 2, (by_http, answer)
    expect(snoozed_section(second).get_by_test_id("tocsin-item")).to_have_count(1)
    for page in (first, second):
        expect_badge(page, by_http["unread"])

    # « Réveiller maintenant » in the second tab: back in both inboxes within a second.
    answer = acked(second_ws, wake.click)
    assert answer["ids"] == [mails[1]], answer
    expect(row).to_have_count(0)
    expect(second.get_by_test_id("tocsin-tab-archive")).to_be_focused()  # the list is empty
    expect(second.get_by_test_id("tocsin-live")).to_have_text(
        "Courrier 2 : de retour dans la boîte"
    )
    expect(item(first, mails[1])).to_be_visible(timeout=WITHIN)
    second.get_by_test_id("tocsin-tab-all").click()
    expect(item(second, mails[1])).to_be_visible(timeout=WITHIN)
    for page in (first, second):
        order = page.get_by_test_id("tocsin-item")
        expect(order).to_have_count(3)
        assert order.evaluate_all("els => els.map(e => e.dataset.id)") == mails[::-1]
    by_http = counts(first, web_server)
    assert by_http["snoozed"] == 0, by_http
    assert by_http["unread"] == answer["unreadCount"] == 3, (by_http, answer)
    for page in (first, second):
        expect_badge(page, by_http["unread"])


def test_browser_notifications_follow_preferences_but_critical_always_notifies(
    context: Any, web_server: ServerThread, publisher: httpx.Client
) -> None:
    page, _ = open_page(context, web_server, panel=True)
    page.get_by_test_id("tocsin-prefs").click()
    prefs = page.get_by_test_id("tocsin-prefs-panel")
    expect(prefs).to_have_attribute("data-loaded", "true")
    deadline_browser = page.get_by_test_id("tocsin-pref-deadline-alert-browser")
    expect(deadline_browser).not_to_be_checked()  # muted: the default
    expect(prefs.get_by_test_id("tocsin-prefs-critical")).to_contain_text("alertes critiques")

    # Muted: the critical one still shows, and stays on screen; the urgent one does not.
    critical = publish(publisher, deadline("critical", "OQTF délai expire demain!", 1))
    page.wait_for_function("window.__tocsinNotes.length === 1", timeout=WITHIN)
    [shown] = notes(page)
    assert (shown["tag"], shown["requireInteraction"]) == (f"tocsin:{critical}", True), shown
    page.get_by_test_id("tocsin-prefs-back").click()
    urgent = publish(publisher, deadline("urgent", "Délai d'appel expire dans 2 jours", 2))
    # The decision is taken as the item arrives, before it shows in the list.
    expect(item(page, urgent)).to_be_visible(timeout=WITHIN)
    assert len(notes(page)) == 1, notes(page)

    # Unmuted in the preferences panel: a non-critical deadline now notifies.
    page.get_by_test_id("tocsin-prefs").click()
    deadline_browser.check()
    expect(page.get_by_test_id("tocsin-prefs-status")).to_have_text("Préférences enregistrées")
    stored = page.request.get(f"{web_server.url}/api/v1/preferences").json()
    assert stored["events"]["deadline-alert"]["browser"] is True, stored
    unmuted = publish(publisher, deadline("urgent", "Délai de conclusions expire dans 2 jours", 2))
    page.wait_for_function("window.__tocsinNotes.length === 2", timeout=WITHIN)
    assert notes(page)[1]["tag"] == f"tocsin:{unmuted}"
    assert notes(page)[1]["requireInteraction"] is False

    # Quiet hours now: the non-critical one is held back, the critical one still shows.
    start, end = page.evaluate(
        """() => [-2, 2].map((h) => new Date(Date.now() + h * 3600e3).toTimeString().slice(0, 5))"""
    )
    page.get_by_test_id("tocsin-quiet").check()
    expect(page.get_by_test_id("tocsin-prefs-status")).to_have_text("Préférences enregistrées")
    page.get_by_test_id("tocsin-quiet-start").fill(start)
    page.get_by_test_id("tocsin-quiet-end").fill(end)
    expect(page.get_by_test_id("tocsin-quiet-end")).to_have_value(end)
    page.wait_for_function(
        "(end) => fetch('/api/v1/preferences').then((r) => r.json())"
        "  .then((p) => p.quietHours !== null && p.quietHours.end === end)",
        arg=end,
        timeout=5_000,
    )
    page.get_by_test_id("tocsin-prefs-back").click()
    quiet = publish(publisher, deadline("urgent", "Délai d'appel expire dans 2 jours", 2))
    expect(item(page, quiet)).to_be_visible(timeout=WITHIN)
    assert len(notes(page)) == 2, notes(page)
    loud = publish(publisher, deadline("critical", "Délai de recours expire demain", 1))
    page.wait_for_function("window.__tocsinNotes.length === 3", timeout=WITHIN)
    assert notes(page)[2]["tag"] == f"tocsin:{loud}"


def test_snooze_menu_and_preferences_from_the_keyboard(
    context: Any, web_server: ServerThread, publisher: httpx.Client
) -> None:
    older = publish(publisher, email("Pièces complémentaires"))
    newer = publish(publisher, email("Conclusions adverses"))
    page, ws = open_page(context, web_server, panel=True)
    expect(page.get_by_test_id("tocsin-item")).to_have_count(2)

    button = item(page, newer).get_by_test_id("tocsin-snooze")
    expect(button).to_have_attribute("aria-haspopup", "menu")
    expect(button).to_have_attribute("aria-label", "Mettre en attente : Conclusions adverses")
    button.focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    choices = menu.get_by_role("menuitem")
    expect(choices).to_have_text(["Dans 1 heure", "Demain 9 h", "Lundi 9 h", "Choisir une date…"])
    expect(choices.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(choices.nth(1)).to_be_focused()
    page.keyboard.press("End")
    expect(choices.nth(3)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(choices.nth(0)).to_be_focused()  # wraps
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(button).to_be_focused()
    expect(page.get_by_test_id("tocsin-panel")).to_be_visible()  # Escape closed the menu only

    # ↑ opens on the last choice: a date, typed, confirmed with Enter.
    page.keyboard.press("ArrowUp")
    expect(choices.nth(3)).to_be_focused()
    page.keyboard.press("Enter")
    field = page.get_by_label("Date et heure du rappel")
    expect(field).to_be_focused()
    when = (datetime.now() + timedelta(days=2)).replace(hour=14, minute=30)
    field.fill(when.strftime("%Y-%m-%dT%H:%M"))
    answer = acked(ws, lambda: page.keyboard.press("Enter"))
    assert answer["ids"] == [newer], answer
    expect(item(page, newer)).to_have_count(0)
    # The item left under the focus: its neighbour takes it; what happened is read out.
    expect(item(page, older)).to_be_focused()
    expect(page.get_by_test_id("tocsin-live")).to_contain_text(
        "Conclusions adverses : En attente jusqu'à"
    )
    snoozed = page.request.get(f"{web_server.url}/api/v1/inbox?snoozed=true").json()["items"]
    assert [n["id"] for n in snoozed] == [newer]
    assert snoozed[0]["snoozedUntil"].startswith(when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))

    # The preferences view: focus on its title, labelled controls, back to the gear.
    gear = page.get_by_test_id("tocsin-prefs")
    gear.click()
    expect(page.get_by_role("heading", name="Préférences")).to_be_focused()
    expect(gear).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("checkbox", name="Délais : navigateur")).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="E-mails : navigateur")).to_be_checked()
    expect(page.get_by_role("checkbox", name="samedi")).to_be_disabled()  # quiet hours off
    for _ in range(25):  # focus stays in the dialog through every control of the view
        page.keyboard.press("Tab")
        inside = page.evaluate(
            "document.querySelector('[data-testid=tocsin-panel]').contains(document.activeElement)"
        )
        assert inside
    page.get_by_test_id("tocsin-prefs-back").click()
    expect(gear).to_be_focused()
    expect(page.get_by_test_id("tocsin-item")).to_have_count(1)


# Where every control of the open panel is, against the panel and the viewport.
_OVERFLOW = """
() => {
  const panel = document.querySelector('[data-testid="tocsin-panel"]').getBoundingClientRect();
  const width = document.documentElement.clientWidth;
  const controls = [...document.querySelectorAll(
    '[data-testid="tocsin-panel"] :is(button, input, select, [role=menuitem])')]
    .filter((el) => el.getClientRects().length > 0);
  const outside = controls
    .map((el) => ({ el: el.outerHTML.slice(0, 90), box: el.getBoundingClientRect() }))
    .filter(({ box }) => box.left < panel.left - 0.5 || box.right > panel.right + 0.5)
    .map(({ el }) => el);
  return {
    page: document.documentElement.scrollWidth - width,
    panel: panel.left >= 0 && panel.right <= width,
    scrolled: [...document.querySelectorAll('[data-testid="tocsin-panel"] *')]
      .filter((el) => el.scrollWidth > el.clientWidth + 1
        && ['auto', 'scroll'].includes(getComputedStyle(el).overflowX))
      .map((el) => el.className),
    outside,
  };
}
"""


def assert_fits(page: Any) -> None:
    """No horizontal overflow: not the page, not the panel, no control outside it."""
    found = page.evaluate(_OVERFLOW)
    assert found["page"] <= 0, found
    assert found["panel"], found
    assert found["scrolled"] == [], found
    assert found["outside"] == [], found


def shot(page: Any, name: str) -> None:
    """The README's screenshots of the inbox states, under docs/screenshots/."""
    if UPDATE_SCREENSHOTS:
        (DOCS / "screenshots").mkdir(exist_ok=True)
    page.mouse.move(0, 0)  # no hover highlight
    save_screenshot(page, f"screenshots/{name}")


@pytest.fixture
def firm_inbox(publisher: httpx.Client) -> Iterator[dict[str, str]]:
    """Alice's inbox as a lawyer would see it, oldest first; the ids by name."""
    now = datetime.now(UTC)
    notes = {
        "maintenance": {
            "event": "system-notification",
            "title": "Maintenance ce soir",
            "message": "Maintenance programmée à 22 h : coupure d'environ 10 minutes.",
            "type": "warning",
            "tenantId": TENANT,
        },
        "dossier": {
            "event": "dossier-updated",
            "dossierNumber": "D-2026-027",
            "dossierTitle": "Arvel SAS — Licenciement économique",
            "action": "status_changed",
            "status": "Audience fixée au 12 mars",
            "userId": "alice",
            "tenantId": TENANT,
        },
        "appeal": deadline(
            "critical",
            "Délai d'appel expire demain",
            1,
            deadlineType="appel",
            actions=[ACKNOWLEDGE, OPEN_DOSSIER],
        ),
        "offer": email(
            "Proposition de transaction", **{"from": "Me Garnier <garnier@garnier-avocats.fr>"}
        ),
        "oqtf": deadline(
            "critical", "Délai OQTF expire dans 1 jour", 1, actions=[ACKNOWLEDGE, OPEN_DOSSIER]
        ),
        "hearing": email("Convocation à l'audience de mise en état"),
    }
    ids = {}
    for age, (name, note) in zip((180, 95, 60, 17, 6, 0), notes.items(), strict=True):
        ids[name] = publish(
            publisher, {**note, "timestamp": (now - timedelta(minutes=age)).isoformat()}
        )
    yield ids


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_archive_snooze_actions_and_preferences_screenshots(
    browser: Any, web_server: ServerThread, firm_inbox: dict[str, str], width: int, height: int
) -> None:
    ctx = device(browser, web_server, width, height)
    try:
        page, ws = open_page(ctx, web_server, panel=True)
        panel = page.get_by_test_id("tocsin-panel")
        expect(panel.get_by_test_id("tocsin-item")).to_have_count(6)
        # One critical alert acknowledged, the other still asking.
        acked(
            ws,
            lambda: item(page, firm_inbox["appeal"]).get_by_test_id("tocsin-action").first.click(),
        )
        expect(item(page, firm_inbox["appeal"]).get_by_test_id("tocsin-acted")).to_be_visible()
        expect(item(page, firm_inbox["oqtf"]).get_by_test_id("tocsin-action")).to_have_count(2)
        page.evaluate("document.querySelector('.tocsin-tabpanel').scrollTop = 0")
        assert_fits(page)
        shot(page, f"inbox-actions-{width}.png")

        item(page, firm_inbox["oqtf"]).get_by_test_id("tocsin-snooze").click()
        expect(page.get_by_test_id("tocsin-snooze-menu")).to_be_visible()
        expect(page.get_by_role("menuitem").first).to_be_focused()
        assert_fits(page)
        shot(page, f"inbox-snooze-menu-{width}.png")
        page.keyboard.press("Escape")

        for name in ("maintenance", "dossier"):
            archive = item(page, firm_inbox[name]).get_by_test_id("tocsin-archive")
            acked(ws, archive.click)

        def snooze_the_offer() -> None:
            item(page, firm_inbox["offer"]).get_by_test_id("tocsin-snooze").click()
            page.get_by_role("menuitem", name="Demain 9 h").click()

        acked(ws, snooze_the_offer)
        page.get_by_test_id("tocsin-tab-archive").click()
        expect(page.get_by_test_id("tocsin-tab-archive")).to_have_attribute("aria-selected", "true")
        expect(panel.get_by_test_id("tocsin-item")).to_have_count(3)
        expect(panel.get_by_test_id("tocsin-unarchive")).to_have_count(2)
        expect(snoozed_section(page).get_by_test_id("tocsin-unsnooze")).to_have_count(1)
        expect(page.get_by_test_id("tocsin-snoozed-until")).to_have_text("jusqu'à demain 9:00")
        assert_fits(page)
        shot(page, f"inbox-archive-{width}.png")

        page.get_by_test_id("tocsin-prefs").click()
        expect(page.get_by_test_id("tocsin-prefs-panel")).to_have_attribute("data-loaded", "true")
        page.get_by_test_id("tocsin-quiet").check()
        expect(page.get_by_test_id("tocsin-prefs-status")).to_have_text("Préférences enregistrées")
        page.get_by_test_id("tocsin-prefs-status").evaluate("el => el.textContent = ''")
        assert_fits(page)
        shot(page, f"inbox-preferences-{width}.png")
    finally:
        ctx.close()


def test_english_labels(browser: Any, web_server: ServerThread, publisher: httpx.Client) -> None:
    publish(publisher, deadline("critical", "OQTF deadline tomorrow", 1, actions=[ACKNOWLEDGE]))
    ctx = device(browser, web_server)
    try:
        page = ctx.new_page()
        page.goto(f"{web_server.url}{PAGE}&lang=en")
        expect(page.get_by_test_id("tocsin-status")).to_have_text("Live", timeout=10_000)
        bell(page).click()
        expect(page.get_by_test_id("tocsin-tab-archive")).to_have_attribute("aria-label", "Archive")
        expect(page.get_by_test_id("tocsin-archive-all")).to_have_text("Archive all")
        page.get_by_test_id("tocsin-snooze").click()
        expect(page.get_by_role("menuitem")).to_have_text(
            ["In 1 hour", "Tomorrow, 9 am", "Monday, 9 am", "Pick a date…"]
        )
        page.keyboard.press("Escape")
        page.get_by_test_id("tocsin-action").click()
        expect(page.get_by_test_id("tocsin-acted")).to_have_text("Receipt acknowledged")
        page.get_by_test_id("tocsin-snooze").click()
        page.get_by_role("menuitem", name="Tomorrow, 9 am").click()
        page.get_by_test_id("tocsin-tab-archive").click()
        snoozed = page.get_by_role("region", name="Snoozed")
        expect(snoozed.get_by_test_id("tocsin-snoozed-until")).to_have_text("until tomorrow 9:00")
        expect(
            snoozed.get_by_role("button", name="Unsnooze : OQTF deadline tomorrow")
        ).to_be_visible()
        expect(page.get_by_role("heading", name="Archived")).to_be_visible()
        page.get_by_test_id("tocsin-prefs").click()
        expect(page.get_by_role("checkbox", name="Deadlines: browser")).not_to_be_checked()
        expect(page.get_by_test_id("tocsin-prefs-critical")).to_contain_text("Critical alerts")
    finally:
        ctx.close()
