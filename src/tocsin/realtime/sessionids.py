"""Session ids that name their worker process.

Under ``tocsin serve --workers N`` the kernel gives each new connection to any worker, but an
Engine.IO session lives in the one that created it. So each worker starts the session ids it
makes with its pid (``4242.`` and then python-engineio's 20 characters), and any worker can
tell whose a request is from its ``sid``; :mod:`tocsin.workerrouting` then hands the
connection to the owner, through the owner's unix socket in the directory the supervisor
made (``TOCSIN_WORKER_SOCKETS``).

A session id comes from the client, and its prefix names a file: only an id of exactly the
shape made here is read, and only its digits, as a number, go into the path.
"""

from __future__ import annotations

import os
import re

# Set by the supervisor of `tocsin serve --workers N` (never by hand): the 0700 directory
# holding each worker's unix socket, ``<pid>.sock``.
WORKER_SOCKETS_ENV = "TOCSIN_WORKER_SOCKETS"

# python-engineio's ids are 15 random bytes in URL-safe base64: 20 characters.
_WORKER_SESSION_ID = re.compile(r"([1-9][0-9]{0,9})\.[A-Za-z0-9_-]{20}")
_MAX_PID = 2**31 - 1


def worker_sockets() -> str | None:
    """The workers' sockets directory, in a worker of ``tocsin serve --workers N``."""
    return os.environ.get(WORKER_SOCKETS_ENV) or None


def session_prefix() -> str:
    """What this process puts before its session ids: ``"<pid>."`` in a worker, else ``""``."""
    return f"{os.getpid()}." if worker_sockets() else ""


def owner_of(sid: str) -> int | None:
    """The pid of the worker whose session ``sid`` is, if ``sid`` has a worker's shape."""
    match = _WORKER_SESSION_ID.fullmatch(sid)
    if match is None:
        return None
    pid = int(match.group(1))
    return pid if pid <= _MAX_PID else None


def socket_path(directory: str, pid: int) -> str:
    """The unix socket on which worker ``pid`` takes the connections of its sessions."""
    return os.path.join(directory, f"{int(pid)}.sock")
