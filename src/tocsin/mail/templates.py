"""The e-mails' subject, text and HTML: one notification, or a daily digest.

Templates live in ``tocsin/mail/templates`` (package data). HTML is autoescaped: whatever a
publisher put in a subject or a title comes out as text, never as markup. The HTML is plain
tables with inline styles and no external resource (no image, font or stylesheet to fetch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from tocsin.mail.describe import ItemView, describe, one_line
from tocsin.mail.wording import Locale, Words, words
from tocsin.models import (
    DEADLINE_ALERT,
    DOSSIER_UPDATED,
    EMAIL_RECEIVED,
    SYSTEM_NOTIFICATION,
    StoredNotification,
)

# The NotificationCenter's colours per tone (styles.ts): text, background.
COLOURS = {
    "email": ("#2563eb", "#dbeafe"),
    "dossier": ("#16a34a", "#dcfce7"),
    "critical": ("#b91c1c", "#fee2e2"),
    "urgent": ("#c2410c", "#ffedd5"),
    "warning": ("#a16207", "#fef9c3"),
    "info": ("#0369a1", "#e0f2fe"),
    "system": ("#9333ea", "#f3e8ff"),
    "system-error": ("#dc2626", "#fee2e2"),
    "system-warning": ("#d97706", "#fef3c7"),
    "system-success": ("#16a34a", "#dcfce7"),
    None: ("#475569", "#f1f5f9"),
}
# Deadlines first: a lawyer reads the digest for what must not be missed.
GROUP_ORDER = (DEADLINE_ALERT, EMAIL_RECEIVED, DOSSIER_UPDATED, SYSTEM_NOTIFICATION)
DIGEST_ITEMS_PER_GROUP = 20


@dataclass(frozen=True, slots=True)
class MailContext:
    """Who the e-mail is from and for: the firm, its app, the reader's language and zone.

    Raises:
        ValueError: an empty firm name, an ``app_url`` that is not ``http(s)://``, or an
            unknown time zone.
    """

    firm: str
    app_url: str
    locale: str = "fr"
    timezone: str = "Europe/Paris"
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not one_line(self.firm):
            raise ValueError("firm must name the firm")
        if not self.app_url.startswith(("https://", "http://")) or any(
            c.isspace() or c in "<>\"'" for c in self.app_url
        ):
            raise ValueError(f"app_url must be an http(s):// URL, not {self.app_url!r}")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r} (e.g. Europe/Paris)") from None
        object.__setattr__(self, "zone", zone)

    @property
    def words(self) -> Words:
        """The texts of the reader's locale."""
        return words(self.locale)


@dataclass(frozen=True, slots=True)
class RenderedMail:
    """An e-mail's content, before it becomes a message."""

    subject: str
    text: str
    html: str
    locale: Locale


@dataclass(frozen=True, slots=True)
class DigestGroup:
    """The unread items of one event in a digest."""

    event: str
    label: str
    count: int
    critical: int
    items: tuple[ItemView, ...]
    more: int


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The template environment (autoescaping ``.html``, strict about undefined names)."""
    env = Environment(
        loader=PackageLoader("tocsin.mail", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["colours"] = colours
    return env


def colours(tone: str | None) -> tuple[str, str]:
    """The text and background colours of ``tone`` (grey for a tone without its own)."""
    return COLOURS.get(tone, COLOURS[None])


def _render(name: str, **values: object) -> tuple[str, str]:
    env = environment()
    text = env.get_template(f"{name}.txt").render(**values)
    html = env.get_template(f"{name}.html").render(**values)
    return text, html


def render_notification(
    notification: StoredNotification,
    context: MailContext,
    *,
    unsubscribe_url: str | None = None,
) -> RenderedMail:
    """The e-mail for one notification of any kind (critical ones say so at the top).

    Its link is the notification's action URL when it has one, else ``context.app_url``;
    ``unsubscribe_url`` (the one-click link of the message's ``List-Unsubscribe``) is also
    shown in the footer.
    """
    t = context.words
    view = describe(notification, t, app_url=context.app_url, zone=context.zone)
    text, html = _render(
        "notification",
        t=t,
        firm=one_line(context.firm),
        view=view,
        subject=view.subject,
        app_url=context.app_url,
        kind_name=t.kinds.get(view.event, view.kind),
        unsubscribe_url=unsubscribe_url,
        locale=t.locale,
    )
    return RenderedMail(subject=view.subject, text=text, html=html, locale=t.locale)


def group_digest(
    items: Sequence[StoredNotification],
    context: MailContext,
    *,
    per_group: int = DIGEST_ITEMS_PER_GROUP,
) -> list[DigestGroup]:
    """``items`` grouped by event (deadlines first), each group critical first then newest,
    showing at most ``per_group`` items and counting the rest."""
    t = context.words
    by_event: dict[str, list[StoredNotification]] = {}
    for item in items:
        by_event.setdefault(item.event, []).append(item)
    order = [e for e in GROUP_ORDER if e in by_event] + sorted(set(by_event) - set(GROUP_ORDER))
    groups = []
    for event in order:
        members = sorted(by_event[event], key=lambda n: (not n.critical, -n.timestamp.timestamp()))
        shown = tuple(
            describe(n, t, app_url=context.app_url, zone=context.zone) for n in members[:per_group]
        )
        groups.append(
            DigestGroup(
                event=event,
                label=t.kinds.get(event, event),
                count=len(members),
                critical=sum(1 for n in members if n.critical),
                items=shown,
                more=len(members) - len(shown),
            )
        )
    return groups


def render_digest(
    items: Sequence[StoredNotification],
    context: MailContext,
    *,
    day: date | None = None,
    unsubscribe_url: str | None = None,
    per_group: int = DIGEST_ITEMS_PER_GROUP,
) -> RenderedMail:
    """The daily digest of ``items`` (the unread ones): grouped by event with counts.

    ``day`` is the digest's date in the reader's zone (default: today there).

    Raises:
        ValueError: ``items`` is empty (nothing unread sends no digest).
    """
    if not items:
        raise ValueError("a digest needs at least one unread item (nothing unread: no e-mail)")
    t = context.words
    groups = group_digest(items, context, per_group=per_group)
    count = len(items)
    critical = sum(g.critical for g in groups)
    subject = one_line(t.digest_subject(one_line(context.firm), count, critical), 200)
    text, html = _render(
        "digest",
        t=t,
        firm=one_line(context.firm),
        subject=subject,
        day=t.day(day or datetime.now(context.zone).date()),
        intro=t.digest_intro(count, critical),
        groups=groups,
        app_url=context.app_url,
        unsubscribe_url=unsubscribe_url,
        locale=t.locale,
    )
    return RenderedMail(subject=subject, text=text, html=html, locale=t.locale)
