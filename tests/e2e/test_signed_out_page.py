"""The page at ``/`` without a session: it says what to do, in French and English, and the
way it offers without an app (``/#token=…``) signs the visitor in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import ServerThread, token

pytest.importorskip("playwright")
from playwright.sync_api import expect


def test_signed_out_page_says_what_to_do(browser: Any, web_server: ServerThread) -> None:
    ctx = browser.new_context(viewport={"width": 1000, "height": 800})
    page = ctx.new_page()
    try:
        page.goto(f"{web_server.url}/")
        card = page.get_by_test_id("signed-out")
        expect(card).to_contain_text("Vous n'êtes pas connecté.")
        expect(card).to_contain_text("missing_token")
        for way in ("make demo", "tocsin token --user alice --tenant firm-a", "#token="):
            expect(card).to_contain_text(way)
        page.get_by_role("link", name="English").click()
        expect(card).to_contain_text("You are not signed in.")
        expect(card).to_contain_text("Pass a token")
        expect(card.get_by_role("link", name="Français")).to_be_visible()
    finally:
        ctx.close()


def test_a_token_in_the_fragment_signs_in_and_is_not_kept_in_the_url(
    browser: Any, web_server: ServerThread
) -> None:
    ctx = browser.new_context(viewport={"width": 1000, "height": 800})
    page = ctx.new_page()
    try:
        page.goto(f"{web_server.url}/#token={token('alice', 'firm-a')}")
        expect(page.get_by_test_id("page-user")).to_contain_text("alice")
        expect(page.get_by_text("En direct").first).to_be_visible()
        assert "#token" not in page.url
        # Kept for the tab: a reload stays signed in.
        page.reload()
        expect(page.get_by_test_id("page-user")).to_contain_text("alice")

        page.goto(f"{web_server.url}/#token=not-a-token")
        card = page.get_by_test_id("signed-out")
        expect(card).to_contain_text("invalid_token")
        # A refused token is forgotten: the next load is the cookie's (none here).
        page.reload()
        expect(card).to_contain_text("missing_token")
    finally:
        ctx.close()
