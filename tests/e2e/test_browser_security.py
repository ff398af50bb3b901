"""Issue 15, findings 4 and 10 in a real browser: CSRF from a same-site page, the page's CSP.

``http://127.0.0.1:OTHER`` and Tocsin's ``http://127.0.0.1:PORT`` are different origins of
the same site (ports do not count for "site"), so Chromium attaches the ``SameSite=Lax``
session cookie to the other page's ``fetch(..., {credentials: "include"})``: the attack of
finding 4, reproduced as a browser does it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import TENANT
from tests.helpers import ServerThread, token

pytest.importorskip("playwright")
from playwright.sync_api import expect

USER = "alice"
WRITES = ("/api/v1/inbox/clear", "/api/v1/inbox/read", "/api/v1/inbox/read-all")
ATTACK = """async ([url, ids]) => {
  // The attack as found: no preflight (text/plain, no-cors), the cookie included; the ids
  // are the victim's real ones (Tocsin's, as the inbox gives them).
  await fetch(url, {method: "POST", mode: "no-cors", credentials: "include",
                    headers: {"Content-Type": "text/plain"}, body: JSON.stringify({ids})});
}"""
LEGIT = """async (url) => {
  const response = await fetch(url, {method: "POST", credentials: "include",
                                     headers: {"Content-Type": "application/json"}, body: "{}"});
  return response.status;
}"""


class _Blank(BaseHTTPRequestHandler):
    """The attacker's site: an empty page at every path."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>another origin of the same site</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_origin() -> Iterator[str]:
    """A second HTTP server on 127.0.0.1, on a port of its own."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Blank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def inbox(server: ServerThread) -> tuple[list[str], int]:
    """Alice's inbox ids and unread count, read with her bearer token."""
    headers = {"Authorization": f"Bearer {token(USER, TENANT)}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        items = http.get("/api/v1/inbox").json()["items"]
        count = http.get("/api/v1/inbox/unread-count").json()["count"]
    return sorted(item["id"] for item in items), count


def seed(publisher: httpx.Client) -> list[str]:
    """Two notifications for alice (source ids n1, n2); the ids Tocsin gave them, sorted."""
    ids = []
    for id_ in ["n1", "n2"]:
        note = {"event": "email-received", "id": id_, "subject": "s", "from": "f"}
        response = publisher.post(
            "/api/v1/notifications", json={**note, "userId": USER, "tenantId": TENANT}
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return sorted(ids)


@pytest.mark.attack(
    title="CSRF from a same-site page in Chromium (finding 4)",
    tried=(
        "a page on another port runs `fetch(url, {mode: 'no-cors', "
        "credentials: 'include'})` on the three inbox writes"
    ),
    times=3,
)
def test_a_same_site_page_cannot_write_to_the_inbox_with_the_cookie(
    context: Any, web_server: ServerThread, publisher: httpx.Client, other_origin: str
) -> None:
    ids = seed(publisher)
    page = context.new_page()
    statuses: dict[str, int] = {}

    def seen(response: Any) -> None:
        if response.url.startswith(web_server.url):
            statuses[response.url.removeprefix(web_server.url)] = response.status

    page.on("response", seen)
    page.goto(other_origin + "/attack")
    for path in WRITES:
        with page.expect_response(web_server.url + path):
            page.evaluate(ATTACK, [web_server.url + path, ids])
    # 403, not 401: the browser did send the cookie, and the Origin check refused it.
    assert statuses == dict.fromkeys(WRITES, 403)
    assert inbox(web_server) == (ids, 2)

    # The same request with JSON from Tocsin's own origin is what the page does: served.
    page.goto(web_server.url + "/healthz")
    assert page.evaluate(LEGIT, web_server.url + "/api/v1/inbox/clear") == 200
    assert inbox(web_server) == ([], 0)
    page.close()


def test_the_page_runs_under_its_policy_without_violations(
    context: Any, web_server: ServerThread, publisher: httpx.Client
) -> None:
    ids = seed(publisher)
    context.add_init_script(
        """
        window.__cspViolations = [];
        document.addEventListener("securitypolicyviolation", (e) => {
          window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
        });
        """
    )
    page = context.new_page()
    response = page.goto(web_server.url + "/")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    expect(page.get_by_test_id("tocsin-status")).to_have_text("En direct", timeout=10_000)
    page.get_by_test_id("tocsin-bell").click()
    for note_id in ids:
        expect(page.locator(f'[data-testid="tocsin-item"][data-id="{note_id}"]')).to_be_visible()
    # The NotificationCenter's own stylesheet applies (an inline <style> the policy allows).
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.tocsin-sr-only')).position")
        == "absolute"
    )
    assert page.evaluate("window.__cspViolations") == []
    page.close()
