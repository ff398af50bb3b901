"""How each kind reads in an e-mail: the NotificationCenter's title, details and tags
(``clients/js/src/react/describe.tsx``), plus the subject line and the link to follow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from tocsin.mail.wording import Words
from tocsin.models import (
    DEADLINE_ALERT,
    DOSSIER_UPDATED,
    EMAIL_RECEIVED,
    SYSTEM_NOTIFICATION,
    StoredNotification,
)

SUBJECT_MAX = 150


@dataclass(frozen=True, slots=True)
class Tag:
    """A small label beside the title: a dossier number, an urgency."""

    text: str
    tone: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """Where the reader goes from the e-mail."""

    url: str
    label: str


@dataclass(frozen=True, slots=True)
class ItemView:
    """One notification as the templates show it."""

    id: str
    event: str
    tone: str
    kind: str
    title: str
    meta: str
    tags: tuple[Tag, ...]
    critical: bool
    when: str
    subject: str
    # The notification's own link (an action's URL), if it has one.
    action_link: Link | None
    # Labels of the actions that can only be taken in the app (« Accuser réception »).
    in_app: tuple[str, ...]


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line (a header cannot hold a line break), cut at ``limit`` with « … »."""
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _capitalised(text: str) -> str:
    # « signification » → « Signification »; acronyms are left as they are.
    return text[:1].upper() + text[1:]


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return "" if value is None else str(value)


def app_link(url: str, app_url: str) -> str | None:
    """An action's ``url`` as a full link: ``https://…`` as it is, a path of the app joined to
    ``app_url``; anything else (``javascript:``, ``//host``) is no link."""
    if url.startswith(("https://", "http://")):
        return url
    if url.startswith("/") and not url.startswith("//"):
        return app_url.rstrip("/") + url
    return None


def _actions(fields: dict[str, Any], app_url: str) -> tuple[Link | None, tuple[str, ...]]:
    raw = fields.get("actions")
    actions = [a for a in raw if isinstance(a, dict)] if isinstance(raw, list) else []
    links: list[tuple[bool, Link]] = []
    in_app: list[str] = []
    for action in actions:
        label = str(action.get("label") or action.get("id") or "")
        url = action.get("url")
        full = app_link(url, app_url) if isinstance(url, str) else None
        if full is None:
            in_app.append(label)
        else:
            links.append((action.get("primary") is True, Link(full, label)))
    # The primary action's link first, else the first one with a URL.
    links.sort(key=lambda pair: not pair[0])
    return (links[0][1] if links else None), tuple(in_app)


def describe(
    notification: StoredNotification, words: Words, *, app_url: str, zone: ZoneInfo
) -> ItemView:
    """The view of ``notification`` in ``words``' locale, its time in ``zone``."""
    fields = notification.fields
    event = notification.event
    critical = notification.critical
    sep = ": " if words.locale == "en" else " : "
    kind = words.announce.get(event, event)
    tags: list[Tag] = []
    if event == EMAIL_RECEIVED:
        tone, title = "email", _text(fields, "subject")
        meta = f"{words.from_} {_text(fields, 'from')}"
        tags.append(Tag(_text(fields, "dossierNumber")))
        lead = kind
    elif event == DOSSIER_UPDATED:
        tone, title = "dossier", _text(fields, "dossierTitle")
        lead = words.actions.get(_text(fields, "action"), _text(fields, "action"))
        status = _text(fields, "status")
        meta = f"{lead} · {status}" if status else lead
        tags.append(Tag(_text(fields, "dossierNumber")))
    elif event == DEADLINE_ALERT:
        urgency = _text(fields, "urgency")
        tone, title = urgency, _text(fields, "message")
        remaining = fields.get("remainingDays")
        days = words.remaining(remaining) if isinstance(remaining, int) else ""
        meta = " · ".join(p for p in (_capitalised(_text(fields, "deadlineType")), days) if p)
        tags.append(Tag(words.urgency.get(urgency, urgency), urgency))
        tags.append(Tag(_text(fields, "dossierNumber")))
        lead = f"{kind} ({words.urgency.get(urgency, urgency)})"
    elif event == SYSTEM_NOTIFICATION:
        kind_of = _text(fields, "type")
        tone = "system" if kind_of == "info" else f"system-{kind_of}"
        title, meta = _text(fields, "title"), _text(fields, "message")
        lead = kind
    else:
        # An event the seed did not define: show what it has.
        tone, lead = "system", kind
        title = next(
            (_text(fields, n) for n in ("title", "subject", "message") if fields.get(n)), event
        )
        meta = _text(fields, "message") if fields.get("title") else ""
    if critical and event == DEADLINE_ALERT:
        headline = f"{words.critical_deadline_title}{sep}{title}"
    elif critical:
        headline = f"⚠️ {lead} ({words.critical}){sep}{title}"
    else:
        headline = f"{lead}{sep}{title}"
    if critical and not any(t.tone == "critical" for t in tags):
        tags.insert(0, Tag(words.critical, "critical"))
    action_link, in_app = _actions(fields, app_url)
    return ItemView(
        id=notification.id,
        event=event,
        tone=tone,
        kind=kind,
        title=title,
        meta=meta,
        tags=tuple(t for t in tags if t.text),
        critical=critical,
        when=words.moment(notification.timestamp.astimezone(zone)),
        subject=one_line(headline, SUBJECT_MAX),
        action_link=action_link,
        in_app=in_app,
    )
