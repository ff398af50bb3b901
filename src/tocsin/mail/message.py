"""An RFC 5322 message from rendered content: text and HTML alternatives, UTF-8, with the
one-click unsubscribe headers of RFC 8058."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from tocsin.mail.addresses import parse_address
from tocsin.mail.templates import RenderedMail

# Headers the message sets itself: extra headers may not replace them.
_OWN_HEADERS = frozenset(
    h.lower()
    for h in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    )
)


def _address(value: str | Address, what: str) -> Address:
    if isinstance(value, Address):
        return value
    try:
        return parse_address(value)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _unsubscribe_header(url: str) -> str:
    # RFC 8058 wants an HTTPS URI; http:// is let through for local set-ups and tests.
    if not url.startswith(("https://", "http://")) or any(
        c.isspace() or c in "<>," or ord(c) < 32 for c in url
    ):
        raise ValueError(f"unsubscribe_url must be an http(s):// URL, not {url!r}")
    return f"<{url}>"


def message_id(domain: str, key: str | None = None) -> str:
    """A ``Message-ID`` at ``domain``: the same for the same ``key`` (any text: it is hashed
    into the characters a Message-ID may hold), else a new one."""
    if key is None:
        return make_msgid(domain=domain)
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<tocsin.{digest}@{domain}>"


def build_message(
    content: RenderedMail,
    *,
    mail_from: str | Address,
    to: str | Address,
    unsubscribe_url: str | None = None,
    message_key: str | None = None,
    date: datetime | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A ``multipart/alternative`` message (text, then HTML; UTF-8, quoted-printable).

    It carries ``Date``, ``Message-ID`` (at ``mail_from``'s domain: derived from
    ``message_key`` when given, e.g. the job's key, so that sending one job twice sends one
    Message-ID that receivers can recognise; else new), ``Content-Language``,
    ``Auto-Submitted: auto-generated`` (no autoreplies) and, given ``unsubscribe_url``,
    ``List-Unsubscribe`` with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``: mail
    clients then offer a button that POSTs to the URL.

    Raises:
        ValueError: ``mail_from`` or ``to`` is not one address, ``unsubscribe_url`` is not an
            http(s) URL, or ``headers`` would replace one of the message's own.
    """
    sender = _address(mail_from, "mail_from")
    recipient = _address(to, "to")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = content.subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id(sender.domain, message_key)
    message["Auto-Submitted"] = "auto-generated"
    # Outlook/Exchange's own switch for out-of-office and other automatic answers.
    message["X-Auto-Response-Suppress"] = "All"
    if unsubscribe_url is not None:
        message["List-Unsubscribe"] = _unsubscribe_header(unsubscribe_url)
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in (headers or {}).items():
        if name.lower() in _OWN_HEADERS:
            raise ValueError(f"the message sets {name} itself")
        message[name] = value
    # Quoted-printable keeps the parts 7-bit (any relay takes them) and the text readable.
    message.set_content(content.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(content.html, subtype="html", charset="utf-8", cte="quoted-printable")
    # After the content: setting it drops every Content-* header.
    message["Content-Language"] = content.locale
    return message
