"""Escalation to e-mail (DESIGN §8) through a real SMTP server: a critical notification still
unread after the delay is e-mailed once with the French template; read before → nothing
(the log says cancelled); one-click unsubscribe turns an event's e-mail off."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_settings
from tests.helpers import (
    ADMIN_HEADERS,
    ServerThread,
    critical_alert,
    delivery_log,
    publish,
    token,
)
from tests.smtpserver import SmtpServer
from tocsin.config import Settings
from tocsin.mail import unsubscribe_token
from tocsin.mailing import mail_secret
from tocsin.store.sql import SqlStore

TENANT = "firm-a"
EMAIL_AFTER = 1.0


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(sqlite_url: str, smtp: SmtpServer) -> Settings:
    return make_settings(
        sqlite_url,
        smtp_url=smtp.url,
        mail_from="Cabinet A <notifications@firm-a.fr>",
        email_after=EMAIL_AFTER,
        public_url="https://notify.firm-a.fr",
        jobs_poll_interval=0.2,
    )


async def profile(http: httpx.AsyncClient, user: str, address: str) -> None:
    answer = await http.put(
        f"/api/v1/tenants/{TENANT}/users/{user}",
        json={"email": address, "locale": "fr", "timezone": "Europe/Paris"},
        headers=ADMIN_HEADERS,
    )
    assert answer.status_code == 200, answer.text


async def test_unread_critical_is_emailed_once_and_read_is_not(
    server: ServerThread, http: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await profile(http, "alice", "alice@firm-a.fr")
    read = (
        await publish(http, critical_alert("alice", TENANT, "Délai d'appel expire demain"))
    ).json()
    unread = (
        await publish(http, critical_alert("alice", TENANT, "Délai OQTF expire demain"))
    ).json()
    marked = await http.post(
        "/api/v1/inbox/read",
        json={"ids": [read["id"]]},
        headers={"Authorization": f"Bearer {token('alice', TENANT)}"},
    )
    assert marked.status_code == 200
    started = time.monotonic()
    [mail] = await smtp.arrived(1, timeout=EMAIL_AFTER + 5)
    assert time.monotonic() - started >= EMAIL_AFTER - 0.5
    assert mail.rcpt_tos == ("alice@firm-a.fr",)
    assert "OQTF" in str(mail.message["Subject"])
    assert mail.message["Content-Language"] == "fr"
    assert "OQTF expire demain" in mail.body("plain") and "OQTF expire demain" in mail.body("html")
    # Critical: it cannot be turned off, so no unsubscribe link.
    assert mail.message["List-Unsubscribe"] is None
    assert [(d["channel"], d["status"]) for d in await delivery_log(http, unread["id"])] == [
        ("email", "sent")
    ]
    cancelled = await delivery_log(http, read["id"])
    assert [(d["status"], d["detail"]) for d in cancelled] == [
        ("cancelled", "read before the e-mail delay")
    ]
    # A third alert's e-mail arriving second proves no other came in between.
    await publish(http, critical_alert("alice", TENANT, "Délai de recours expire demain"))
    mails = await smtp.arrived(2, timeout=EMAIL_AFTER + 5)
    assert len(mails) == 2 and "recours" in str(mails[1].message["Subject"])


async def test_no_address_no_email(
    server: ServerThread, http: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    published = (await publish(http, critical_alert("bob", TENANT, "Délai OQTF"))).json()
    log = await delivery_log(http, published["id"])
    assert [(d["status"], d["detail"]) for d in log] == [("cancelled", "no e-mail address")]
    assert smtp.messages == []


async def test_one_click_unsubscribe_turns_that_events_email_off(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    secret = mail_secret(settings)
    assert secret is not None
    await profile(http, "alice", "alice@firm-a.fr")  # she was e-mailed: she has an address
    link = unsubscribe_token(secret, TENANT, "alice", "email-received")
    user = {"Authorization": f"Bearer {token('alice', TENANT)}"}
    # Following the link shows a button; it changes nothing by itself.
    page = await http.get("/api/v1/mail/unsubscribe", params={"token": link})
    assert page.status_code == 200 and "<form" in page.text
    before = (await http.get("/api/v1/preferences", headers=user)).json()
    assert before["events"]["email-received"]["email"] is False  # the default
    await http.put(
        "/api/v1/preferences", json={"events": {"email-received": {"email": True}}}, headers=user
    )
    done = await http.post(
        "/api/v1/mail/unsubscribe",
        params={"token": link},
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and done.json()["email"] is False
    after = (await http.get("/api/v1/preferences", headers=user)).json()
    assert after["events"]["email-received"]["email"] is False
    forged = await http.post("/api/v1/mail/unsubscribe", params={"token": link[:-2] + "AA"})
    assert forged.status_code == 400 and forged.json()["field"] == "token"
    # A link of a user who is gone (erased since) writes nothing back for them.
    gone = unsubscribe_token(secret, TENANT, "erased-since", "email-received")
    answer = await http.post("/api/v1/mail/unsubscribe", params={"token": gone})
    assert answer.status_code == 200
    store = SqlStore(settings.database_url)
    await store.open(migrate=False)
    try:
        assert await store.get_preferences(TENANT, "erased-since") is None
    finally:
        await store.close()
