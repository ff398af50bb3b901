"""The words of a deadline alert, in French (the seed's) and English, with real plurals.

« Délai de signification expire dans 1 jour », « Délai d'appel expire dans 2 jours »,
« Délai OQTF expiré depuis 3 jours »; "OQTF deadline expires in 1 day".
"""

from __future__ import annotations

LOCALES = ("fr", "en")

_VOWELS = frozenset("aeiouyàâäéèêëîïôöùûüÿœæ")
# Words whose h is "aspiré": no elision before them (« délai de huitaine », not « d'huitaine »).
_H_ASPIRE = ("hach", "haine", "harc", "hasard", "hausse", "haut", "hiérarch", "huis", "huit")
# A type that already starts with its preposition is used as it is.
_PREPOSITIONS = ("de ", "d'", "d\u2019", "du ", "des ")  # \u2019: the typographic apostrophe


def _is_acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _french_complement(kind: str) -> str:
    """A non-empty type as a complement: ``de signification``, ``d'appel``, ``OQTF``.

    An acronym stays in apposition (« délai OQTF », as « procédure DALO »): whether to elide
    before it depends on how it is spoken, which its letters do not tell.
    """
    first = kind.split(maxsplit=1)[0]
    lowered = kind.lower()
    if _is_acronym(first) or lowered.startswith(_PREPOSITIONS):
        return kind
    initial = lowered[0]
    if initial in _VOWELS or (initial == "h" and not lowered.startswith(_H_ASPIRE)):
        return f"d'{kind}"
    return f"de {kind}"


def _fr_days(n: int) -> str:
    # French singular covers 0 and 1 (« 0 jour », « 1 jour »), unlike English.
    return f"{n} jour" if abs(n) <= 1 else f"{n} jours"


def _en_days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n} days"


def deadline_name(kind: str, locale: str = "fr") -> str:
    """How a deadline of type ``kind`` is named: « Délai de signification », "Appel deadline"."""
    kind = " ".join(kind.split())
    if locale == "en":
        return f"{kind[:1].upper()}{kind[1:]} deadline" if kind else "Deadline"
    return f"Délai {_french_complement(kind)}" if kind else "Délai"


def alert_message(kind: str, remaining: int, locale: str = "fr") -> str:
    """The message of an alert ``remaining`` calendar days before (negative: after) the due date.

    Unknown locales get French, the seed's language.
    """
    name = deadline_name(kind, locale if locale in LOCALES else "fr")
    if locale == "en":
        if remaining == 0:
            return f"{name} expires today"
        if remaining < 0:
            return f"{name} expired {_en_days(-remaining)} ago"
        return f"{name} expires in {_en_days(remaining)}"
    if remaining == 0:
        return f"{name} expire aujourd'hui"
    if remaining < 0:
        return f"{name} expiré depuis {_fr_days(-remaining)}"
    return f"{name} expire dans {_fr_days(remaining)}"
