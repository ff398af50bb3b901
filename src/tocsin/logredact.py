"""Keep Engine.IO session ids out of the access log.

uvicorn logs each request's path with its query string, and a polling or upgrading
Engine.IO request carries ``sid=…``: whoever reads the log could poll that session and
receive the user's events. The filter rewrites the value before any handler formats it.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "REDACTED"
_SID = re.compile(r"([?&]sid=)[^&#\s\"]*")


def redact_sid(text: str) -> str:
    """``/socket.io/?EIO=4&sid=abc`` → ``/socket.io/?EIO=4&sid=REDACTED``."""
    return _SID.sub(rf"\g<1>{REDACTED}", text) if "sid=" in text else text


class RedactSid(logging.Filter):
    """A logging filter: ``sid=`` values in a record's message and arguments are redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        if isinstance(record.msg, str):
            record.msg = redact_sid(record.msg)
        if isinstance(record.args, tuple):
            # uvicorn's AccessFormatter unpacks the arguments: keep their number and order.
            record.args = tuple(redact_sid(a) if isinstance(a, str) else a for a in record.args)
        return True


def uvicorn_log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's default logging configuration with :class:`RedactSid` on the access log,
    and Tocsin's own loggers (``tocsin.*``) through uvicorn's handler at ``level``.

    Given to uvicorn as ``log_config``, it reaches worker processes too (each configures its
    logging from it).
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    # Without a handler of their own, Tocsin's warnings reached stderr unformatted and its
    # info lines (``tocsin ready``) nowhere. Propagating keeps an embedding app's root
    # handlers (and pytest's caplog) informed too.
    config["loggers"]["tocsin"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": True,
    }
    config.setdefault("filters", {})["redact_sid"] = {"()": RedactSid}
    access = config["loggers"].setdefault(ACCESS_LOGGER, {})
    access["filters"] = [*access.get("filters", []), "redact_sid"]
    return config
