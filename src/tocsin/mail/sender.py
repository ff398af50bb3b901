"""Hand one message to the SMTP server of ``TOCSIN_SMTP_URL`` and say what became of it.

Outcomes::

    sent      the server accepted the message (its answer is the reason)
    retry     try again later: no connection, a timeout, a TLS failure, a 4xx answer, or a
              refusal that is the server's or the settings' fault, not the message's (at the
              greeting, EHLO, STARTTLS or AUTH; 530 "log in / STARTTLS first")
    rejected  permanent: a 5xx answer to the sender, a recipient or the content (an unknown
              mailbox, a message too large); sending it again would fail again
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol

import aiosmtplib

from tocsin.mail.smtpurl import SmtpTarget, parse_smtp_url

TIMEOUT = 30.0


class MailNotConfigured(Exception):
    """No SMTP server is set: ``TOCSIN_SMTP_URL`` is empty."""


class MailStatus(StrEnum):
    """What became of a message."""

    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class MailOutcome:
    """A message's fate, with the server's words (or the error's) as ``reason``."""

    status: MailStatus
    reason: str
    code: int | None = None


class HasSmtpUrl(Protocol):
    """Anything with the ``smtp_url`` setting (``tocsin.config.Settings``)."""

    @property
    def smtp_url(self) -> str | None:
        """``TOCSIN_SMTP_URL``."""


def smtp_target(source: HasSmtpUrl | SmtpTarget | str) -> SmtpTarget:
    """The SMTP server named by settings, a URL or an already parsed target.

    Raises:
        MailNotConfigured: settings without ``smtp_url``.
        ValueError: a URL that cannot be used.
    """
    if isinstance(source, SmtpTarget):
        return source
    url = source if isinstance(source, str) else source.smtp_url
    if not url:
        raise MailNotConfigured("e-mail is not configured: set TOCSIN_SMTP_URL")
    return parse_smtp_url(url)


def _answer(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


def _by_code(code: int, reason: str) -> MailOutcome:
    # Only a 5xx is permanent; anything else the server says (4xx, or nonsense) may pass.
    status = MailStatus.REJECTED if 500 <= code < 600 else MailStatus.RETRY
    return MailOutcome(status, reason, code)


async def send_mail(
    source: HasSmtpUrl | SmtpTarget | str,
    message: EmailMessage,
    *,
    smtp_timeout: float = TIMEOUT,
) -> MailOutcome:
    """Send ``message`` to its ``To`` from its ``From`` through the server of ``source``
    (settings, an ``smtp://`` URL, or a parsed target), allowing ``smtp_timeout`` seconds for
    each step (connecting, each command).

    Never raises for what the server or the network does: that is the outcome.

    Raises:
        MailNotConfigured: settings without ``smtp_url``.
        ValueError: an unusable URL, or a message without ``From`` or ``To``.
    """
    target = smtp_target(source)
    where = f"{target.host}:{target.port}"
    try:
        refused, answer = await aiosmtplib.send(
            message,
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.implicit_tls,
            start_tls=target.starttls,
            timeout=smtp_timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        reason = "; ".join(f"{r.recipient}: {_answer(r.code, r.message)}" for r in exc.recipients)
        # One temporary refusal among permanent ones: the message may still go through.
        return _by_code(next((c for c in codes if 400 <= c < 500), max(codes)), reason)
    except aiosmtplib.SMTPAuthenticationError as exc:
        return MailOutcome(
            MailStatus.RETRY,
            f"{where} refused the login ({_answer(exc.code, exc.message)}): "
            "check the user and password of TOCSIN_SMTP_URL",
            exc.code,
        )
    except (aiosmtplib.SMTPConnectResponseError, aiosmtplib.SMTPHeloError) as exc:
        return MailOutcome(
            MailStatus.RETRY,
            f"{where} refused the session: {_answer(exc.code, exc.message)}",
            exc.code,
        )
    except aiosmtplib.SMTPSenderRefused as exc:
        if exc.code == 530:
            # "Authentication required" / "Must issue a STARTTLS command first": the settings.
            return MailOutcome(
                MailStatus.RETRY,
                f"{where} wants a login or STARTTLS first ({_answer(exc.code, exc.message)}): "
                "check TOCSIN_SMTP_URL",
                exc.code,
            )
        return _by_code(exc.code, _answer(exc.code, exc.message))
    except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
        return _by_code(exc.code, _answer(exc.code, exc.message))
    except aiosmtplib.SMTPResponseException as exc:
        # Any other refusal comes before the message is offered (e.g. STARTTLS): not its fault.
        return MailOutcome(MailStatus.RETRY, f"{where}: {_answer(exc.code, exc.message)}", exc.code)
    except aiosmtplib.SMTPTimeoutError as exc:
        return MailOutcome(MailStatus.RETRY, f"{where}: timed out ({exc})")
    except ssl.SSLError as exc:
        return MailOutcome(MailStatus.RETRY, f"{where}: TLS failed ({exc.reason or exc})")
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
        return MailOutcome(MailStatus.RETRY, f"{where}: {str(exc) or type(exc).__name__}")
    except aiosmtplib.SMTPException as exc:
        # No STARTTLS, no AUTH where the URL asks for them: the settings and the server disagree.
        return MailOutcome(MailStatus.RETRY, f"{where}: {exc} (check TOCSIN_SMTP_URL)")
    text = answer.strip()
    if refused:
        # Several recipients, some refused: the message went to the others.
        text += (
            " (refused: "
            + "; ".join(f"{r}: {_answer(a.code, a.message)}" for r, a in refused.items())
            + ")"
        )
    return MailOutcome(MailStatus.SENT, text, 250)
