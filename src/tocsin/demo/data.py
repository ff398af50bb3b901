"""The demo firm: its users, dossiers, deadlines and the notifications they receive."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

TENANT_ID = "cabinet-laurent"
TENANT_NAME = "Cabinet Laurent & Associés"


@dataclass(frozen=True, slots=True)
class DemoUser:
    """A member of the firm who can sign in."""

    id: str
    name: str
    email: str
    role: str
    title: str


@dataclass(frozen=True, slots=True)
class Dossier:
    """A case file, followed by one lawyer."""

    number: str
    title: str
    lawyer: str


USERS = (
    DemoUser(
        "camille",
        "Me Camille Laurent",
        "c.laurent@cabinet-laurent.fr",
        "lawyer",
        "Avocate associée",
    ),
    DemoUser(
        "julien",
        "Me Julien Moreau",
        "j.moreau@cabinet-laurent.fr",
        "lawyer",
        "Avocat collaborateur",
    ),
    DemoUser(
        "sarah", "Sarah Benali", "s.benali@cabinet-laurent.fr", "assistant", "Assistante juridique"
    ),
)

DOSSIERS = (
    Dossier("D-2026-014", "SCI Les Tilleuls c/ Dupont — Bail commercial", "camille"),
    Dossier("D-2026-021", "M. Diallo — Recours contre une OQTF", "julien"),
    Dossier("D-2026-027", "Arvel SAS — Licenciement économique", "camille"),
    Dossier("D-2026-033", "Succession Martin", "julien"),
    Dossier("D-2026-041", "Mme Roche — Divorce par consentement mutuel", "sarah"),
)


def dossier(number: str) -> Dossier:
    """The dossier with this number."""
    return next(d for d in DOSSIERS if d.number == number)


# Deadlines the registry watches: (id, dossier, type, days from today). Those due within
# three days alert at once (critical, urgent, warning); the others later.
# Alerts read « Délai d'appel expire dans 2 jours », « Délai OQTF expire dans 1 jour »
# (deadlines/wording.py).
DEADLINES = (
    ("oqtf-diallo", "D-2026-021", "OQTF", 1),
    ("appel-arvel", "D-2026-027", "appel", 2),
    ("conclusions-tilleuls", "D-2026-014", "conclusions", 3),
    ("declaration-martin", "D-2026-033", "déclaration de succession", 24),
    ("convention-roche", "D-2026-041", "convention", 12),
)


def deadline_body(number: str, kind: str, due: date) -> dict[str, Any]:
    """A ``PUT /api/v1/deadlines/{id}`` body for the dossier's lawyer."""
    return {
        "dossierNumber": number,
        "deadlineType": kind,
        "dueAt": due.isoformat(),
        "userId": dossier(number).lawyer,
        "tenantId": TENANT_ID,
    }


EMAILS = (
    (
        "Conclusions adverses — audience du 12 mars",
        "Me Lefèvre <c.lefevre@lefevre-avocats.fr>",
        "D-2026-014",
    ),
    (
        "Convocation à l'audience de mise en état",
        "Greffe du TJ de Lyon <greffe.tj-lyon@justice.fr>",
        "D-2026-027",
    ),
    (
        "Pièces complémentaires (passeport, bail)",
        "M. Amadou Diallo <a.diallo@orange.fr>",
        "D-2026-021",
    ),
    ("Notification du jugement", "Greffe du TA de Lyon <greffe.ta-lyon@juradm.fr>", "D-2026-021"),
    ("Question sur la facture d'honoraires", "Arvel SAS — DRH <rh@arvel.fr>", "D-2026-027"),
    (
        "Projet de convention — vos remarques",
        "Mme Claire Roche <claire.roche@gmail.com>",
        "D-2026-041",
    ),
    ("Acte de notoriété signé", "Office notarial Besson <office@besson-notaires.fr>", "D-2026-033"),
    ("Proposition de transaction", "Me Garnier <garnier@garnier-avocats.fr>", "D-2026-014"),
    ("Accusé de réception RPVA", "e-barreau <ne-pas-repondre@e-barreau.fr>", None),
)

DOSSIER_EVENTS = (
    ("D-2026-014", "document_added", "Conclusions adverses déposées"),
    ("D-2026-027", "status_changed", "Audience fixée au 12 mars"),
    ("D-2026-021", "document_added", "Mémoire en défense de la préfecture"),
    ("D-2026-033", "updated", None),
    ("D-2026-041", "status_changed", "En attente de signature"),
    ("D-2026-027", "document_added", "Attestation Pôle emploi"),
)

