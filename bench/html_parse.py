"""Worst cases of reading an e-mail's HTML: seconds per input, for html_to_text and a whole message.

    .venv/bin/python -m bench.html_parse             # Tocsin's parser (well under a second)
    .venv/bin/python -m bench.html_parse --stdlib    # also html.parser, the parser before 0.1.0
                                                     # (minutes: quadratic on unclosed tags)

Each input is cut to MAX_BODY_CHARS, as ingestion cuts it. ``message`` is the same HTML as
the only part of an e-mail, through parse_message (MIME, charset, dossier search).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from tocsin.ingest.parse import MAX_BODY_CHARS, html_to_text, parse_message

CASES: dict[str, str] = {
    '"<a " x 20,000 (the report)': "<a " * 20_000,
    '"<a b=" x 40,000': "<a b=" * 40_000,
    '"<!--" x 50,000': "<!--" * 50_000,
    '"</" x 100,000': "</" * 100_000,
    '"<?" x 100,000': "<?" * 100_000,
    '"<!" x 100,000': "<!" * 100_000,
    '"<" x 200,000': "<" * 200_000,
    "<div> nested 50,000 deep": "<div>" * 50_000,
    "<table><tr><td> x 20,000": "<table><tr><td>" * 20_000,
    "one tag, 40,000 attributes": "<a " + " ".join(f"a{i}=v" for i in range(40_000)) + ">x",
    '"&#" x 100,000': "&#" * 100_000,
    "ordinary newsletter x 500": "<p>Bonjour <b>Maître</b>, dossier CIV-2026-1 &amp; co</p>" * 500,
}


def as_message(markup: str) -> bytes:
    head = (
        "From: greffe@tribunal.example\r\nTo: alice@cabinet.example\r\nSubject: bench\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
    )
    return (head + markup).encode()


def stdlib_text(markup: str) -> str:
    parser = HTMLParser(convert_charrefs=True)
    parser.feed(markup)
    parser.close()
    return ""


def seconds(work: Callable[[Any], object], argument: Any) -> float:
    started = time.perf_counter()
    work(argument)
    return time.perf_counter() - started


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--stdlib", action="store_true", help="also time html.parser")
    args = options.parse_args()
    columns = ["html_to_text", "message"] + (["html.parser"] if args.stdlib else [])
    print(f"{'input':32} {'chars':>8} " + " ".join(f"{c:>13}" for c in columns))
    for name, markup in CASES.items():
        markup = markup[:MAX_BODY_CHARS]
        raw = as_message(markup)
        figures = [seconds(html_to_text, markup), seconds(parse_message, raw)]
        if args.stdlib:
            figures.append(seconds(stdlib_text, markup))
        cells = " ".join(f"{f:>11.4f} s" for f in figures)
        print(f"{name:32} {len(markup):>8} {cells}", flush=True)


if __name__ == "__main__":
    main()
