"""Cursors as clients send them back (``since``, ``before``, ``upTo``)."""

from __future__ import annotations

from typing import Any

from tocsin.errors import ValidationFailed


def cursor_or_none(value: Any, field: str) -> int | None:
    """:func:`parse_cursor` of an optional value (None stays None)."""
    if value is None:
        return None
    return parse_cursor(value, field)


def parse_cursor(value: Any, field: str) -> int:
    """A cursor sent back by a client (an integer, or its decimal string).

    Raises:
        ValidationFailed: anything else.
    """
    if isinstance(value, bool):
        raise ValidationFailed(f"{field}: must be a cursor", field=field)
    if isinstance(value, int) and 0 <= value < 2**53:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 16:
        return int(value)
    raise ValidationFailed(f"{field}: must be a cursor (non-negative integer)", field=field)