SYSTEM_EVENTS = (
    ("Sauvegarde terminée", "Les dossiers du cabinet ont été sauvegardés.", "success"),
    (
        "Maintenance ce soir",
        "Maintenance programmée à 22 h : coupure d'environ 10 minutes.",
        "warning",
    ),
    (
        "Échec de synchronisation RPVA",
        "La connexion à e-barreau a échoué ; nouvel essai dans 5 minutes.",
        "error",
    ),
    (
        "Nouvelle version",
        "Les délais de procédure s'affichent désormais dans le tableau de bord.",
        "info",
    ),
)

# Deadlines that appear while the demo runs (each once).
EXTRA_DEADLINES = (
    ("D-2026-021", "signification", 1),
    ("D-2026-014", "référé", 2),
    ("D-2026-027", "prud'hommes", 3),
    ("D-2026-041", "homologation", 0),
)


def email(user: str, subject: str, sender: str, number: str | None, **extra: Any) -> dict[str, Any]:
    """An ``email-received`` notification."""
    note: dict[str, Any] = {
        "event": "email-received",
        "subject": subject,
        "from": sender,
        "userId": user,
        "tenantId": TENANT_ID,
        **extra,
    }
    if number:
        note["dossierNumber"] = number
    return note


def dossier_update(number: str, action: str, status: str | None, **extra: Any) -> dict[str, Any]:
    """A ``dossier-updated`` notification for the dossier's lawyer."""
    found = dossier(number)
    note: dict[str, Any] = {
        "event": "dossier-updated",
        "dossierNumber": number,
        "dossierTitle": found.title,
        "action": action,
        "userId": found.lawyer,
        "tenantId": TENANT_ID,
        **extra,
    }
    if status:
        note["status"] = status
    return note


def system(title: str, message: str, kind: str, **extra: Any) -> dict[str, Any]:
    """A ``system-notification`` to the whole firm."""
    return {
        "event": "system-notification",
        "title": title,
        "message": message,
        "type": kind,
        "tenantId": TENANT_ID,
        **extra,
    }


def history(now: datetime) -> list[dict[str, Any]]:
    """What the firm already received before the demo started, oldest first."""

    def ago(**delta: float) -> str:
        return (now - timedelta(**delta)).astimezone(UTC).isoformat()

    subject, sender, number = EMAILS[6]
    return [
        system(
            "Bienvenue sur Tocsin",
            "Les notifications du cabinet arrivent en direct.",
            "info",
            timestamp=ago(days=2),
        ),
        dossier_update("D-2026-033", "created", None, timestamp=ago(days=1, hours=3)),
        email("julien", subject, sender, number, timestamp=ago(hours=20)),
        email("camille", *EMAILS[7], timestamp=ago(hours=5)),
        dossier_update(
            "D-2026-014", "document_added", "Assignation signifiée", timestamp=ago(hours=3)
        ),
        email("sarah", *EMAILS[5], timestamp=ago(hours=2)),
        email("camille", *EMAILS[1], timestamp=ago(minutes=42)),
        dossier_update(
            "D-2026-041", "status_changed", "En attente de signature", timestamp=ago(minutes=25)
        ),
        email("julien", *EMAILS[2], timestamp=ago(minutes=12)),
    ]


class Stream:
    """The demo's endless supply of notifications, drawn at random but never absurd."""

    def __init__(self, today: Callable[[], date], seed: int | None = None) -> None:
        self.today = today
        self.random = random.Random(seed)
        self.count = 0
        self.deadlines_used: set[int] = set()

    def next(self) -> tuple[str, Any]:
        """``("notify", notification)`` or ``("deadline", (id, body))`` for the registry."""
        self.count += 1
        roll = self.random.random()
        if roll < 0.45:
            subject, sender, number = self.random.choice(EMAILS)
            user = dossier(number).lawyer if number else self.random.choice(USERS).id
            if self.random.random() < 0.3:
                user = "sarah"  # the assistant sees a share of the mail
            return "notify", email(user, subject, sender, number)
        if roll < 0.75:
            number, action, status = self.random.choice(DOSSIER_EVENTS)
            return "notify", dossier_update(number, action, status)
        unused = [i for i in range(len(EXTRA_DEADLINES)) if i not in self.deadlines_used]
        if roll < 0.9 and unused:
            index = self.random.choice(unused)
            self.deadlines_used.add(index)
            number, kind, days = EXTRA_DEADLINES[index]
            due = self.today() + timedelta(days=days)
            return "deadline", (f"extra-{index}", deadline_body(number, kind, due))
        return "notify", system(*self.random.choice(SYSTEM_EVENTS))
