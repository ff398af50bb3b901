"""Which database errors mean "unreachable, retry" (503) rather than a failed statement (500)."""

from __future__ import annotations

import asyncpg.exceptions
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from tocsin.api.errors import _unreachable


def _wrapped(driver_error: Exception) -> DBAPIError:
    """What SQLAlchemy raises for an asyncpg error met while connecting."""
    try:
        try:
            raise driver_error
        except Exception as exc:
            raise AsyncAdapt_asyncpg_dbapi.Error(str(exc)) from exc
    except AsyncAdapt_asyncpg_dbapi.Error as adapted:
        return DBAPIError("connect", None, adapted)


def test_postgresql_shutting_down_while_connecting_is_unreachable() -> None:
    # Seen in chaos: a plain DBAPIError, not an OperationalError, not invalidated.
    shutting_down = asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")
    assert _unreachable(_wrapped(shutting_down))
    assert _unreachable(_wrapped(ConnectionResetError("reset by peer")))


def test_a_failed_statement_is_not_unreachable() -> None:
    syntax = asyncpg.exceptions.PostgresSyntaxError("syntax error at or near")
    assert not _unreachable(_wrapped(syntax))
