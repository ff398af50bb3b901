"""The shipped service worker (DESIGN §8) in headless Chromium, served by a real Tocsin node.

« Activer les notifications » in the NotificationCenter registers ``/tocsin-sw.js`` from the
click and tries to subscribe. Headless Chromium has no push service behind ``PushManager``
(``subscribe`` fails with « AbortError: Registration failed - permission denied » whatever
the permission), so the page says the browser could not subscribe; the subscription is then
made by the local push service of ``tests/pushservice.py`` as a browser makes one, and handed
to Tocsin by the worker itself, through its ``pushsubscriptionchange`` handler (a fetch with
the session cookie, as in production).

From there everything is real: a critical deadline alert published for the user is pushed by
Tocsin's escalation, received and decrypted by the local push service (Urgency: high), and
its decrypted payload delivered to the worker as a trusted ``push`` event by the DevTools
protocol (``ServiceWorker.deliverPushMessage``, the path a push service's message takes in
Chromium). ``registration.getNotifications()`` then holds it with ``requireInteraction``.
Chromium offers no way to click a notification, so ``notificationclick`` is a synthetic
``NotificationEvent`` around that real notification: the notification is read on the server
and the open tab's badge drops within 2 s. (A synthetic click carries no user activation:
Chromium refuses the worker's ``focus()`` and ``openWindow()``, which the worker logs and
survives; the unit tests in ``clients/js/test/sw.test.ts`` cover that part.)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.e2e.conftest import (
    AUTH_SECRET,
    TENANT,
    deadline,
    record_figure,
    save_screenshot,
    session_cookie,
)
from tests.helpers import ADMIN_KEY, ServerThread
from tests.pushservice import BrowserSubscription, PushService
from tocsin.config import DEFAULT_PUSH_SERVICES, Settings
from tocsin.models import Identity
from tocsin.push.vapid import generate
from tocsin.store.sql import SqlStore
from tocsin.web import WEB_DIR

pytest.importorskip("playwright")
from playwright.sync_api import expect

LIVE = "En direct"
PAGE = "/?reconnectDelay=300"
KEYS = generate()
ALICE = Identity(TENANT, "alice")
WITHIN = 2_000  # ms: "read on the server and in an open tab within 2 s"

# A synthetic event's waitUntil throws (only the browser's own events are trusted): the test
# keeps the handler's promise instead and awaits it, so a failing handler fails the test.
SUBSCRIPTION_CHANGE = """async ({ old, fresh }) => {
  const options = { applicationServerKey: null, userVisibleOnly: true };
  const asSubscription = (json) => json && { endpoint: json.endpoint, options, toJSON: () => json };
  const event = new ExtendableEvent("pushsubscriptionchange");
  Object.defineProperty(event, "oldSubscription", { value: asSubscription(old) });
  Object.defineProperty(event, "newSubscription", { value: asSubscription(fresh) });
  let done = Promise.resolve();
  event.waitUntil = (promise) => { done = promise; };
  self.dispatchEvent(event);
  await done;
}"""

# Keeps the promise each push event is extended with, so that the test knows when the
# worker's handler is done. Reading notifications earlier races with Chromium's own
# bookkeeping: getNotifications() drops the stored ones the display has not confirmed yet.
WATCH_PUSHES = """() => {
  self.__pushes = [];
  const waitUntil = ExtendableEvent.prototype.waitUntil;
  ExtendableEvent.prototype.waitUntil = function (promise) {
    if (this.type === "push") self.__pushes.push(Promise.resolve(promise).then(() => null, String));
    return waitUntil.call(this, promise);
  };
}"""

# The notification a push showed, once its handler is done (the event's arrival has no
# signal in the worker: polled, bounded).
SHOWN = """async (tag) => {
  const deadline = Date.now() + 5000;
  while (self.__pushes.length === 0) {
    if (Date.now() > deadline) return { error: "no push event within 5 s" };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const [failed] = (await Promise.all(self.__pushes)).filter(Boolean);
  if (failed) return { error: failed };
  const [found] = await self.registration.getNotifications({ tag });
  if (!found) return { error: "no notification" };
  const { title, body, requireInteraction, data } = found;
  return { title, body, tag: found.tag, requireInteraction, data };
}"""

CLICK = """async (tag) => {
  const [notification] = await self.registration.getNotifications({ tag });
  const event = new NotificationEvent("notificationclick", { notification });
  let done = Promise.resolve();
  event.waitUntil = (promise) => { done = promise; };
  self.dispatchEvent(event);
  await done;
  return (await self.registration.getNotifications({ tag })).length;
}"""


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture
def push_settings(sqlite_url: str) -> Settings:
    """A node with a VAPID key that pushes to the browsers' services and the local one."""
    return make_settings(
        sqlite_url,
        auth_secret=AUTH_SECRET,
        vapid_private_key=KEYS.private_key,
        vapid_subject="mailto:ops@cabinet-e2e.fr",
        push_services=[*DEFAULT_PUSH_SERVICES, "http://127.0.0.1:*"],
        jobs_poll_interval=0.2,
    )


@pytest.fixture
def push_server(push_settings: Settings) -> Iterator[ServerThread]:
    node = ServerThread(push_settings)
    node.start()
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def push_context(browser: Any, push_server: ServerThread) -> Iterator[Any]:
    """Alice's browser profile: notifications allowed, service workers on."""
    ctx = browser.new_context(
        viewport={"width": 1100, "height": 800}, locale="fr-FR", service_workers="allow"
    )
    ctx.grant_permissions(["notifications"], origin=push_server.url)
    ctx.add_cookies([session_cookie(push_server, "alice", "Me Alice Martin")])
    try:
        yield ctx
    finally:
        ctx.close()


def stored_endpoints(database_url: str) -> list[str]:
    """Alice's push endpoints as the store holds them (read through a store of its own)."""

    async def read() -> list[str]:
        store = SqlStore(database_url)
        await store.open(migrate=False)
        try:
            return [s.endpoint for s in await store.push_subscriptions(ALICE)]
        finally:
            await store.close()

    # Playwright's loop owns this thread: the store gets one of its own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result(timeout=30)


def open_page(ctx: Any, server: ServerThread) -> Any:
    page = ctx.new_page()
    page.goto(server.url + PAGE)
    expect(page.get_by_test_id("tocsin-status")).to_have_text(LIVE, timeout=10_000)
    return page


def registration_id(page: Any, scope: str, found: dict[str, str]) -> str:
    """The DevTools id of the registration of ``scope`` (its events fill ``found``)."""
    deadline = time.monotonic() + 5
    while scope not in found:
        assert time.monotonic() < deadline, f"no registration for {scope}: {found}"
        page.evaluate("0")  # lets Playwright deliver the session's pending events
    return found[scope]


def expect_badge(page: Any, unread: int, timeout: int = WITHIN) -> None:
    bell = page.get_by_test_id("tocsin-bell")
    expect(bell).to_have_attribute("data-unread", str(unread), timeout=timeout)


def test_the_worker_is_served_at_the_root_with_its_headers(push_server: ServerThread) -> None:
    answer = httpx.get(f"{push_server.url}/tocsin-sw.js", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["service-worker-allowed"] == "/"
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.content == (WEB_DIR / "assets" / "tocsin-sw.js").read_bytes()
    again = httpx.get(
        f"{push_server.url}/tocsin-sw.js", headers={"If-None-Match": answer.headers["etag"]}
    )
    assert again.status_code == 304, "revalidated, not downloaded again"


def test_push_from_the_click_to_read_on_the_server_and_in_the_tab(
    push_context: Any,
    push_server: ServerThread,
    push_service: PushService,
    push_settings: Settings,
) -> None:
    page = open_page(push_context, push_server)
    cdp = push_context.new_cdp_session(page)
    registrations: dict[str, str] = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.update(
            {r["scopeURL"]: r["registrationId"] for r in event["registrations"]}
        ),
    )
    cdp.send("ServiceWorker.enable")

    # « Activer les notifications » in the panel: the worker is registered from the click.
    page.get_by_test_id("tocsin-bell").click()
    banner = page.get_by_test_id("tocsin-panel").get_by_test_id("tocsin-push")
    expect(banner).to_have_attribute("data-state", "default")
    save_screenshot(page, "push-enable-1280.png")
    with push_context.expect_event("serviceworker") as registered:
        banner.get_by_role("button", name="Activer les notifications").click()
    worker = registered.value
    assert worker.url == f"{push_server.url}/tocsin-sw.js"

    # Headless Chromium cannot subscribe (no push service): the page says so, plainly.
    expect(banner).to_have_attribute("data-reason", "subscribe_failed")
    expect(banner.get_by_test_id("tocsin-push-status")).to_have_text(
        "Ce navigateur n'a pas pu s'abonner aux notifications push : "
        "vous êtes prévenu tant qu'un onglet est ouvert."
    )
    save_screenshot(page, "push-headless-1280.png")
    assert stored_endpoints(push_settings.database_url) == []

    # The worker hands a subscription to Tocsin with the session cookie, and replaces it.
    first = push_service.subscribe(application_server_key=KEYS.public_key)
    worker.evaluate(SUBSCRIPTION_CHANGE, {"old": None, "fresh": first.to_json()})
    assert stored_endpoints(push_settings.database_url) == [first.endpoint]
    second: BrowserSubscription = push_service.subscribe(application_server_key=KEYS.public_key)
    worker.evaluate(SUBSCRIPTION_CHANGE, {"old": first.to_json(), "fresh": second.to_json()})
    assert stored_endpoints(push_settings.database_url) == [second.endpoint]

    # A critical deadline alert: pushed by Tocsin at once, decrypted by the push service.
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    started = time.monotonic()
    published = httpx.post(
        f"{push_server.url}/api/v1/notifications",
        json=deadline("critical", "Délai OQTF expire demain", 1),
        headers=headers,
        timeout=10,
    )
    assert published.status_code == 202, published.text
    note_id = published.json()["id"]
    [push] = push_service.wait_for_pushes(1, timeout=2.0)
    record_figure("push_publish_to_decrypted_ms", round((push.received_at - started) * 1000))
    assert push.token == second.token and push.urgency == "high"
    assert push.payload["id"] == note_id and push.payload["critical"] is True
    expect_badge(page, 1)

    # Delivered to the worker as the browser delivers a push: shown, kept until dismissed.
    scope = f"{push_server.url}/"
    worker.evaluate(WATCH_PUSHES)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": push_server.url,
            "registrationId": registration_id(page, scope, registrations),
            "data": json.dumps(push.payload),
        },
    )
    shown = worker.evaluate(SHOWN, f"tocsin:{note_id}")
    assert "error" not in shown, shown
    assert shown["tag"] == f"tocsin:{note_id}"
    assert shown["title"] == push.payload["title"]
    assert shown["body"] == push.payload["body"]
    assert shown["requireInteraction"] is True
    assert shown["data"] == {"id": note_id, "url": push.payload.get("url")}

    # Clicked: read on the server and in the open tab within 2 s; the notification is gone.
    clicked = time.monotonic()
    assert worker.evaluate(CLICK, f"tocsin:{note_id}") == 0
    counts = page.request.get(f"{push_server.url}/api/v1/inbox/counts").json()
    assert counts["unread"] == 0, counts
    expect_badge(page, 0)
    record_figure("push_click_to_tab_badge_ms", round((time.monotonic() - clicked) * 1000))


