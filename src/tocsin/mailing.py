"""Escalation to e-mail (DESIGN §8): a critical notification still unread
``TOCSIN_EMAIL_AFTER`` seconds after it was accepted is e-mailed to its user, once; and the
one-click unsubscribe (RFC 8058) that turns an event's e-mail off.

The e-mail job is planned with the push jobs (:mod:`tocsin.escalation`'s planner) and runs
in the same durable queue. Sending is at least once: a node that dies between the SMTP
server's acceptance and marking the job done leaves the job to another node after its
lease, which sends it again with the same ``Message-ID`` (derived from the job's key), so
that mail systems can tell it is the same message.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from tocsin.config import ConfigError, Settings
from tocsin.jobrunner import MAX_ATTEMPTS, Handler, Reschedule, retry_delay
from tocsin.mail import (
    MailContext,
    MailOutcome,
    MailStatus,
    RenderedMail,
    build_message,
    read_unsubscribe_token,
    render_notification,
    send_mail,
    unsubscribe_token,
    unsubscribe_url,
)
from tocsin.models import Identity, StoredNotification
from tocsin.serverkeys import server_key
from tocsin.service import NotificationService
from tocsin.store.base import Delivery, NewJob, UserProfile, identity_hash

log = logging.getLogger("tocsin.mailing")

EMAIL_JOB = "email"
RULE_UNREAD = "unread"


def mail_secret(settings: Settings) -> str | None:
    """What signs unsubscribe links: ``TOCSIN_MAIL_SECRET``, else a key derived from the
    server's other secrets (so a link keeps working across restarts), else None."""
    if settings.mail_secret:
        return settings.mail_secret
    key = server_key(settings, "unsubscribe")
    return key.hex() if key is not None else None


class Mailing:
    """Plans and runs the e-mail jobs of one node."""

    def __init__(self, service: NotificationService) -> None:
        self.service = service
        self.settings = service.settings
        self.store = service.store

    @property
    def enabled(self) -> bool:
        """Whether this server sends e-mail at all (``TOCSIN_SMTP_URL`` and a sender)."""
        return bool(self.settings.smtp_url and self.settings.mail_from)

    def handlers(self) -> dict[str, Handler]:
        """The job kinds run here."""
        return {EMAIL_JOB: self.run_email}

    def jobs_for(
        self, note: StoredNotification, identity: Identity, after: float | None = None
    ) -> list[NewJob]:
        """The e-mail jobs a notification owes one recipient: critical ones, if unread
        ``after`` seconds (default ``TOCSIN_EMAIL_AFTER``)."""
        if not self.enabled or not note.critical:
            return []
        accepted = note.accepted_at or datetime.now(UTC)
        delay = self.settings.email_after if after is None else after
        return [
            NewJob(
                key=f"{EMAIL_JOB}:{note.cursor}:{identity_hash(identity)}:{RULE_UNREAD}",
                kind=EMAIL_JOB,
                run_at=accepted + timedelta(seconds=delay),
                payload={"cursor": note.cursor, "rule": RULE_UNREAD},
                tenant_id=identity.tenant_id,
                user_id=identity.user_id,
            )
        ]

    async def run_email(self, job: Any) -> None:
        """Send the e-mail unless the item was read, archived or acted on meanwhile."""
        identity = Identity(str(job.tenant_id), str(job.user_id))
        cursor = int(job.payload["cursor"])
        item = await self.store.item(identity, cursor)
        if item is None:
            # Gone (cleared, purged, or its user erased): nothing to send, nor to log.
            return
        if item.read or item.archived or item.action is not None:
            await self._log(cursor, identity, "cancelled", "read before the e-mail delay")
            return
        profile = await self.store.get_profile(identity.tenant_id, identity.user_id)
        if profile is None or not profile.email:
            await self._log(cursor, identity, "cancelled", "no e-mail address")
            return
        note = item.notification
        context = await self.context_for(profile)
        # A critical item cannot be muted: its e-mail offers no way to turn e-mail off.
        link = None if note.critical else self.unsubscribe_link(identity, note.event)
        content = render_notification(note, context, unsubscribe_url=link)
        outcome = await self.send(content, profile.email, link, job.key)
        if outcome.status is MailStatus.SENT:
            await self._log(cursor, identity, "sent", None)
        elif outcome.status is MailStatus.REJECTED or job.attempts >= MAX_ATTEMPTS:
            await self._log(cursor, identity, "failed", outcome.reason[:500])
        else:
            wait = retry_delay(job.attempts)
            await self._log(
                cursor, identity, "deferred", f"retry in {wait:g} s: {outcome.reason[:200]}"
            )
            raise Reschedule(datetime.now(UTC) + timedelta(seconds=wait), outcome.reason)

    async def context_for(self, profile: UserProfile) -> MailContext:
        """Who an e-mail to ``profile`` is from (the firm's name, else its id) and in which
        language and time zone it is written."""
        firm = await self.store.get_tenant_settings(profile.tenant_id)
        return MailContext(
            firm=firm.name or profile.tenant_id,
            app_url=self.settings.app_url or self.settings.public_url or "http://localhost/",
            locale=profile.locale or self.settings.locale,
            timezone=profile.timezone or self.settings.timezone,
        )

    def unsubscribe_link(self, identity: Identity, event: str) -> str | None:
        """The one-click link that turns ``event``'s e-mail (or ``"digest"``) off, if this
        server can sign one and knows its public URL."""
        public, secret = self.settings.public_url, mail_secret(self.settings)
        if not public or not secret:
            return None
        return unsubscribe_url(
            public, unsubscribe_token(secret, identity.tenant_id, identity.user_id, event)
        )

    async def send(
        self, content: RenderedMail, to: str, unsubscribe: str | None, key: str
    ) -> MailOutcome:
        """Send one e-mail; its ``Message-ID`` derives from ``key`` (the job's), so that a
        second attempt after a node died is recognisably the same message."""
        if self.settings.mail_from is None:
            raise ConfigError("TOCSIN_MAIL_FROM: set it to send e-mail")
        message = build_message(
            content,
            mail_from=self.settings.mail_from,
            to=to,
            unsubscribe_url=unsubscribe,
            message_key=key,
        )
        return await send_mail(self.settings, message)

    async def unsubscribe(self, token: str) -> tuple[str, str, str]:
        """Turn the e-mail of the token's event off in its user's preferences.

        Raises:
            InvalidUnsubscribeToken: a token this server did not sign.
        """
        secret = mail_secret(self.settings)
        if secret is None:
            from tocsin.mail import InvalidUnsubscribeToken

            raise InvalidUnsubscribeToken("this server signs no unsubscribe links")
        tenant, user, event = read_unsubscribe_token(secret, token)
        if await self.store.get_profile(tenant, user) is None:
            # Erased since (or never e-mailed): nothing to turn off, and no row to write
            # back for a user who is gone.
            return tenant, user, event
        patch: dict[str, Any] = (
            {"digest": {"email": "off"}}
            if event == "digest"
            else {"events": {event: {"email": False}}}
        )
        await self.service.set_preferences(Identity(tenant, user), patch)
        return tenant, user, event

    async def _log(self, cursor: int, identity: Identity, status: str, detail: str | None) -> None:
        await self.store.add_deliveries(
            [
                Delivery(
                    cursor,
                    identity.tenant_id,
                    identity.user_id,
                    "email",
                    status,
                    detail,
                    datetime.now(UTC),
                )
            ]
        )
