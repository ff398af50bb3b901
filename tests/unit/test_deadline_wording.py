"""The words of deadline alerts: real plurals, and the type joined by « de » or « d' »."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tocsin.deadlines.rules import Tiers, alert_on
from tocsin.deadlines.wording import alert_message, deadline_name
from tocsin.store.base import DeadlineRecord


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("signification", "Délai de signification"),
        ("appel", "Délai d'appel"),
        ("Appel", "Délai d'Appel"),
        ("homologation", "Délai d'homologation"),
        ("huitaine", "Délai de huitaine"),  # h aspiré: no elision
        ("écritures", "Délai d'écritures"),
        ("référé", "Délai de référé"),
        ("prud'hommes", "Délai de prud'hommes"),
        ("OQTF", "Délai OQTF"),  # an acronym stays in apposition
        ("RPVA  dépôt", "Délai RPVA dépôt"),
        ("de recours", "Délai de recours"),  # already has its preposition
        ("d'opposition", "Délai d'opposition"),
        ("d\u2019opposition", "Délai d\u2019opposition"),
        ("", "Délai"),
    ],
)
def test_french_names(kind: str, name: str) -> None:
    assert deadline_name(kind) == name


@pytest.mark.parametrize(
    ("remaining", "fr", "en"),
    [
        (3, "Délai d'appel expire dans 3 jours", "Appel deadline expires in 3 days"),
        (2, "Délai d'appel expire dans 2 jours", "Appel deadline expires in 2 days"),
        (1, "Délai d'appel expire dans 1 jour", "Appel deadline expires in 1 day"),
        (0, "Délai d'appel expire aujourd'hui", "Appel deadline expires today"),
        (-1, "Délai d'appel expiré depuis 1 jour", "Appel deadline expired 1 day ago"),
        (-12, "Délai d'appel expiré depuis 12 jours", "Appel deadline expired 12 days ago"),
    ],
)
def test_plurals_in_both_languages(remaining: int, fr: str, en: str) -> None:
    assert alert_message("appel", remaining, "fr") == fr
    assert alert_message("appel", remaining, "en") == en
    assert "(s)" not in fr and "(s)" not in en


def test_unknown_locale_is_french() -> None:
    assert alert_message("signification", 1, "de") == "Délai de signification expire dans 1 jour"


def test_alert_on_uses_the_words_unless_the_publisher_gave_a_message() -> None:
    def record(message: str | None) -> DeadlineRecord:
        return DeadlineRecord(
            "firm-a",
            "d1",
            "alice",
            "D-1",
            "signification",
            date(2026, 3, 10),
            "2026-03-10",
            None,
            "open",
            message,
            datetime.now(UTC),
        )

    generated = alert_on(record(None), date(2026, 3, 9), Tiers())
    assert generated.message == "Délai de signification expire dans 1 jour"
    given = alert_on(record("Signifier avant vendredi"), date(2026, 3, 9), Tiers())
    assert given.message == "Signifier avant vendredi"
