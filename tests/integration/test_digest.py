"""Issue 18, Must show: the daily digest (DESIGN §8) — one e-mail per user per day at their
hour in their zone (a DST day included), none when nothing is unread, one-click
unsubscribe from it; and ``tocsin digest run --now``.

Time is the test's: the digests run on a clock the test moves (``Digests(clock=…)`` and
``JobRunner.run_due(now)``), against a real store (SQLite and PostgreSQL) and a real SMTP
server (aiosmtpd) that counts what arrives.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import make_settings
from tests.helpers import ServerThread, critical_alert, email
from tests.smtpserver import ReceivedMail, SmtpServer
from tocsin.app import create_service
from tocsin.auth.apikeys import Publisher
from tocsin.config import Settings
from tocsin.digest import DIGEST_JOB, PLAN_JOB, Digests, digest_job_key, next_digest
from tocsin.jobrunner import JobRunner
from tocsin.mailing import Mailing
from tocsin.models import Identity
from tocsin.preferences import Digest
from tocsin.service import NotificationService
from tocsin.store.base import JobRecord, TenantSettings

TENANT = "firm-a"
FIRM = "Cabinet Durand"
ADMIN = Publisher(tenant_id=None, key_id="admin")
PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"


@dataclass
class Clock:
    """The digests' time, moved by the test."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


@dataclass
class Rig:
    """A service, its digests on the test's clock, a runner of digest jobs, the SMTP server."""

    service: NotificationService
    digests: Digests
    runner: JobRunner
    clock: Clock
    smtp: SmtpServer
    settings: Settings
    published: dict[str, list[str]] = field(default_factory=dict)

    async def run_at(self, moment: datetime) -> int:
        """Move the clock to ``moment`` and run the digest jobs due then."""
        self.clock.moment = moment
        return await self.runner.run_due(moment)

    async def user(self, user: str, zone: str, at: str | None) -> Identity:
        """A user with an address, a zone, and a daily digest at ``at`` (None: none)."""
        identity = Identity(TENANT, user)
        await self.service.put_profile(
            ADMIN, TENANT, user, {"email": f"{user}@durand.fr", "locale": "fr", "timezone": zone}
        )
        if at is not None:
            await self.service.set_preferences(identity, {"digest": {"email": "daily", "at": at}})
        return identity

    async def publish(self, body: dict[str, Any]) -> str:
        published = await self.service.publish(body, ADMIN)
        self.published.setdefault(str(body["userId"]), []).append(published.id)
        return published.id

    async def digest_jobs(self) -> dict[str, JobRecord]:
        jobs = await self.service.store.list_jobs(kind=DIGEST_JOB, limit=1000)
        return {job.key: job for job in jobs}

    def mails_to(self, user: str) -> list[ReceivedMail]:
        return [m for m in self.smtp.messages if m.rcpt_tos == (f"{user}@durand.fr",)]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def digest_settings(database_url: str, smtp: SmtpServer) -> Settings:
    return make_settings(
        database_url,
        smtp_url=smtp.url,
        mail_from="Cabinet Durand <notifications@durand.fr>",
        public_url="https://notify.durand.fr",
    )


async def open_rig(database_url: str, smtp: SmtpServer, start: datetime) -> Rig:
    settings = digest_settings(database_url, smtp)
    service = create_service(settings)
    await service.store.open(migrate=True)
    await service.store.put_tenant_settings(TenantSettings(TENANT, name=FIRM))
    clock = Clock(start)
    digests = Digests(service, Mailing(service), clock=clock.now)
    service.recipient_hooks.append(digests.on_recipient_changed)
    runner = JobRunner(
        service.store, digests.handlers(), poll_interval=1.0, lease=30.0, only_kinds=True
    )
    return Rig(service, digests, runner, clock, smtp, settings)


@pytest.fixture
async def rig(store_url: str, smtp: SmtpServer) -> AsyncIterator[Rig]:
    rig = await open_rig(store_url, smtp, datetime(2027, 1, 14, tzinfo=UTC))
    try:
        yield rig
    finally:
        await rig.service.store.close()


