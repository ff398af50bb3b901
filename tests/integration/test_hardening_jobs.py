"""Issue 15, findings 5 and 6: one tenant's bad data never stops a batch job, nor the node.

5. A deadline refused with a 422 is not stored; one that cannot be published (stored before
   validation was complete) neither stops other tenants' alerts nor logs at every check.
   The same isolation holds for the messages of an IMAP mailbox.
6. An e-mail's HTML is parsed off the event loop and in linear time: /healthz answers while
   the worst inputs are read, and the notification still carries what the HTML said.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import make_settings
from tests.dovecot import Dovecot
from tests.helpers import ADMIN_KEY, Client, ServerThread, metric_sample, token
from tests.integration.test_imap import connect, delivered, ingest_count, mail, write_mailboxes
from tocsin.config import Settings
from tocsin.ingest import imap, parse
from tocsin.ingest.publish import publish_mail as real_publish
from tocsin.service import MAX_IDEMPOTENCY_KEY, ONCE_KEY_PREFIX
from tocsin.store.base import DeadlineRecord
from tocsin.store.sql import SqlStore

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
FAILURES = 'tocsin_job_item_failures_total{{job="{job}"}}'


def deadline(due: str, **extra: object) -> dict[str, object]:
    return {
        "dossierNumber": "D-2026-014",
        "deadlineType": "OQTF",
        "dueAt": due,
        "userId": "alice",
        "tenantId": "firm-a",
        **extra,
    }


async def stored_deadlines(database_url: str) -> list[DeadlineRecord]:
    """Every deadline row, read through a store of the test's own (not the API)."""
    store = SqlStore(database_url)
    await store.open(migrate=False)
    try:
        return await store.list_deadlines(None)
    finally:
        await store.close()


async def store_directly(database_url: str, *records: DeadlineRecord) -> None:
    store = SqlStore(database_url)
    await store.open(migrate=False)
    try:
        for record in records:
            await store.put_deadline(record)
    finally:
        await store.close()


# -- 5. deadlines --------------------------------------------------------------------------


@pytest.mark.attack(
    title="A deadline answered 422 but stored (finding 5)",
    tried="`PUT /api/v1/deadlines/<200 chars>` due 1900-01-02, and 4 other invalid deadlines",
    times=5,
)
async def test_the_reported_deadline_is_refused_and_not_stored(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    # The report: answered 422, yet stored, and then it stopped every check.
    attack = await http.put(
        "/api/v1/deadlines/" + "x" * 200, json=deadline("1900-01-02"), headers=ADMIN
    )
    assert attack.status_code == 422 and attack.json()["field"] == "id", attack.text
    listed = await http.get("/api/v1/deadlines?tenantId=firm-a", headers=ADMIN)
    assert listed.status_code == 200 and listed.json()["items"] == []
    assert await stored_deadlines(settings.database_url) == []

    for bad_id, body, field in [
        ("y" * 129, deadline("2030-01-01"), "id"),
        ("a%01b", deadline("2030-01-01"), "id"),
        ("ok", deadline("1899-12-31"), "dueAt"),
        ("ok", deadline("2030-01-01", dossierNumber=""), "dossierNumber"),
    ]:
        refused = await http.put(f"/api/v1/deadlines/{bad_id}", json=body, headers=ADMIN)
        assert refused.status_code == 422 and refused.json()["field"] == field, refused.text

    listed = await http.get("/api/v1/deadlines?tenantId=firm-a", headers=ADMIN)
    assert listed.status_code == 200 and listed.json()["items"] == []
    assert await stored_deadlines(settings.database_url) == []


async def test_the_longest_accepted_id_gives_a_publishable_alert(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    # The id limit and the longest dueAt leave room for the longest alert once-key (a day's,
    # not "expired"), which must fit an idempotency key's 255 characters with the server's
    # prefix; the alert's sourceId is the deadline's id.
    longest_id = "z" * 128
    tomorrow = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)).date()
    due = f"{tomorrow.isoformat()}T12:00:00.123456+05:30"
    created = await http.put(f"/api/v1/deadlines/{longest_id}", json=deadline(due), headers=ADMIN)
    assert created.status_code == 201, created.text
    [alert_id] = created.json()["alerted"]
    assert alert_id.startswith(f"deadline:{longest_id}:{due}:")
    assert len(ONCE_KEY_PREFIX + alert_id) <= MAX_IDEMPOTENCY_KEY
    headers = {"Authorization": f"Bearer {token('alice', 'firm-a')}"}
    inbox = (await http.get("/api/v1/inbox?event=deadline-alert", headers=headers)).json()
    assert [(item["sourceId"], item["remainingDays"]) for item in inbox["items"]] == [
        (longest_id, 1)
    ]
    # Its alert will count a few days, not the thousands of years from now: accepted.
    far = await http.put("/api/v1/deadlines/far", json=deadline("8999-12-31"), headers=ADMIN)
    assert far.status_code == 201 and far.json()["alerted"] == [], far.text


