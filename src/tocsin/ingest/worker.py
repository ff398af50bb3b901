"""Reading mail off the event loop: sockets, /healthz and other requests go on meanwhile.

A message is parsed in one of a few threads kept for it (not asyncio's default executor,
which name resolution and other callers share): a flood of mail waits its turn there
instead of taking every thread. Its cost is bounded by the parser (linear in what it is
given) and by the caps in :mod:`tocsin.ingest.parse`.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from tocsin.ingest.parse import (
    DEFAULT_DOSSIER_PATTERN,
    MAX_MESSAGE_BYTES,
    ParsedMail,
    parse_message,
)

PARSER_THREADS = 2
_parsers = ThreadPoolExecutor(max_workers=PARSER_THREADS, thread_name_prefix="tocsin-mail-parse")


async def parse_off_loop(
    raw: bytes,
    *,
    dossier_pattern: re.Pattern[str] | str = DEFAULT_DOSSIER_PATTERN,
    max_bytes: int = MAX_MESSAGE_BYTES,
    total_size: int | None = None,
) -> ParsedMail:
    """:func:`~tocsin.ingest.parse.parse_message` in a parser thread.

    Raises:
        MalformedMessage: as ``parse_message``.
    """
    work = partial(
        parse_message,
        raw,
        dossier_pattern=dossier_pattern,
        max_bytes=max_bytes,
        total_size=total_size,
    )
    return await asyncio.get_running_loop().run_in_executor(_parsers, work)


__all__ = ["PARSER_THREADS", "parse_off_loop"]
