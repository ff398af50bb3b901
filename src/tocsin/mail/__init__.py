"""E-mail (DESIGN §8): templates, messages, unsubscribe tokens and sending over SMTP.

Building blocks, no scheduling: the escalation and digest jobs decide what to send and when.
"""

from tocsin.mail.addresses import parse_address
from tocsin.mail.message import build_message
from tocsin.mail.sender import MailNotConfigured, MailOutcome, MailStatus, send_mail, smtp_target
from tocsin.mail.smtpurl import SmtpTarget, parse_smtp_url
from tocsin.mail.templates import MailContext, RenderedMail, render_digest, render_notification
from tocsin.mail.unsubscribe import (
    InvalidUnsubscribeToken,
    read_unsubscribe_token,
    unsubscribe_token,
    unsubscribe_url,
)

__all__ = [
    "InvalidUnsubscribeToken",
    "MailContext",
    "MailNotConfigured",
    "MailOutcome",
    "MailStatus",
    "RenderedMail",
    "SmtpTarget",
    "build_message",
    "parse_address",
    "parse_smtp_url",
    "read_unsubscribe_token",
    "render_digest",
    "render_notification",
    "send_mail",
    "smtp_target",
    "unsubscribe_token",
    "unsubscribe_url",
]