class CheckReports(logging.Handler):
    """Hands the test each deadline check report that counted a failed deadline."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.failing: queue.Queue[dict[str, Any]] = queue.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        # Logging unwraps a lone mapping argument: record.args is the report itself.
        report = record.args
        if record.msg == "deadline check: %s" and isinstance(report, dict) and report["failed"]:
            self.failing.put(report)

    async def next_failing(self, timeout: float = 10.0) -> dict[str, Any]:
        report: dict[str, Any] = await asyncio.to_thread(self.failing.get, True, timeout)
        return report


@pytest.fixture
def check_reports() -> Iterator[CheckReports]:
    handler = CheckReports()
    logger = logging.getLogger("tocsin.deadlines")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.mark.attack(
    title="One tenant stopping deadline alerts for all (finding 5)",
    tried=(
        "a stored deadline whose alert cannot be published, earliest of "
        "all, next to another tenant's deadline due tomorrow"
    ),
    times=1,
)
async def test_an_unpublishable_deadline_does_not_stop_other_tenants_alerts(
    sqlite_url: str, caplog: pytest.LogCaptureFixture, check_reports: CheckReports
) -> None:
    node = ServerThread(make_settings(sqlite_url, deadlines_interval=0.2))
    node.start()
    # After the start: uvicorn's logging configuration covers Tocsin's loggers, and applying
    # it resets the level and handlers of their children.
    caplog.set_level(logging.DEBUG, logger="tocsin.deadlines")
    logging.getLogger("tocsin.deadlines").addHandler(check_reports)
    carol = Client(node.url, "carol", "firm-b")
    try:
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            before = await metric_sample(str(http.base_url), FAILURES.format(job="deadlines"))
            await carol.connect()
            now = datetime.now(UTC)
            tomorrow = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)).date()
            # As the report stored it (before the 422): the earliest deadline of all, and
            # its alert cannot be published (its sourceId, the deadline's id, is over a
            # notification id's 200 characters). Written to the store, past the API.
            poison = DeadlineRecord(
                tenant_id="firm-z",
                id="p" * 201,
                user_id="mallory",
                dossier_number="Z-1900-1",
                deadline_type="OQTF",
                due_date=date(1900, 1, 2),
                due_at="1900-01-02",
                timezone=None,
                status="open",
                message=None,
                updated_at=now,
            )
            # Another tenant's deadline, due tomorrow: only the scheduled check alerts it.
            other = DeadlineRecord(
                tenant_id="firm-b",
                id="oqtf-7",
                user_id="carol",
                dossier_number="B-2026-7",
                deadline_type="OQTF",
                due_date=tomorrow,
                due_at=tomorrow.isoformat(),
                timezone=None,
                status="open",
                message=None,
                updated_at=now,
            )
            await store_directly(sqlite_url, poison, other)

            [alert] = await carol.wait_notifications(1)
            assert alert["dossierNumber"] == "B-2026-7" and alert["remainingDays"] == 1
            # Two more checks meet the poisoned deadline again.
            await check_reports.next_failing()
            await check_reports.next_failing()
            after = await metric_sample(str(http.base_url), FAILURES.format(job="deadlines"))
    finally:
        await carol.disconnect()
        node.close()

    assert after - before >= 2
    poison_key = f"firm-z/{'p' * 201}"
    warnings = [
        r
        for r in caplog.records
        if r.name == "tocsin.deadlines"
        and r.levelno >= logging.WARNING
        and poison_key in r.getMessage()
    ]
    assert len(warnings) == 1, [r.getMessage()[:120] for r in warnings]
    assert "ValidationFailed" in warnings[0].getMessage()
    again = [r for r in caplog.records if r.levelno == logging.DEBUG and "failed again" in r.msg]
    assert again


# -- 5. IMAP: one message's failure does not stop the mailbox ------------------------------


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    server = Dovecot(tmp_path / "dovecot")
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for client in opened:
        await client.disconnect()


async def test_a_message_that_fails_is_skipped_and_the_next_one_delivered(
    dovecot: Dovecot,
    sqlite_url: str,
    tmp_path: Path,
    clients: list[Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def publish_unless_poison(*args: Any, **kwargs: Any) -> Any:
        if args[1].subject == "Poison":
            raise RuntimeError("a bug met by this one message")
        return await real_publish(*args, **kwargs)

    monkeypatch.setattr(imap, "publish_mail", publish_unless_poison)
    entry = dovecot.mailbox("greffe-poison", {"tenantId": "firm-a", "userId": "alice"})
    settings = make_settings(
        sqlite_url, mailboxes_file=write_mailboxes(tmp_path, {**entry, "backfill": 100})
    )
    node = ServerThread(settings)
    node.start()
    try:
        alice = await connect(clients, node)
        await delivered(dovecot, alice, mail("Warm-up"), timeout=10)
        async with httpx.AsyncClient(base_url=node.url) as http:
            before = await metric_sample(str(http.base_url), FAILURES.format(job="imap"))
            dovecot.append(mail("Poison"))
            received, _ = await delivered(dovecot, alice, mail("After the poison"), timeout=10)
            after = await metric_sample(str(http.base_url), FAILURES.format(job="imap"))
        assert received["subject"] == "After the poison"
        assert after - before == 1
        assert await ingest_count(node, "greffe-poison", "failed") == 1
        assert await ingest_count(node, "greffe-poison", "published") == 2
    finally:
        node.close()


# -- 6. HTML e-mail --------------------------------------------------------------------------

PATHOLOGICAL = {
    "the report": "<a " * 20_000,
    "unclosed attributes": "<a b=" * 40_000,
    "comments": "<!--" * 50_000,
    "end tags": "</" * 100_000,
    "less-thans": "<" * 200_000,
    "nesting": "<div>" * 50_000,
    "attributes": "<a " + " ".join(f"a{i}=v" for i in range(40_000)) + ">x",
}


def html_mail(markup: str, message_id: str) -> bytes:
    head = (
        "From: Greffe <greffe@tribunal.example>\r\nTo: alice@cabinet.example\r\n"
        f"Subject: Convocation\r\nMessage-ID: <{message_id}@tribunal.example>\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
    )
    body = "<html><body><p>Audience, dossier <b>CIV-2026-0042</b></p>" + markup
    return (head + body).encode()


async def post_mail(http: httpx.AsyncClient, raw: bytes) -> httpx.Response:
    return await http.post(
        "/api/v1/inbound/email",
        content=raw,
        params={"tenantId": "firm-a", "userId": "alice"},
        headers={**ADMIN, "Content-Type": "message/rfc822"},
    )


async def test_healthz_answers_while_an_html_mail_is_parsed(
    server: ServerThread, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The parse is held until /healthz has answered: only a parse off the event loop lets
    # it answer (on the loop, /healthz would wait for the parse, and the parse for it).
    entered, release = threading.Event(), threading.Event()
    real = parse.html_to_text

    def held(markup: str) -> str:
        entered.set()
        release.wait(30)
        return real(markup)

    monkeypatch.setattr(parse, "html_to_text", held)
    posting = asyncio.create_task(post_mail(http, html_mail("", "held")))
    try:
        assert await asyncio.to_thread(entered.wait, 10)
        health = await asyncio.wait_for(http.get("/healthz"), 5)
        assert health.status_code == 200
    finally:
        release.set()
    response = await posting
    assert response.status_code == 202, response.text


@pytest.mark.attack(
    title="HTML e-mail freezing the node (finding 6)",
    tried=(
        "7 pathological HTML bodies (`<a ` x 20,000 …) to "
        "/api/v1/inbound/email while /healthz is polled"
    ),
    times=7,
)
async def test_pathological_html_neither_stalls_the_node_nor_loses_the_mail(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    slowest = 0.0
    for number, (name, markup) in enumerate(PATHOLOGICAL.items()):
        posting = asyncio.create_task(post_mail(http, html_mail(markup, f"html-{number}")))
        while True:
            started = time.monotonic()
            health = await http.get("/healthz", timeout=5)
            slowest = max(slowest, time.monotonic() - started)
            assert health.status_code == 200
            if posting.done():
                break
        response = await posting
        assert response.status_code == 202, (name, response.text)
        assert slowest < 1.0, (name, slowest)

    headers = {"Authorization": f"Bearer {token('alice', 'firm-a')}"}
    inbox = (await http.get("/api/v1/inbox?limit=50", headers=headers)).json()["items"]
    assert len(inbox) == len(PATHOLOGICAL)
    for item in inbox:
        assert item["subject"] == "Convocation"
        assert item["from"] == "Greffe <greffe@tribunal.example>"
        assert item["dossierNumber"] == "CIV-2026-0042"  # read from the HTML's text
