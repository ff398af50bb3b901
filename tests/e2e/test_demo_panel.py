"""The demo's NotificationCenter in Chromium, on a phone and on a desktop.

Every control of the open panel is inside the viewport and the panel, and is what a tap at its
centre reaches; screen readers get the names Chromium computes here (« non lue » once, counts in
words); and the README's screenshots are these pages (docs/ refreshed only under
TOCSIN_UPDATE_SCREENSHOTS=1, test-artifacts/ always).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.e2e.conftest import save_screenshot
from tests.helpers import ServerThread
from tocsin.demo.command import build_demo_app

pytest.importorskip("playwright")
from playwright.sync_api import expect

SECRET = "e2e-demo-panel-secret-0123456789abcdef"
LIVE = "En direct"
# Camille's inbox as the demo seeds it: six items, her oldest e-mail already read.
CAMILLE_UNREAD = 5
CAMILLE_TABS = {
    "all": "Tout (5 non lues)",
    "emails": "E-mails (1 non lue)",
    "dossiers": "Dossiers (1 non lue)",
    "deadlines": "Délais (2 non lues)",
    "system": "Système (1 non lue)",
}

# Where an element is, whether something clips it, and what a tap at its centre reaches.
_GEOMETRY = """
(el) => {
  const box = (e) => { const r = e.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
  const panel = el.closest('[data-testid="tocsin-panel"]');
  const clippers = [];
  for (let up = el.parentElement; up && up !== panel.parentElement; up = up.parentElement) {
    const style = getComputedStyle(up);
    if (style.overflowX !== "visible" || style.overflowY !== "visible") clippers.push(box(up));
  }
  const own = box(el);
  const hit = document.elementFromPoint((own.left + own.right) / 2, (own.top + own.bottom) / 2);
  return {
    box: own,
    panel: box(panel),
    clippers,
    viewport: {left: 0, top: 0, right: document.documentElement.clientWidth, bottom: innerHeight},
    reached: hit !== null && (hit === el || el.contains(hit)),
    hit: hit ? hit.outerHTML.slice(0, 120) : null,
  };
}
"""

_ONE_LINE = """
(el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
  return {lines: lines.size, truncated: el.scrollWidth > el.clientWidth};
}
"""


def inside(inner: dict[str, float], outer: dict[str, float], slack: float = 0.5) -> bool:
    return (
        inner["left"] >= outer["left"] - slack
        and inner["top"] >= outer["top"] - slack
        and inner["right"] <= outer["right"] + slack
        and inner["bottom"] <= outer["bottom"] + slack
    )


@pytest.fixture
def demo(sqlite_url: str) -> Iterator[ServerThread]:
    """`tocsin demo` without its stream: the firm's seeded history and deadlines only."""
    settings = make_settings(sqlite_url, auth_secret=SECRET)
    node = ServerThread(settings, lambda: build_demo_app(settings, SECRET, interval=0))
    node.start()
    try:
        yield node
    finally:
        node.close()


def signed_in(browser: Any, demo: ServerThread, width: int, height: int, lang: str = "fr") -> Any:
    """A page of the demo as Camille, live, with the panel open and her items listed."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR")
    page = ctx.new_page()
    page.goto(demo.url + "/signin")
    page.locator('button[data-user="camille"]').click()
    page.wait_for_url(demo.url + "/")
    if lang != "fr":
        page.goto(f"{demo.url}/?lang={lang}")
    expect(page.get_by_test_id("tocsin-status")).to_have_text(
        LIVE if lang == "fr" else "Live", timeout=10_000
    )
    page.get_by_test_id("tocsin-bell").click()
    expect(page.get_by_test_id("tocsin-item")).to_have_count(6)
    page.mouse.move(0, 0)  # no hover highlight in screenshots
    return page


def panel_controls(page: Any) -> list[tuple[str, Any]]:
    """Every control of the open panel, with a name for failure messages."""
    panel = page.get_by_test_id("tocsin-panel")
    controls = [
        ("status", panel.locator(".tocsin-head .tocsin-pill")),
        ("close", panel.locator(".tocsin-head button")),
        ("mark all read", panel.get_by_test_id("tocsin-mark-all")),
        ("clear", panel.get_by_test_id("tocsin-clear")),
    ]
    controls += [(f"tab {key}", panel.get_by_test_id(f"tocsin-tab-{key}")) for key in CAMILLE_TABS]
    marks = panel.get_by_test_id("tocsin-mark-read")
    controls += [(f"mark read #{n}", marks.nth(n)) for n in range(marks.count())]
    return controls


def assert_usable(page: Any) -> None:
    """Each control, once scrolled to (the list scrolls in the panel), is whole and reachable."""
    assert page.get_by_test_id("tocsin-mark-read").count() == CAMILLE_UNREAD
    for name, control in panel_controls(page):
        control.scroll_into_view_if_needed()
        where = control.evaluate(_GEOMETRY)
        assert inside(where["box"], where["viewport"]), (name, where)
        assert inside(where["box"], where["panel"]), (name, where)
        for clipper in where["clippers"]:
            assert inside(where["box"], clipper), (name, "clipped", where)
        assert where["reached"], (name, "covered by", where["hit"])
    panel = page.get_by_test_id("tocsin-panel").evaluate(_GEOMETRY)
    assert inside(panel["box"], panel["viewport"]), panel
    title = page.get_by_test_id("tocsin-panel").locator("h2").evaluate(_ONE_LINE)
    assert title == {"lines": 1, "truncated": False}, title


@pytest.mark.parametrize(
    ("width", "height", "screenshot"),
    [
        (1280, 800, "notification-center.png"),
        (390, 844, "notification-center-390.png"),
        (320, 568, None),
    ],
)
def test_every_control_of_the_panel_is_reachable(
    browser: Any, demo: ServerThread, width: int, height: int, screenshot: str | None
) -> None:
    page = signed_in(browser, demo, width, height)
    try:
        if screenshot:
            save_screenshot(page, screenshot)
        tabs = page.locator(".tocsin-tabs").evaluate("(el) => el.scrollWidth - el.clientWidth")
        if width >= 390:
            assert tabs <= 0, f"the tabs overflow their strip by {tabs}px at {width}px"
        assert_usable(page)
        # And a tap on a ✓ does its job.
        page.get_by_test_id("tocsin-mark-read").first.click()
        expect(page.get_by_test_id("tocsin-badge")).to_have_text(str(CAMILLE_UNREAD - 1))
    finally:
        page.context.close()


def ax_names(page: Any, selector: str) -> list[str]:
    """The accessible names Chromium itself computes for the elements matching ``selector``."""
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        found = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})
        names = []
        for node_id in found["nodeIds"]:
            tree = cdp.send(
                "Accessibility.getPartialAXTree", {"nodeId": node_id, "fetchRelatives": False}
            )
            [node] = [n for n in tree["nodes"] if not n.get("ignored")][:1] or [{}]
            names.append(node.get("name", {}).get("value", ""))
        return names
    finally:
        cdp.detach()


def test_accessible_names_say_unread_once_and_count_in_words(
    browser: Any, demo: ServerThread
) -> None:
    page = signed_in(browser, demo, 1280, 800)
    try:
        items = page.get_by_test_id("tocsin-item")
        titles = items.locator(".tocsin-title").all_inner_texts()
        read = items.evaluate_all("els => els.map(e => e.dataset.read === 'true')")
        expected = [
            t if was_read else f"{t} non lue" for t, was_read in zip(titles, read, strict=True)
        ]
        assert ax_names(page, '[data-testid="tocsin-item"]') == expected
        assert read.count(False) == CAMILLE_UNREAD
        # Said once per unread item, never on a read one, and never as a count.
        texts = items.evaluate_all("els => els.map(e => e.textContent)")
        for text, was_read in zip(texts, read, strict=True):
            assert text.count("non lue") == (0 if was_read else 1), text
        assert "(1 non lue)" not in page.get_by_test_id("tocsin-panel").text_content()

        tabs = [f'[data-testid="tocsin-tab-{key}"]' for key in CAMILLE_TABS]
        assert [ax_names(page, tab)[0] for tab in tabs] == list(CAMILLE_TABS.values())
        [bell] = ax_names(page, '[data-testid="tocsin-bell"]')
        assert bell == f"Notifications ({CAMILLE_UNREAD} non lues) — {LIVE}"
        marks = ax_names(page, '[data-testid="tocsin-mark-read"]')
        assert marks[0] == f"Marquer comme lu : {titles[0]}"

        # The deadlines' words (newest first): the type joined with « de » / « d' », plurals.
        deadlines = page.locator('[data-event="deadline-alert"]')
        expect(deadlines.locator(".tocsin-title")).to_have_text(
            ["Délai de conclusions expire dans 3 jours", "Délai d'appel expire dans 2 jours"]
        )
        expect(deadlines.locator(".tocsin-meta")).to_have_text(
            ["Conclusions · 3 jours restants", "Appel · 2 jours restants"]
        )
        expect(page.get_by_test_id("tocsin-clients")).to_have_text("1 connexion")

        # One left unread: singular everywhere.
        marks_buttons = page.get_by_test_id("tocsin-mark-read")
        for _ in range(CAMILLE_UNREAD - 1):
            marks_buttons.first.click()
        expect(marks_buttons).to_have_count(1)
        [bell] = ax_names(page, '[data-testid="tocsin-bell"]')
        assert bell == f"Notifications (1 non lue) — {LIVE}"
        assert ax_names(page, '[data-testid="tocsin-tab-all"]') == ["Tout (1 non lue)"]
        page.get_by_test_id("tocsin-mark-all").click()
        expect(marks_buttons).to_have_count(0)
        assert ax_names(page, '[data-testid="tocsin-tab-all"]') == ["Tout"]
        assert ax_names(page, '[data-testid="tocsin-item"]') == titles
    finally:
        page.context.close()


def test_accessible_names_in_english(browser: Any, demo: ServerThread) -> None:
    page = signed_in(browser, demo, 1280, 800, lang="en")
    try:
        [bell] = ax_names(page, '[data-testid="tocsin-bell"]')
        assert bell == f"Notifications ({CAMILLE_UNREAD} unread) — Live"
        assert ax_names(page, '[data-testid="tocsin-tab-emails"]') == ["E-mails (1 unread)"]
        names = ax_names(page, '[data-testid="tocsin-item"][data-read="false"]')
        assert len(names) == CAMILLE_UNREAD
        assert all(name.endswith(" unread") for name in names), names
        expect(page.locator('[data-event="deadline-alert"] .tocsin-meta')).to_have_text(
            ["Conclusions · 3 days left", "Appel · 2 days left"]
        )
    finally:
        page.context.close()
