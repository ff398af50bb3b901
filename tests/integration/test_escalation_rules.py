"""Issue 18, Must show: quiet hours defer a non-critical push to their end and let a critical
one through (DESIGN §7, §8); and the escalation delays are configurable per tenant.

The escalation runs on the test's clock (``Escalation(clock=…)``, ``JobRunner.run_due``), at
23:30 in Paris with quiet hours 22:00 to 07:00; pushes go to the local push service, which
verifies VAPID and decrypts them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import make_settings
from tests.helpers import critical_alert, email
from tests.pushservice import PushService
from tests.smtpserver import SmtpServer
from tocsin.app import create_service
from tocsin.auth.apikeys import Publisher
from tocsin.escalation import PUSH_JOB, Escalation
from tocsin.jobrunner import JobRunner
from tocsin.mailing import Mailing
from tocsin.models import Identity
from tocsin.push.vapid import generate
from tocsin.service import NotificationService
from tocsin.store.base import TenantSettings

TENANT = "firm-a"
ALICE = Identity(TENANT, "alice")
ADMIN = Publisher(tenant_id=None, key_id="admin")
KEYS = generate()
# 23:30 in Paris (UTC+1 in January); the quiet hours end at 07:00 Paris, 06:00 UTC.
LATE_EVENING = datetime(2027, 1, 14, 22, 30, tzinfo=UTC)
QUIET_END = datetime(2027, 1, 15, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture
async def service(sqlite_url: str) -> AsyncIterator[NotificationService]:
    settings = make_settings(
        sqlite_url,
        vapid_private_key=KEYS.private_key,
        vapid_subject="mailto:ops@firm-a.fr",
        push_services=["http://127.0.0.1:*"],
        push_after=60,
    )
    service = create_service(settings)
    await service.store.open(migrate=True)
    try:
        yield service
    finally:
        await service.store.close()


async def test_quiet_hours_defer_a_push_to_their_end_but_not_a_critical_one(
    service: NotificationService, push_service: PushService
) -> None:
    clock = Clock(LATE_EVENING)
    escalation = Escalation(service, clock=clock.now)
    runner = JobRunner(
        service.store, escalation.handlers(), poll_interval=1.0, lease=30.0, only_kinds=True
    )
    try:
        subscription = push_service.subscribe(application_server_key=KEYS.public_key)
        await service.subscribe_push(ALICE, subscription.to_json())
        await service.set_preferences(
            ALICE, {"quietHours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"}}
        )
        await escalation.plan()  # the planner's first run starts after what exists
        ordinary = await service.publish(email("alice", TENANT, "Nouveau courrier"), ADMIN)
        critical = await service.publish(critical_alert("alice", TENANT), ADMIN)
        assert await escalation.plan() == 2

        # 23:30: the critical alert goes through (push job, then the send to the device).
        await runner.run_due(clock.moment)
        await runner.run_due(clock.moment)
        [pushed] = await asyncio.to_thread(push_service.wait_for_pushes, 1)
        assert pushed.payload["id"] == critical.id and pushed.urgency == "high"

        # The other waits for the end of the quiet hours, and says so in the log.
        [job] = [
            j
            for j in await service.store.list_jobs(kind=PUSH_JOB)
            if j.payload["cursor"] == ordinary.cursor
        ]
        assert (job.status, job.run_at) == ("pending", QUIET_END)
        [logged] = await service.store.deliveries(ordinary.cursor, 10)
        assert (logged.status, logged.detail) == (
            "deferred",
            f"quiet hours until {QUIET_END.isoformat()}",
        )

        clock.moment = QUIET_END - timedelta(seconds=1)
        assert await runner.run_due(clock.moment) == 0
        clock.moment = QUIET_END
        await runner.run_due(clock.moment)
        await runner.run_due(clock.moment)
        [_, later] = await asyncio.to_thread(push_service.wait_for_pushes, 2)
        assert later.payload["id"] == ordinary.id and later.urgency == "normal"
        assert len(push_service.pushes) == 2
    finally:
        await escalation.close()


async def test_a_firms_own_delays_replace_the_servers(sqlite_url: str, smtp: SmtpServer) -> None:
    # The server's defaults: 60 s before a push, 1800 s before an e-mail; firm-a sets its own.
    service = create_service(
        make_settings(
            sqlite_url,
            vapid_private_key=KEYS.private_key,
            vapid_subject="mailto:ops@firm-a.fr",
            push_after=60,
            email_after=1800,
            smtp_url=smtp.url,
            mail_from="notifications@firm-a.fr",
        )
    )
    await service.store.open(migrate=True)
    escalation = Escalation(service, Mailing(service))
    try:
        await service.store.put_tenant_settings(TenantSettings(TENANT, push_after=5, email_after=7))
        await escalation.plan()
        published = [
            await service.publish(body, ADMIN)
            for body in (
                email("alice", TENANT),
                critical_alert("alice", TENANT),
                email("bob", "firm-b"),
                critical_alert("bob", "firm-b"),
            )
        ]
        assert await escalation.plan() == 4
        accepted = []
        for p, tenant in zip(published, (TENANT, TENANT, "firm-b", "firm-b"), strict=True):
            stored = await service.store.notification_by_id(p.id, tenant)
            assert stored is not None and stored.accepted_at is not None
            accepted.append((p.cursor, stored.accepted_at))
        due = {
            (job.kind, job.payload["cursor"]): job.run_at
            for job in await service.store.list_jobs(status="pending")
        }
        (ordinary, at0), (critical, at1), (other, at2), (other_critical, at3) = accepted
        assert due == {
            (PUSH_JOB, ordinary): at0 + timedelta(seconds=5),
            (PUSH_JOB, critical): at1,
            ("email", critical): at1 + timedelta(seconds=7),
            (PUSH_JOB, other): at2 + timedelta(seconds=60),
            (PUSH_JOB, other_critical): at3,
            ("email", other_critical): at3 + timedelta(seconds=1800),
        }
    finally:
        await escalation.close()
        await service.store.close()


async def test_a_job_running_after_its_users_erasure_writes_nothing_back(
    service: NotificationService,
) -> None:
    """A push job claimed just before the user was erased (erasure deletes pending jobs, not
    one a node already runs) must not log a line with the erased user's id."""
    escalation = Escalation(service, Mailing(service))
    try:
        await escalation.plan()
        published = await service.publish(email("alice", TENANT), ADMIN)
        await escalation.plan()
        [job] = await service.store.list_jobs(kind=PUSH_JOB)
        await service.erase_user(ADMIN, TENANT, "alice")
        await escalation.run_push(job)
        await escalation.mailing.run_email(job)  # type: ignore[union-attr]
        assert await service.store.deliveries(published.cursor, 10) == []
    finally:
        await escalation.close()
