"""``/docs`` in Chromium with no network beyond the server: Swagger UI renders the API, and
nothing breaks the page's Content-Security-Policy."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers import ServerThread

pytest.importorskip("playwright")
from playwright.sync_api import expect


def test_docs_render_offline_under_the_policy(browser: Any, web_server: ServerThread) -> None:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    own = urlsplit(web_server.url).netloc
    elsewhere: list[str] = []

    def only_the_server(route: Any) -> None:
        # "Offline": anything but the server itself fails, as it would without a network.
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_the_server)
    ctx.add_init_script(
        """
        window.__violations = [];
        document.addEventListener("securitypolicyviolation",
          (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
        """
    )
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{web_server.url}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Tocsin", timeout=15_000)
        publish = page.locator(".opblock-summary-path", has_text="/api/v1/notifications").first
        expect(publish).to_be_visible()
        violations = page.evaluate("window.__violations")
    finally:
        ctx.close()
    assert elsewhere == []
    assert violations == []
    assert errors == []
