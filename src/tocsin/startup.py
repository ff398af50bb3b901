"""Start-up problems said in a line: which setting, which URL (password masked), what failed.

A node that cannot open its database, or cannot take its port, says so the way an operator
fixes it, not as a traceback through SQLAlchemy, redis-py and Starlette.
:class:`StartupError` carries that line; :class:`ShortStartupFailure` hands it to the server
in place of the traceback Starlette reports for any failed lifespan.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from tocsin.config import Settings
from tocsin.dblocation import shown, sqlite_file
from tocsin.redact import redact


class StartupError(Exception):
    """The node cannot start; the message names the setting or flag to change."""


def describe_failure(exc: BaseException) -> str:
    """``exc`` in one line, passwords masked: the driver's own error when SQLAlchemy wraps
    one (its text repeats SQL and a link to its documentation)."""
    inner = getattr(exc, "orig", None) or exc
    # SQLAlchemy's asyncpg adapter re-raises asyncpg's error as a generic one: name the cause.
    name = type(inner.__cause__ or inner).__name__
    lines = redact(str(inner)).strip().splitlines()
    return f"{name}: {lines[0]}" if lines else name


def cannot_open(setting: str, url: str, exc: BaseException) -> StartupError:
    """The error of a store or bus at ``url`` (read from ``setting``) that failed with ``exc``."""
    reason = describe_failure(exc)
    path = sqlite_file(url)
    if path is not None and not path.parent.is_dir():
        # SQLite's own message ("unable to open database file") names no path.
        reason += f" (there is no directory {path.parent})"
    return StartupError(f"{setting}: cannot open {shown(url)}: {reason}")


class ShortStartupFailure:
    """ASGI middleware: a :class:`StartupError` raised by the lifespan reaches the server
    as its message alone, instead of the whole traceback."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Pass everything through; hold a failed start-up until its exception is known."""
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[dict[str, Any]] = []

        async def hold_failure(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)
            else:
                await send(message)

        try:
            await self.app(scope, receive, hold_failure)
        except BaseException as exc:
            if held and isinstance(exc, StartupError):
                held[0] = {**held[0], "message": str(exc)}
            for message in held:
                await send(message)
            raise
        for message in held:
            await send(message)


def ensure_port_free(host: str, port: int) -> None:
    """Check that ``host:port`` can be listened on, before anything starts.

    uvicorn binds only after the application's start-up (database, migrations, scheduler)
    and then prints a bare errno message: say it first, with what to do.

    Raises:
        StartupError: the port is taken, or the address cannot be bound.
    """
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port in TIME_WAIT is free, one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {port} is in use: another tocsin? try --port {port + 1} or TOCSIN_PORT"
                ) from None
            raise StartupError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} (TOCSIN_HOST, TOCSIN_PORT)"
            ) from None


def missing_secrets(settings: Settings) -> list[str]:
    """What a node started without secrets should tell its operator: nobody could use it."""
    lines: list[str] = []
    no_users = not (settings.session_secrets or settings.jwt_secret or settings.jwt_public_key)
    if no_users:
        lines.append(
            "warning: no user can connect: set AUTH_SECRET or NEXTAUTH_SECRET (your NextAuth "
            "app's secret), or TOCSIN_JWT_SECRET (then `tocsin token` mints user tokens)"
        )
    if not settings.admin_key:
        lines.append(
            "note: TOCSIN_ADMIN_KEY is not set: only tenant keys can publish "
            "(`tocsin keys create --tenant T`), or set it to publish anywhere"
        )
    if no_users:
        lines.append("to try Tocsin with nothing to set up: `make demo` (or `tocsin demo`)")
    return lines
