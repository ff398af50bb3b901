"""Fill the demo firm's inbox, then keep publishing — always through the service layer."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tocsin.auth.apikeys import Publisher
from tocsin.deadlines.service import DeadlineService
from tocsin.demo.data import (
    DEADLINES,
    TENANT_ID,
    TENANT_NAME,
    USERS,
    Stream,
    deadline_body,
    history,
)
from tocsin.models import Identity
from tocsin.service import NotificationService
from tocsin.store.base import TenantSettings, UserProfile

log = logging.getLogger("tocsin.demo")

DEMO = Publisher(tenant_id=None, key_id="demo")


def today_in(zone: str) -> date:
    """Today's date where the firm is (deadlines count calendar days there)."""
    return datetime.now(ZoneInfo(zone)).date()


async def seed_firm(service: NotificationService, deadlines: DeadlineService, zone: str) -> None:
    """Publish the firm's recent history and register its deadlines (once per database)."""
    if await service.max_cursor() > 0:
        log.info("demo database already seeded")
        return
    # The firm's name and its people's addresses, for its e-mails (DESIGN §8).
    await service.store.put_tenant_settings(TenantSettings(TENANT_ID, name=TENANT_NAME))
    for user in USERS:
        await service.store.put_profile(UserProfile(TENANT_ID, user.id, user.email, "fr", zone))
    published = [await service.publish(note, DEMO) for note in history(datetime.now(UTC))]
    # Camille has already read her oldest e-mail.
    await service.mark_read(Identity(TENANT_ID, "camille"), [published[3].id])
    today = today_in(zone)
    for deadline_id, number, kind, days in DEADLINES:
        body = deadline_body(number, kind, today + timedelta(days=days))
        await deadlines.put(deadline_id, body, DEMO)


async def run_stream(
    service: NotificationService,
    deadlines: DeadlineService,
    zone: str,
    interval: float,
    seed: int | None = None,
) -> None:
    """Publish a notification about every ``interval`` seconds until cancelled."""
    stream = Stream(lambda: today_in(zone), seed)
    while True:
        # Pacing, not synchronisation: a person watching needs time between notifications.
        await asyncio.sleep(interval * stream.random.uniform(0.6, 1.4))
        kind, payload = stream.next()
        try:
            if kind == "deadline":
                deadline_id, body = payload
                await deadlines.put(deadline_id, body, DEMO)
            else:
                await service.publish(payload, DEMO)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("demo publish failed")