@pytest.fixture
async def sqlite_rig(sqlite_url: str, smtp: SmtpServer) -> AsyncIterator[Rig]:
    rig = await open_rig(sqlite_url, smtp, datetime(2027, 1, 14, tzinfo=UTC))
    try:
        yield rig
    finally:
        await rig.service.store.close()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_one_digest_per_user_per_day_at_their_hour_in_their_zone(rig: Rig) -> None:
    alice = await rig.user("alice", PARIS, "08:00")
    bob = await rig.user("bob", NEW_YORK, "18:30")
    await rig.user("carol", PARIS, None)  # no digest: the default is off
    await rig.publish(email("alice", TENANT, "Conclusions adverses"))
    await rig.publish(email("alice", TENANT, "Ordonnance du juge"))
    await rig.publish(critical_alert("alice", TENANT))
    await rig.publish(email("bob", TENANT, "Relance du client"))
    await rig.publish(email("carol", TENANT, "Pour carol"))

    jobs = await rig.digest_jobs()
    # 08:00 in Paris is 07:00 UTC in January; 18:30 in New York is 23:30 UTC.
    assert {k: j.run_at for k, j in jobs.items()} == {
        digest_job_key(alice, date(2027, 1, 14)): utc("2027-01-14T07:00"),
        digest_job_key(bob, date(2027, 1, 14)): utc("2027-01-14T23:30"),
    }

    assert await rig.run_at(utc("2027-01-14T06:59:59")) == 0
    assert rig.smtp.messages == []
    assert await rig.run_at(utc("2027-01-14T07:00")) == 1
    [first] = await rig.smtp.arrived(1)
    assert first.rcpt_tos == ("alice@durand.fr",)
    assert first.message["Subject"] == (
        "⚠️ Cabinet Durand : 3 notifications non lues, dont 1 critique"
    )
    text = first.body("plain")
    assert "jeudi 14 janvier 2027" in text
    # Deadlines first, then the e-mails.
    assert text.index("Délai OQTF") < text.index("Conclusions adverses")
    assert "Ordonnance du juge" in text and "Pour carol" not in text
    assert first.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Again at the same time, and later that day: nothing more for alice.
    assert await rig.run_at(utc("2027-01-14T07:00")) == 0
    assert await rig.run_at(utc("2027-01-14T23:30")) == 1
    [_, second] = await rig.smtp.arrived(2)
    assert second.rcpt_tos == ("bob@durand.fr",)
    assert "Relance du client" in second.body("plain")

    # The next day: only what arrived since alice's digest; bob has nothing new.
    await rig.publish(email("alice", TENANT, "Pièces communiquées"))
    jobs = await rig.digest_jobs()
    assert jobs[digest_job_key(alice, date(2027, 1, 15))].run_at == utc("2027-01-15T07:00")
    assert jobs[digest_job_key(bob, date(2027, 1, 15))].run_at == utc("2027-01-15T23:30")
    assert await rig.run_at(utc("2027-01-15T23:30")) == 2
    [_, _, third] = await rig.smtp.arrived(3)
    assert third.rcpt_tos == ("alice@durand.fr",)
    assert third.message["Subject"] == "Cabinet Durand : 1 notification non lue"
    assert "Pièces communiquées" in third.body("plain")
    assert "Conclusions adverses" not in third.body("plain")
    assert rig.digests.outcomes == {"sent": 3, "nothing unread": 1}
    assert [len(rig.mails_to(u)) for u in ("alice", "bob", "carol")] == [2, 1, 0]
    # Each digest's Message-ID is its job's: a resend after a crash is the same message.
    assert len({m.message["Message-ID"] for m in rig.smtp.messages}) == 3

    # The delivery log of a notification in a digest says so.
    alice_first = await rig.service.store.notification_by_id(rig.published["alice"][0], TENANT)
    assert alice_first is not None
    [logged] = await rig.service.store.deliveries(alice_first.cursor, 10)
    assert (logged.channel, logged.status, logged.detail) == (
        "digest",
        "sent",
        "digest of 2027-01-14",
    )


