"""From a parsed message and its routes to ``email-received`` notifications, through the service.

Each notification's once-key (and its ``sourceId``) is derived from the Message-ID (else
from the bytes) and the user, so a message seen twice — a watcher restarted before it saved
its position, a mailbox whose UIDVALIDITY changed, a webhook retried, the same mail through
IMAP and the webhook — is stored once: publishing a once-key the tenant already has creates
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from tocsin import metrics
from tocsin.auth.apikeys import Publisher
from tocsin.errors import TocsinError
from tocsin.ingest.config import Route
from tocsin.ingest.parse import ParsedMail
from tocsin.models import EMAIL_RECEIVED
from tocsin.service import NotificationService, Published

NO_SUBJECT = {"fr": "(sans objet)", "en": "(no subject)"}


class Outcome(StrEnum):
    """What became of one message (the ``outcome`` label of ``tocsin_ingest_messages_total``)."""

    PUBLISHED = "published"
    # Published from its first bytes only: the message is over the size cap.
    OVERSIZE = "oversize"
    DUPLICATE = "duplicate"
    MALFORMED = "malformed"
    UNROUTED = "unrouted"
    REJECTED = "rejected"
    # Reading it failed again and again, or making it a notification raised (the watcher
    # moved past it; see tocsin_job_item_failures_total{job="imap"}).
    FAILED = "failed"


def count(source: str, outcome: Outcome) -> None:
    """Count one message of ``source`` (a mailbox name, or ``webhook``)."""
    metrics.INGEST_MESSAGES.labels(source, outcome.value).inc()


def notification_id(mail: ParsedMail, route: Route) -> str:
    """A stable id for this message and this user: its ``sourceId`` and once-key."""
    basis = f"message-id:{mail.message_id}" if mail.message_id else f"bytes:{mail.fingerprint}"
    digest = hashlib.sha256(f"{basis}\n{route.tenantId}\n{route.userId}".encode()).hexdigest()
    return f"mail-{digest[:40]}"


def notification(mail: ParsedMail, route: Route, locale: str = "fr") -> dict[str, Any]:
    """The ``email-received`` object to publish for ``route``."""
    body: dict[str, Any] = {
        "event": EMAIL_RECEIVED,
        "id": notification_id(mail, route),
        "subject": mail.subject or NO_SUBJECT.get(locale, NO_SUBJECT["en"]),
        "from": mail.sender,
        "userId": route.userId,
        "tenantId": route.tenantId,
    }
    if mail.dossier_number:
        body["dossierNumber"] = mail.dossier_number
    if mail.date is not None:
        body["timestamp"] = mail.date
    return body


async def publish_mail(
    service: NotificationService, mail: ParsedMail, routes: Sequence[Route], publisher: Publisher
) -> list[Published | TocsinError]:
    """Publish one notification per route, in one transaction; each stands or falls alone."""
    locale = service.settings.locale
    return await service.publish_many(
        [notification(mail, r, locale) for r in routes],
        publisher,
        once_keys=[notification_id(mail, r) for r in routes],
    )


def outcome_of(mail: ParsedMail, results: Sequence[Published | TocsinError]) -> Outcome:
    """Summarise the results of :func:`publish_mail` for the metrics."""
    published = [r for r in results if isinstance(r, Published)]
    if not published:
        return Outcome.REJECTED
    if not any(r.created for r in published):
        return Outcome.DUPLICATE
    return Outcome.OVERSIZE if mail.truncated else Outcome.PUBLISHED
