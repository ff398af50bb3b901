"""html_to_text: the text a reader sees, from any markup (speed: bench/html_parse.py)."""

from __future__ import annotations

import pytest

from tocsin.ingest.parse import MAX_BODY_CHARS, html_to_text

PATHOLOGICAL = [
    "<a " * 20_000,
    "<a b=" * 40_000,
    "<!--" * 50_000,
    "</" * 100_000,
    "<?" * 100_000,
    "<!" * 100_000,
    "<" * 200_000,
    "<div>" * 50_000,
    "<table><tr><td>" * 20_000,
    "<a " + " ".join(f"a{i}=v" for i in range(40_000)) + ">x",
    "&#" * 100_000,
    "x\x00y<b>\udcff</b>",
]


def test_visible_text_only() -> None:
    markup = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<p>Dossier <b>CIV</b>-2026-1&nbsp;&amp; co</p><script>alert(1)</script>"
        "<div>next</div>line<br>break<!-- hidden --><template>tpl</template></body></html>"
    )
    text = html_to_text(markup)
    assert " ".join(text.split()) == "Dossier CIV-2026-1 & co next line break"
    assert "CIV-2026-1\xa0&" in text  # entities decoded; inline tags join words


def test_text_that_is_not_markup_is_kept() -> None:
    assert html_to_text("a < b and c > d").split() == ["a", "<", "b", "and", "c", ">", "d"]
    assert html_to_text("") == ""


@pytest.mark.parametrize("markup", PATHOLOGICAL, ids=lambda m: repr(m[:12]))
def test_pathological_markup_gives_text_and_keeps_what_came_before(markup: str) -> None:
    text = html_to_text("<p>Audience CIV-2026-0042</p>" + markup)
    assert isinstance(text, str) and "Audience CIV-2026-0042" in text


def test_only_the_first_characters_are_read() -> None:
    text = html_to_text("<p>" + "a" * MAX_BODY_CHARS + "TAIL</p>")
    assert "TAIL" not in text and len(text.strip()) == MAX_BODY_CHARS - 3
