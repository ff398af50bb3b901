"""The operator page in headless Chromium against three nodes on PostgreSQL and Redis.

Python Socket.IO clients of three firms are spread over the nodes; the page, served by the
first node, must show each firm's sockets across all three, follow a client that leaves,
and publish from its form to a user whose socket and browser are on another node.

Playwright's async API here (not the sync ``browser`` fixture of the other browser tests):
the nodes, the clients and the page all wait in one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster import NodeProcess, RedisProcess
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, record_figure
from tests.helpers import ADMIN_KEY, Client, email, publish, require_service, token

pytest.importorskip("playwright")
from playwright.async_api import async_playwright, expect

# Fast enough that the page and the nodes follow within a test's patience.
PRESENCE_INTERVAL = "0.5"
REFRESH_MS = 300


@pytest.fixture
async def nodes(postgres_url: str, redis: RedisProcess) -> AsyncIterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    try:
        for _ in range(3):
            node = NodeProcess(
                postgres_url,
                redis.url,
                TOCSIN_BUS_HEARTBEAT_INTERVAL="0.3",
                TOCSIN_PRESENCE_INTERVAL=PRESENCE_INTERVAL,
            )
            await asyncio.to_thread(node.start)
            started.append(node)
        yield started
    finally:
        for node in started:
            node.close()


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    if not await asyncio.to_thread(Path(CHROMIUM).is_file):
        require_service("Chromium", f"{CHROMIUM} not found (apt-get install -y chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


def tenant_count(page: Any, tenant: str) -> Any:
    return page.locator(
        f'[data-testid="tenant-row"][data-tenant="{tenant}"] >> [data-testid="tenant-count"]'
    )


async def test_the_page_counts_every_node_and_publishes_to_a_socket_elsewhere(
    nodes: list[NodeProcess], chromium: Any
) -> None:
    one, two, three = nodes
    alice = Client(two.url, "alice", "firm-a")
    bob = Client(one.url, "bob", "firm-a")
    firm_b = [Client(node.url, f"b{i}", "firm-b") for i, node in enumerate(nodes)]
    firm_c = Client(three.url, "carol", "firm-c")
    clients = [alice, bob, *firm_b, firm_c]
    await asyncio.gather(*(client.connect() for client in clients))
    context = await chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(f"{one.url}/admin?refresh={REFRESH_MS}")

        # A wrong key is refused, the right one opens the page.
        await page.get_by_label("Clé d'administration").fill("not-the-key")
        await page.get_by_role("button", name="Se connecter").click()
        await expect(page.get_by_test_id("admin-error")).to_have_text("Clé refusée.")
        await page.get_by_label("Clé d'administration").fill(ADMIN_KEY)
        await page.get_by_role("button", name="Se connecter").click()
        await expect(page.get_by_test_id("admin-signout")).to_be_visible()
        cookies = await context.cookies()
        [session] = [c for c in cookies if c["name"] == "tocsin_admin"]
        assert session["httpOnly"] and session["sameSite"] == "Strict"

        # 2 + 3 + 1 sockets, each firm's spread over the nodes, counted on node one.
        await expect(tenant_count(page, "firm-a")).to_have_text("2", timeout=10_000)
        await expect(tenant_count(page, "firm-b")).to_have_text("3", timeout=10_000)
        await expect(tenant_count(page, "firm-c")).to_have_text("1", timeout=10_000)
        await expect(page.get_by_test_id("connections-total")).to_have_text("6")
        await expect(page.get_by_test_id("node-row")).to_have_count(3)
        await page.screenshot(path=ARTIFACTS / "admin-page.png", full_page=True)

        # A socket that leaves node three is gone from the page of node one.
        await firm_b[2].disconnect()
        await expect(tenant_count(page, "firm-b")).to_have_text("2", timeout=10_000)
        await expect(page.get_by_test_id("connections-total")).to_have_text("5")

        # Alice also has the app open in Chromium, on node two (its page, signed in by token).
        app = await chromium.new_context(locale="fr-FR")
        alice_page = await app.new_page()
        await alice_page.goto(f"{two.url}/#token={token('alice', 'firm-a')}")
        bell = alice_page.get_by_test_id("tocsin-bell")
        await expect(bell).to_have_attribute("data-unread", "0", timeout=10_000)
        await expect(tenant_count(page, "firm-a")).to_have_text("3", timeout=10_000)

        # The test publish: from node one's page to alice, whose socket is on node two.
        form = page.get_by_test_id("publish-form")
        await form.locator('input[name="tenantId"]').fill("firm-a")
        await form.locator('input[name="userId"]').fill("alice")
        await form.locator('select[name="level"]').select_option("warning")
        await form.locator('input[name="title"]').fill("Essai d'exploitation")
        await form.locator('textarea[name="message"]').fill("Publié depuis /admin")
        started = asyncio.get_running_loop().time()
        await form.get_by_role("button", name="Publier").click()
        result = page.get_by_test_id("publish-result")
        await expect(result).to_contain_text("Publiée", timeout=10_000)
        published_id = await result.get_attribute("data-id")
        [received] = await alice.wait_notifications(1, timeout=10)
        record_figure(
            "admin_publish_to_socket_ms",
            round((asyncio.get_running_loop().time() - started) * 1000),
        )
        assert received["id"] == published_id
        assert (received["title"], received["message"], received["type"]) == (
            "Essai d'exploitation",
            "Publié depuis /admin",
            "warning",
        )
        assert received["userId"] == "alice" and received["tenantId"] == "firm-a"
        # And her browser: the badge, and the item in the NotificationCenter.
        await expect(bell).to_have_attribute("data-unread", "1", timeout=10_000)
        await bell.click()
        await expect(alice_page.get_by_test_id("tocsin-list")).to_contain_text(
            "Essai d'exploitation"
        )
        await app.close()
        # Addressed to alice: bob, of the same firm, gets nothing.
        assert bob.notifications() == []
        row = page.locator(f'[data-testid="notification-row"][data-id="{published_id}"]')
        await expect(row).to_contain_text("Essai d'exploitation", timeout=10_000)
        await expect(row).to_contain_text("firm-a / alice")

        # Publishes are counted from the store: one made through node three counts too.
        async with httpx.AsyncClient(base_url=three.url) as http:
            await publish(http, email("bob", "firm-a"))
        await bob.wait_notifications(1, timeout=10)
        await expect(page.get_by_test_id("publishes-last-minute")).to_have_text("2")

        # Signed out, the page's data is closed to this browser.
        await page.get_by_test_id("admin-signout").click()
        await expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
        closed = await page.request.get(f"{one.url}/admin/api/connections")
        assert closed.status == 401
    finally:
        await context.close()
        await asyncio.gather(*(client.disconnect() for client in clients))