async def test_nothing_unread_sends_nothing_and_the_next_day_is_planned(sqlite_rig: Rig) -> None:
    rig = sqlite_rig
    alice = await rig.user("alice", PARIS, "08:00")
    read = await rig.publish(email("alice", TENANT, "Déjà lu"))
    archived = await rig.publish(email("alice", TENANT, "Archivé"))
    snoozed = await rig.publish(email("alice", TENANT, "Reporté"))
    await rig.service.mark_read(alice, [read])
    await rig.service.archive(alice, [archived])
    await rig.service.snooze(alice, [snoozed], (datetime.now(UTC) + timedelta(days=30)).isoformat())

    assert await rig.run_at(utc("2027-01-14T07:00")) == 1
    assert rig.digests.outcomes == {"nothing unread": 1}
    assert rig.smtp.messages == []
    jobs = await rig.digest_jobs()
    assert jobs[digest_job_key(alice, date(2027, 1, 14))].status == "done"
    assert jobs[digest_job_key(alice, date(2027, 1, 15))].status == "pending"


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        # Paris leaves CET (UTC+1) for CEST (UTC+2) on 28 March 2027, back on 31 October.
        (date(2027, 3, 27), "08:00", "2027-03-27T07:00"),
        (date(2027, 3, 28), "08:00", "2027-03-28T06:00"),
        # 02:30 does not exist on the spring day: the digest goes at the jump (03:00 CEST).
        (date(2027, 3, 28), "02:30", "2027-03-28T01:00"),
        (date(2027, 10, 30), "08:00", "2027-10-30T06:00"),
        (date(2027, 10, 31), "08:00", "2027-10-31T07:00"),
        # 02:30 happens twice on the autumn day: the first one.
        (date(2027, 10, 31), "02:30", "2027-10-31T00:30"),
    ],
)
def test_the_digest_hour_is_wall_clock_time_across_dst(day: date, at: str, expected: str) -> None:
    digest = Digest(email="daily", at=at, timezone=PARIS)
    the_day_before = datetime.combine(day, datetime.min.time(), ZoneInfo(PARIS)) - timedelta(
        minutes=1
    )
    assert next_digest(digest, the_day_before.astimezone(UTC)) == (day, utc(expected))


async def test_the_dst_day_digest_goes_at_eight_local_and_only_once(sqlite_rig: Rig) -> None:
    rig = sqlite_rig
    rig.clock.moment = utc("2027-03-27T00:00")
    alice = await rig.user("alice", PARIS, "08:00")
    await rig.publish(email("alice", TENANT, "Samedi"))
    assert await rig.run_at(utc("2027-03-27T07:00")) == 1
    await rig.publish(email("alice", TENANT, "Dimanche"))
    jobs = await rig.digest_jobs()
    sunday = jobs[digest_job_key(alice, date(2027, 3, 28))]
    assert sunday.run_at == utc("2027-03-28T06:00")  # 08:00 CEST
    # An hour earlier than the day before in UTC: not yet at 05:59 UTC.
    assert await rig.run_at(utc("2027-03-28T05:59")) == 0
    assert await rig.run_at(utc("2027-03-28T06:00")) == 1
    assert await rig.run_at(utc("2027-03-28T07:00")) == 0
    saturday, dst_day = await rig.smtp.arrived(2)
    assert "samedi 27 mars 2027" in saturday.body("plain")
    assert "dimanche 28 mars 2027" in dst_day.body("plain")
    assert "Dimanche" in dst_day.body("plain") and "Samedi" not in dst_day.body("plain")
    assert len(rig.smtp.messages) == 2


async def test_changing_the_hour_moves_the_planned_digest(sqlite_rig: Rig) -> None:
    rig = sqlite_rig
    alice = await rig.user("alice", PARIS, "08:00")
    key = digest_job_key(alice, date(2027, 1, 14))
    assert (await rig.digest_jobs())[key].run_at == utc("2027-01-14T07:00")
    await rig.service.set_preferences(alice, {"digest": {"at": "06:30"}})
    assert (await rig.digest_jobs())[key].run_at == utc("2027-01-14T05:30")
    await rig.publish(email("alice", TENANT))
    assert await rig.run_at(utc("2027-01-14T05:30")) == 1
    assert len(await rig.smtp.arrived(1)) == 1
    # Later the same day, a later hour: no second digest that day.
    await rig.service.set_preferences(alice, {"digest": {"at": "20:00"}})
    await rig.publish(email("alice", TENANT, "Après"))
    assert await rig.run_at(utc("2027-01-14T19:00")) == 0
    # The next day's, planned at 06:30 by the first digest, waits for 20:00.
    assert await rig.run_at(utc("2027-01-15T05:30")) == 1
    assert len(rig.smtp.messages) == 1
    assert await rig.run_at(utc("2027-01-15T19:00")) == 1
    [_, later] = await rig.smtp.arrived(2)
    assert "Après" in later.body("plain")


async def test_two_runners_send_each_digest_once(rig: Rig) -> None:
    users = [f"lawyer-{i}" for i in range(12)]
    for user in users:
        await rig.user(user, PARIS, "08:00")
        await rig.publish(email(user, TENANT))
    other = JobRunner(
        rig.service.store, rig.digests.handlers(), poll_interval=1.0, lease=30.0, only_kinds=True
    )
    moment = utc("2027-01-14T07:00")
    rig.clock.moment = moment
    ran = await asyncio.gather(rig.runner.run_due(moment), other.run_due(moment))
    assert sum(ran) == len(users)
    mails = await rig.smtp.arrived(len(users))
    assert sorted(m.rcpt_tos[0] for m in mails) == sorted(f"{u}@durand.fr" for u in users)
    assert len(rig.smtp.messages) == len(users)


