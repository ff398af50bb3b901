"""The words of the e-mails, in French (the seed's) and English.

The words a notification shares with the NotificationCenter (« Nouvel e-mail », « Dossier
créé », « Critique », « 2 jours restants »…) are those of ``clients/js/src/core/i18n.ts``,
with the same plural rules: French puts 0 and 1 in the singular, English only 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

Locale = Literal["fr", "en"]


def locale_of(value: str | None) -> Locale:
    """``en`` for any English tag (``en``, ``en-GB``), else French, as the client's ``messages``."""
    return "en" if value is not None and value.lower().startswith("en") else "fr"


def plural(locale: Locale, count: int, one: str, other: str) -> str:
    """``one`` or ``other`` for ``count``, ``#`` replaced by the number."""
    singular = abs(count) <= 1 if locale == "fr" else count == 1
    return (one if singular else other).replace("#", str(count))


@dataclass(frozen=True, slots=True)
class Words:
    """Every text of the e-mails in one locale."""

    locale: Locale
    # Shared with i18n.ts.
    from_: str
    dossier: str
    actions: dict[str, str]
    urgency: dict[str, str]
    announce: dict[str, str]
    kinds: dict[str, str]
    critical_deadline_title: str
    remaining: Callable[[int], str]
    # The e-mails' own.
    critical: str
    critical_banner: str
    open_app: str
    in_app: str
    why_event: Callable[[str], str]
    why_critical: str
    unsubscribe: str
    digest_title: str
    digest_intro: Callable[[int, int], str]
    digest_subject: Callable[[str, int, int], str]
    digest_why: str
    more: Callable[[int], str]
    months: tuple[str, ...]
    weekdays: tuple[str, ...]

    def moment(self, when: datetime) -> str:
        """A date and time as the NotificationCenter's tooltip writes it (already in the
        reader's zone): « 3 mars 2025 à 14:05 », "3 March 2025 at 14:05"."""
        connector = "at" if self.locale == "en" else "à"
        return f"{when.day} {self.months[when.month - 1]} {when.year} {connector} {when:%H:%M}"

    def day(self, when: date) -> str:
        """A day in full: « lundi 3 mars 2025 », "Monday 3 March 2025"."""
        weekday = self.weekdays[when.weekday()]
        return f"{weekday} {when.day} {self.months[when.month - 1]} {when.year}"


def _fr_remaining(days: int) -> str:
    if days == 0:
        return "expire aujourd'hui"
    if days < 0:
        return "expiré depuis " + plural("fr", -days, "# jour", "# jours")
    return plural("fr", days, "# jour restant", "# jours restants")


def _en_remaining(days: int) -> str:
    if days == 0:
        return "due today"
    if days < 0:
        return "overdue by " + plural("en", -days, "# day", "# days")
    return plural("en", days, "# day left", "# days left")


def _fr_digest_intro(count: int, critical: int) -> str:
    text = "Vous avez " + plural("fr", count, "# notification non lue", "# notifications non lues")
    if critical:
        text += ", dont " + plural("fr", critical, "# critique", "# critiques")
    return text + "."


def _en_digest_intro(count: int, critical: int) -> str:
    text = "You have " + plural("en", count, "# unread notification", "# unread notifications")
    if critical:
        text += f", {critical} of them critical" if count > 1 else ", a critical one"
    return text + "."


def _fr_digest_subject(firm: str, count: int, critical: int) -> str:
    text = f"{firm} : " + plural("fr", count, "# notification non lue", "# notifications non lues")
    if critical:
        text = "⚠️ " + text + ", dont " + plural("fr", critical, "# critique", "# critiques")
    return text


def _en_digest_subject(firm: str, count: int, critical: int) -> str:
    text = f"{firm}: " + plural("en", count, "# unread notification", "# unread notifications")
    if critical:
        text = f"⚠️ {text}, {critical} critical"
    return text


FRENCH = Words(
    locale="fr",
    from_="De",
    dossier="Dossier",
    actions={
        "created": "Dossier créé",
        "updated": "Dossier mis à jour",
        "status_changed": "Statut modifié",
        "document_added": "Document ajouté",
    },
    urgency={"critical": "Critique", "urgent": "Urgent", "warning": "Attention", "info": "Info"},
    announce={
        "email-received": "Nouvel e-mail",
        "dossier-updated": "Dossier mis à jour",
        "deadline-alert": "Alerte de délai",
        "system-notification": "Notification système",
    },
    kinds={
        "email-received": "E-mails",
        "dossier-updated": "Dossiers",
        "deadline-alert": "Délais",
        "system-notification": "Système",
    },
    critical_deadline_title="⚠️ Délai critique",
    remaining=_fr_remaining,
    critical="Critique",
    critical_banner="Critique : cette notification demande votre attention.",
    open_app="Ouvrir l'application",
    in_app="À faire dans l'application",
    why_event=lambda kind: (
        f"Vous recevez cet e-mail car l'envoi par e-mail est activé pour « {kind} » "
        "dans vos préférences de notification."
    ),
    why_critical=(
        "Les alertes critiques (délais critiques, erreurs système) vous préviennent toujours."
    ),
    unsubscribe="Ne plus recevoir ces e-mails",
    digest_title="Résumé quotidien",
    digest_intro=_fr_digest_intro,
    digest_subject=_fr_digest_subject,
    digest_why=(
        "Vous recevez ce résumé car le résumé quotidien par e-mail est activé "
        "dans vos préférences de notification."
    ),
    more=lambda n: plural("fr", n, "et # autre", "et # autres"),
    months=(
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    weekdays=("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
)

ENGLISH = Words(
    locale="en",
    from_="From",
    dossier="Dossier",
    actions={
        "created": "Dossier created",
        "updated": "Dossier updated",
        "status_changed": "Status changed",
        "document_added": "Document added",
    },
    urgency={"critical": "Critical", "urgent": "Urgent", "warning": "Warning", "info": "Info"},
    announce={
        "email-received": "New e-mail",
        "dossier-updated": "Dossier updated",
        "deadline-alert": "Deadline alert",
        "system-notification": "System notification",
    },
    kinds={
        "email-received": "E-mails",
        "dossier-updated": "Dossiers",
        "deadline-alert": "Deadlines",
        "system-notification": "System",
    },
    critical_deadline_title="⚠️ Critical deadline",
    remaining=_en_remaining,
    critical="Critical",
    critical_banner="Critical: this notification needs your attention.",
    open_app="Open the app",
    in_app="To do in the app",
    why_event=lambda kind: (
        f"You receive this e-mail because e-mail is on for “{kind}” "
        "in your notification preferences."
    ),
    why_critical="Critical alerts (critical deadlines, system errors) always reach you.",
    unsubscribe="Stop these e-mails",
    digest_title="Daily digest",
    digest_intro=_en_digest_intro,
    digest_subject=_en_digest_subject,
    digest_why=(
        "You receive this digest because the daily e-mail digest is on "
        "in your notification preferences."
    ),
    more=lambda n: plural("en", n, "and # more", "and # more"),
    months=(
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
)


def words(locale: str | None) -> Words:
    """The texts of ``locale`` (French unless English)."""
    return ENGLISH if locale_of(locale) == "en" else FRENCH
