"""Passwords out of URLs before anything prints or logs them."""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:password@host… — the password runs to the last "@" before the path, so
# one holding an unencoded "@" is masked whole.
_CREDENTIALS = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):(?P<password>[^/?#\s]*)@"
)


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``.

    ``redis://:s3cret@host:6379/0`` → ``redis://:***@host:6379/0``; the user name stays,
    so that the operator can tell which account is meant.
    """
    return _CREDENTIALS.sub(lambda m: f"{m['head']}:{MASK}@", text)