async def test_one_click_unsubscribe_from_the_digest_turns_it_off(
    sqlite_rig: Rig, sqlite_url: str, smtp: SmtpServer
) -> None:
    rig = sqlite_rig
    alice = await rig.user("alice", PARIS, "08:00")
    await rig.publish(email("alice", TENANT))
    assert await rig.run_at(utc("2027-01-14T07:00")) == 1
    [mail] = await rig.smtp.arrived(1)
    link = mail.message["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://notify.durand.fr/")
    node = ServerThread(digest_settings(sqlite_url, smtp))
    node.start()
    try:
        target = urlsplit(link)
        async with httpx.AsyncClient(base_url=node.url) as http:
            # RFC 8058: the mail client POSTs this body to the link, with no cookie.
            answer = await http.post(
                f"{target.path}?{target.query}",
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert answer.status_code == 200, answer.text
    finally:
        node.stop()
    assert (await rig.service.effective_preferences(alice)).digest.email == "off"
    await rig.publish(email("alice", TENANT, "Le lendemain"))
    # (The node planned on its own clock too: every digest job due by then finds it off.)
    assert await rig.run_at(utc("2027-01-15T07:00")) >= 1
    assert rig.digests.outcomes["sent"] == 1 and rig.digests.outcomes["off"] >= 1
    assert len(rig.smtp.messages) == 1


async def test_the_cli_sends_the_digests_due_at_now(sqlite_rig: Rig) -> None:
    rig = sqlite_rig
    await rig.user("alice", PARIS, "08:00")
    await rig.user("bob", NEW_YORK, "08:00")
    await rig.publish(email("alice", TENANT))
    await rig.publish(email("bob", TENANT))
    env = {
        **os.environ,
        "TOCSIN_SMTP_URL": rig.smtp.url,
        "TOCSIN_MAIL_FROM": "notifications@durand.fr",
    }

    def digest_run(now: str) -> dict[str, int]:
        result = subprocess.run(
            [sys.executable, "-m", "tocsin", "digest", "run", "--now", now,
             "--database-url", rig.settings.database_url],
            capture_output=True, text=True, timeout=60, env=env, check=True,
        )  # fmt: skip
        report: dict[str, int] = json.loads(result.stdout)
        return report

    # 08:00 in Paris is 02:00 in New York: alice's digest only.
    report = await asyncio.to_thread(digest_run, "2027-01-14T08:00+01:00")
    assert report["sent"] == 1
    [mail] = await rig.smtp.arrived(1)
    assert mail.rcpt_tos == ("alice@durand.fr",)
    again = await asyncio.to_thread(digest_run, "2027-01-14T08:00+01:00")
    assert again["run"] == 0 and "sent" not in again
    later = await asyncio.to_thread(digest_run, "2027-01-14T08:00-05:00")
    assert later.get("sent") == 1, later
    [_, bobs] = await rig.smtp.arrived(2)
    assert bobs.rcpt_tos == ("bob@durand.fr",)
    assert len(rig.smtp.messages) == 2


async def test_a_firms_default_digest_is_planned_by_a_job_not_in_the_request(
    sqlite_rig: Rig,
) -> None:
    rig = sqlite_rig
    users = [await rig.user(f"lawyer-{i}", PARIS, None) for i in range(3)]
    assert await rig.digest_jobs() == {}
    await rig.service.set_tenant_preferences(ADMIN, TENANT, {"digest": {"email": "daily"}})
    # The request only wrote the planning job.
    [plan] = await rig.service.store.list_jobs(kind=PLAN_JOB)
    assert plan.status == "pending" and await rig.digest_jobs() == {}
    assert await rig.run_at(rig.clock.moment) == 1
    jobs = await rig.digest_jobs()
    assert set(jobs) == {digest_job_key(u, date(2027, 1, 14)) for u in users}
    assert {j.run_at for j in jobs.values()} == {utc("2027-01-14T07:00")}
    # The hourly planning is one job an hour across nodes, and plans nothing twice.
    await rig.digests.plan_hourly()
    await rig.digests.plan_hourly()
    assert len(await rig.service.store.list_jobs(kind=PLAN_JOB)) == 2
    assert await rig.run_at(rig.clock.moment) == 1
    assert len(await rig.digest_jobs()) == 3
