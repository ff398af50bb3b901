"""Database-strategy sessions: the cookie is opaque; the app's /api/auth/session resolves it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import make_settings
from tests.helpers import ServerThread, email, publish
from tocsin.config import Settings

SESSIONS = {"opaque-session-id-1": {"id": "alice", "tenantId": "firm-a", "role": "lawyer"}}


def fake_next_app(calls: list[str]) -> Starlette:
    """Stands in for the Next.js app: answers like NextAuth's /api/auth/session."""

    async def session(request: Request) -> JSONResponse:
        value = request.cookies.get("next-auth.session-token", "")
        calls.append(value)
        user = SESSIONS.get(value)
        if user is None:
            return JSONResponse({})
        return JSONResponse({"user": user, "expires": "2999-01-01T00:00:00.000Z"})

    return Starlette(routes=[Route("/api/auth/session", session)])


@pytest.fixture
def app_calls() -> list[str]:
    return []


@pytest.fixture
def next_app(app_calls: list[str]) -> Iterator[ServerThread]:
    node = ServerThread(
        make_settings("sqlite:///unused.db"), app_factory=lambda: fake_next_app(app_calls)
    )
    node.start()
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def tocsin(sqlite_url: str, next_app: ServerThread) -> Iterator[ServerThread]:
    settings: Settings = make_settings(
        sqlite_url, nextauth_url=next_app.url, session_cache_seconds=60
    )
    node = ServerThread(settings)
    node.start()
    try:
        yield node
    finally:
        node.close()


async def test_an_opaque_session_cookie_is_resolved_by_the_app_and_cached(
    tocsin: ServerThread, app_calls: list[str]
) -> None:
    import httpx

    cookie = {"Cookie": "next-auth.session-token=opaque-session-id-1"}
    for _ in range(2):
        sio = socketio.AsyncClient(reconnection=False)
        received: list[dict[str, object]] = []
        sio.on("email-received", received.append)
        # python-engineio moves the Cookie header out of the dict it is given: pass a copy.
        await sio.connect(
            tocsin.url, headers=dict(cookie), transports=["websocket"], wait_timeout=5
        )
        assert sio.connected
        await sio.disconnect()
    async with httpx.AsyncClient(base_url=tocsin.url) as http:
        published = await publish(http, email("alice", "firm-a", id="for-alice"))
        inbox = await http.get("/api/v1/inbox", headers=cookie)
        assert [(i["id"], i["sourceId"]) for i in inbox.json()["items"]] == [
            (published.json()["id"], "for-alice")
        ]
    assert app_calls == ["opaque-session-id-1"]  # asked once, then cached


async def test_an_unknown_opaque_cookie_is_refused(tocsin: ServerThread) -> None:
    sio = socketio.AsyncClient(reconnection=False)
    errors: list[object] = []
    sio.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            tocsin.url,
            headers={"Cookie": "next-auth.session-token=forged-id"},
            transports=["websocket"],
            wait_timeout=5,
        )
    assert errors == [{"message": "Unauthorized", "data": {"reason": "invalid_token"}}]
