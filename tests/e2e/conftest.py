"""Browser tests: headless Debian Chromium driven by Playwright against a real Tocsin server."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.helpers import ADMIN_KEY, ServerThread, require_service
from tocsin.auth.nextauth import encrypt_session_token
from tocsin.config import Settings
from tocsin.web import WEB_DIR

CHROMIUM = os.environ.get("TOCSIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AUTH_SECRET = "e2e-auth-secret-0123456789abcdef0123456789"
TENANT = "cabinet-e2e"

# An init script: every browser notification shown is kept in window.__tocsinNotes (the real
# one is still created).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__tocsinNotes = [];
  if (!Real) return;
  window.Notification = new Proxy(Real, {
    construct(target, args) {
      const [title, options = {}] = args;
      window.__tocsinNotes.push({ title, ...options });
      return Reflect.construct(target, args);
    },
  });
})();
"""


def deadline(urgency: str, message: str, days: int, **extra: Any) -> dict[str, Any]:
    """A deadline alert for alice of the e2e firm (``extra``: more fields, e.g. actions)."""
    return {
        "event": "deadline-alert",
        "id": f"deadline-{uuid.uuid4().hex[:10]}",
        "dossierNumber": "D-2026-021",
        "message": message,
        "urgency": urgency,
        "deadlineType": "OQTF",
        "remainingDays": days,
        "userId": "alice",
        "tenantId": TENANT,
        **extra,
    }


COOKIE = "authjs.session-token"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DOCS = Path(__file__).resolve().parents[2] / "docs"
# Read at import: the autouse clean_env fixture removes TOCSIN_* variables before each test.
UPDATE_SCREENSHOTS = os.environ.get("TOCSIN_UPDATE_SCREENSHOTS") == "1"

# A note of what the tests measured (e.g. publish → visible latency), for the report.
_FIGURES: dict[str, Any] = {}


def record_figure(name: str, value: Any) -> None:
    """Keep a measured figure; all are written to test-artifacts/e2e-figures.json."""
    _FIGURES[name] = value
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "e2e-figures.json").write_text(json.dumps(_FIGURES, indent=2) + "\n")


def save_screenshot(page: Any, name: str) -> Path:
    """Screenshot ``page`` into test-artifacts/``name``, and into docs/ when asked.

    docs/ (the README's images) is written only under TOCSIN_UPDATE_SCREENSHOTS=1, so a plain
    ``make test`` leaves the checkout clean.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=path)
    if UPDATE_SCREENSHOTS:
        (DOCS / name).write_bytes(path.read_bytes())
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module (skipped, or failed in CI, when unavailable).

    Playwright's sync API runs its own event loop on this thread while it is open: it must
    close before pytest-asyncio's tests in other modules run theirs.
    """
    if not Path(CHROMIUM).is_file():
        require_service("Chromium", f"{CHROMIUM} not found (apt-get install -y chromium)")
    if not (WEB_DIR / "index.html").is_file():
        require_service("web assets", f"{WEB_DIR}/index.html not built (make web)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        require_service("Playwright", f"cannot import playwright: {exc}")
        raise
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def web_settings(sqlite_url: str) -> Settings:
    """Settings of a node that reads Auth.js session cookies."""
    return make_settings(sqlite_url, auth_secret=AUTH_SECRET)


@pytest.fixture
def web_server(web_settings: Settings) -> Iterator[ServerThread]:
    """A real Tocsin node serving the page."""
    node = ServerThread(web_settings)
    node.start()
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def publisher(web_server: ServerThread) -> Iterator[httpx.Client]:
    """An HTTP client that publishes with the admin key."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=web_server.url, headers=headers, timeout=10) as client:
        yield client


def session_cookie(server: ServerThread, user: str, name: str | None = None) -> dict[str, Any]:
    """A real Auth.js session cookie for ``user`` of the test tenant, for Playwright."""
    now = int(time.time())
    claims = {
        "sub": user,
        "id": user,
        "name": name or user.title(),
        "email": f"{user}@{TENANT}.fr",
        "tenantId": TENANT,
        "tenantName": "Cabinet E2E",
        "role": "lawyer",
        "iat": now,
        "exp": now + 3600,
    }
    value = encrypt_session_token(claims, AUTH_SECRET, cookie_name=COOKIE)
    return {"name": COOKIE, "value": value, "url": server.url, "httpOnly": True, "sameSite": "Lax"}


@pytest.fixture
def context(browser: Any, web_server: ServerThread) -> Iterator[Any]:
    """A browser profile signed in as alice, with notifications allowed and recorded.

    ``window.Notification`` is wrapped so that every notification shown is kept in
    ``window.__tocsinNotes`` (the real one is still created).
    """
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, locale="fr-FR")
    ctx.grant_permissions(["notifications"], origin=web_server.url)
    ctx.add_cookies([session_cookie(web_server, "alice", "Me Alice Martin")])
    ctx.add_init_script(RECORD_NOTIFICATIONS)
    try:
        yield ctx
    finally:
        ctx.close()
