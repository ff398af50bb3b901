"""Every HTTP error is JSON: ``{"error": code, "message": ..., "field": ...}``."""

from __future__ import annotations

import logging

from asyncpg.exceptions import CannotConnectNowError, PostgresConnectionError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from tocsin.auth.errors import AuthError
from tocsin.errors import RateLimited, TocsinError, from_pydantic

log = logging.getLogger("tocsin.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


class RefuseNulInUrl:
    """ASGI middleware: a NUL (``%00``) in an HTTP path or query is a 400 up front.

    PostgreSQL text cannot hold NUL. A plain ASGI class rather than ``@app.middleware``,
    whose per-request task group costs more than the rest of a small request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 400 for a NUL in the URL, else pass the request on."""
        if scope["type"] == "http":
            raw = scope.get("query_string", b"").lower() + scope.get("raw_path", b"").lower()
            if b"%00" in raw or "\x00" in scope.get("path", ""):
                body = {"error": "invalid_text", "message": "NUL character in the URL"}
                response = JSONResponse({**body, "field": "query"}, status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# SQLSTATE classes of a database that is unreachable rather than a statement that failed:
# 08 connection exception, 57P operator intervention (shutting down, starting up).
_UNREACHABLE_SQLSTATES = ("08", "57P")


def _unreachable(exc: Exception) -> bool:
    """A lost or refused database connection, as opposed to a bad statement."""
    if not isinstance(exc, DBAPIError):
        return True
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return True
    # SQLAlchemy wraps what asyncpg raises while connecting in a plain DBAPIError
    # ("the database system is shutting down"): look at the driver's own error.
    cause: BaseException | None = exc.orig
    while cause is not None:
        if isinstance(cause, ConnectionError | PostgresConnectionError | CannotConnectNowError):
            return True
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNREACHABLE_SQLSTATES):
            return True
        cause = cause.__cause__
    return False


def install_error_handlers(app: FastAPI) -> None:
    """Map service errors, validation errors and Starlette's own errors to JSON bodies."""

    app.add_middleware(RefuseNulInUrl)

    @app.exception_handler(TocsinError)
    async def _tocsin(_request: Request, exc: TocsinError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)

    @app.exception_handler(AuthError)
    async def _auth(_request: Request, exc: AuthError) -> JSONResponse:
        body = {"error": "unauthorized", "reason": exc.reason, "message": exc.detail}
        return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {**err, "loc": tuple(err.get("loc", ()))[1:] or err.get("loc", ())}
            for err in exc.errors()
        ]
        failure = from_pydantic(errors)
        return JSONResponse(failure.to_json(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    async def _database(_request: Request, exc: Exception) -> JSONResponse:
        if not _unreachable(exc):
            log.exception("database error", exc_info=exc)
            return JSONResponse({"error": "internal_error", "message": "internal error"}, 500)
        # The database is down or restarting: nothing was stored, a retry will do.
        log.warning("database unreachable: %s: %s", type(exc).__name__, exc)
        body = {"error": "store_unavailable", "message": "the database is unreachable; retry"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    # Connecting is not wrapped by SQLAlchemy: a refused or reset connection, or PostgreSQL
    # still starting up, reaches here as the driver's or the OS's own exception.
    for kind in (DBAPIError, ConnectionError, PostgresConnectionError, CannotConnectNowError):
        app.add_exception_handler(kind, _database)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"error": "internal_error", "message": "internal error"}, 500)