def test_without_push_on_the_server_the_page_says_notifications_reach_open_tabs(
    context: Any, web_server: ServerThread
) -> None:
    page = context.new_page()
    page.goto(web_server.url + PAGE)
    expect(page.get_by_test_id("tocsin-status")).to_have_text(LIVE, timeout=10_000)
    card = page.locator(".page-push").get_by_test_id("tocsin-push")
    expect(card).to_have_attribute("data-state", "unavailable")
    expect(card.get_by_test_id("tocsin-push-status")).to_have_text(
        "Les notifications push ne sont pas configurées sur ce serveur : "
        "vous êtes prévenu tant qu'un onglet est ouvert."
    )
    expect(card.get_by_test_id("tocsin-push-enable")).to_have_count(0)
    # The panel's banner has nothing to offer then.
    page.get_by_test_id("tocsin-bell").click()
    expect(page.get_by_test_id("tocsin-panel").get_by_test_id("tocsin-push")).to_have_count(0)


def test_the_control_speaks_english(push_context: Any, push_server: ServerThread) -> None:
    page = push_context.new_page()
    page.goto(push_server.url + PAGE + "&lang=en")
    expect(page.get_by_test_id("tocsin-status")).to_have_text("Live", timeout=10_000)
    page.get_by_test_id("tocsin-bell").click()
    banner = page.get_by_test_id("tocsin-panel").get_by_test_id("tocsin-push")
    expect(banner.get_by_role("button", name="Turn on notifications")).to_be_visible()
    expect(banner.get_by_test_id("tocsin-push-status")).to_have_text(
        "To be told even when no tab is open."
    )
