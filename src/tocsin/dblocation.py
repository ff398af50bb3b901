"""Which database a command uses, said so that a person can check it.

The default ``sqlite+aiosqlite:///./tocsin.db`` is relative to the directory a process starts
in: a command run from another directory than the server's uses another, empty database.
So the CLI says which database it opens, and does not create a new SQLite file unless the
user named it (:func:`refuse_new_default_file`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from tocsin.config import ConfigError
from tocsin.redact import redact

DEFAULT_FILE = "tocsin.db"
FLAG = "--database-url"
VARIABLE = "TOCSIN_DATABASE_URL"


def sqlite_file(url: str) -> Path | None:
    """The absolute path of ``url``'s SQLite file; ``None`` for PostgreSQL or an in-memory
    database (nor for a ``file:`` URI, whose path SQLite itself interprets)."""
    parsed = make_url(url)
    database = parsed.database
    if not parsed.drivername.startswith("sqlite") or not database or database == ":memory:":
        return None
    if parsed.query.get("mode") == "memory" or database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute()


def shown(url: str) -> str:
    """``url`` with its password masked, and a SQLite path made absolute (so it can be
    pasted into ``--database-url`` from any directory)."""
    path = sqlite_file(url)
    if path is None:
        return redact(url)
    return make_url(url).set(database=str(path)).render_as_string(hide_password=True)


def _named(flag_value: str | None) -> str | None:
    if flag_value:
        return FLAG
    return VARIABLE if any(name.upper() == VARIABLE for name in os.environ) else None


def source(flag_value: str | None) -> str:
    """Where the database URL of a command came from: the flag, the variable, or neither."""
    return _named(flag_value) or f"the default ./{DEFAULT_FILE} of the current directory"


def likely_server_files() -> list[Path]:
    """Existing ``tocsin.db`` files a server started elsewhere probably uses: the checkout
    around the running virtualenv (``make run`` serves from there), then the directories
    above the current one."""
    places: list[Path] = []
    if sys.prefix != sys.base_prefix:
        places.append(Path(sys.prefix).parent)
    places.extend(Path.cwd().parents)
    found: list[Path] = []
    for place in places:
        candidate = (place / DEFAULT_FILE).absolute()
        if candidate.is_file() and candidate not in found:
            found.append(candidate)
    return found[:3]


def refuse_new_default_file(url: str, flag_value: str | None) -> None:
    """Refuse to create the default SQLite file behind the user's back.

    Only ``serve`` and ``demo`` create their database implicitly; any other command given
    neither ``--database-url`` nor ``TOCSIN_DATABASE_URL`` must find an existing
    ``./tocsin.db``, since a new one is certainly not the server's.

    Raises:
        ConfigError: the default file does not exist; the message says where the server's
            database probably is and how to name it.
    """
    path = sqlite_file(url)
    if _named(flag_value) or path is None or path.exists():
        return
    lines = [
        f"no database at {path}: the default ./{DEFAULT_FILE} is the one of the directory a "
        "command runs in, and a new one would not be the server's."
    ]
    candidates = likely_server_files()
    if candidates:
        where = candidates[0]
        lines.append(
            f"The server's is probably {where}"
            + (f" (or {', '.join(map(str, candidates[1:]))})" if candidates[1:] else "")
            + f": run this command from {where.parent}, or pass "
            f"{FLAG} sqlite:///{where} (or set {VARIABLE})."
        )
    else:
        lines.append(
            f"`tocsin serve` (and `make run`) keep ./{DEFAULT_FILE} in the directory they start "
            f"in: run this command there, or pass {FLAG} (or set {VARIABLE}) to the server's "
            "database."
        )
    lines.append(f"Naming a database with {FLAG} or {VARIABLE} creates it if needed.")
    raise ConfigError("\n  ".join(lines))
