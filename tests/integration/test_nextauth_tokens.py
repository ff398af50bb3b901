"""Sessions minted by the real ``next-auth`` v4 and ``@auth/core`` packages are accepted.

Issue 3, "must show" 1: a NextAuth v4 / Auth.js v5 session token, exactly as the app sets
it, authenticates a socket as a cookie, a chunked cookie, a ``__Secure-`` cookie and as
``auth.token``, and the end-user HTTP inbox with the same cookie; a token made with a
rotated-out secret that is still listed is accepted; one made with a secret that is not
configured is refused as ``invalid_token``. The tokens come from ``tests/compat/mint.mjs``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import socketio

from tests.compat.minting import (
    AUTHJS_CHUNK_SIZE,
    AUTHJS_COOKIE,
    AUTHJS_SECURE_COOKIE,
    NEXTAUTH_CHUNK_SIZE,
    NEXTAUTH_COOKIE,
    NEXTAUTH_SECURE_COOKIE,
    Lib,
    chunk_cookie,
    mint,
    require_minting,
)
from tests.compat.node_client import NodeClient, require_node_client
from tests.conftest import make_settings
from tests.helpers import NOTIFICATION_NAMES, EventLog, ServerThread, email, publish
from tocsin.config import Settings

pytestmark = pytest.mark.node

TENANT = "cabinet-1"
USER = "avocat-1"
OTHER_TENANT = "cabinet-2"
OTHER_USER = "avocat-2"

NEXTAUTH_SECRET = "nextauth-v4-secret-for-the-tests-0123456789abcdef"
AUTH_SECRET_NEW = "authjs-secret-current-for-the-tests-0123456789abcdef"
AUTH_SECRET_OLD = "authjs-secret-rotated-out-for-the-tests-0123456789"
UNKNOWN_SECRET = "a-secret-this-server-was-never-given-0123456789abcdef"

# Large enough that the token needs two cookie chunks (about 5.3 kB), small enough that the
# whole Cookie header stays under 8 kB: aiohttp drops cookies beyond an 8190-octet header,
# and uvicorn answers 431 to a WebSocket upgrade with a header line over 8192 bytes.
PADDING = {"preferences": "x" * 3600}
COOKIE_HEADER_LIMIT = 8000

CHUNK_SIZES = {
    NEXTAUTH_COOKIE: NEXTAUTH_CHUNK_SIZE,
    NEXTAUTH_SECURE_COOKIE: NEXTAUTH_CHUNK_SIZE,
    AUTHJS_COOKIE: AUTHJS_CHUNK_SIZE,
    AUTHJS_SECURE_COOKIE: AUTHJS_CHUNK_SIZE,
}


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    """The app's secrets: NextAuth v4's, and Auth.js's current one plus a rotated-out one."""
    return make_settings(
        sqlite_url,
        nextauth_secret=NEXTAUTH_SECRET,
        auth_secret=AUTH_SECRET_NEW,
        auth_secret_1=AUTH_SECRET_OLD,
    )


@pytest.fixture(autouse=True)
def _minting() -> None:
    """Skip (or fail) before any server starts when the npm packages are missing."""
    require_minting()


@dataclass(frozen=True)
class Session:
    """How the app minted its session token."""

    lib: Lib
    secret: str | list[str]
    salt: str | None = None
    padded: bool = False
    claims: dict[str, Any] = field(default_factory=dict)

    def token(self) -> str:
        """What the app's ``jwt`` callback would return, encoded by the real package."""
        if self.lib == "next-auth":
            claims: dict[str, Any] = {
                "name": "Maître Dupont",
                "email": "dupont@cabinet-1.fr",
                "picture": None,
                "sub": USER,
                "tenantId": TENANT,
                "role": "avocat",
            }
        else:
            claims = {
                "name": "Maître Dupont",
                "email": "dupont@cabinet-1.fr",
                "picture": None,
                "sub": USER,
                "id": USER,
                "tenantId": TENANT,
                "role": "avocat",
            }
        if self.padded:
            claims.update(PADDING)
        claims.update(self.claims)
        return mint(self.lib, self.secret, claims, salt=self.salt)


V4 = Session("next-auth", NEXTAUTH_SECRET)
AUTHJS = Session("authjs", AUTH_SECRET_NEW, salt=AUTHJS_COOKIE)
AUTHJS_SECURE = Session("authjs", AUTH_SECRET_NEW, salt=AUTHJS_SECURE_COOKIE)


def session_cookie(carrier: str, token: str) -> str:
    """A browser's ``Cookie`` header: the session (chunked or not) among the library's others."""
    kind, _, name = carrier.partition(":")
    if kind == "chunked":
        session = chunk_cookie(name, token, CHUNK_SIZES[name])
        assert f"{name}.1=" in session, "the token should need more than one chunk"
    else:
        session = f"{name}={token}"
    prefix = "authjs" if "authjs" in name else "next-auth"
    cookie = (
        f"{prefix}.csrf-token=0123456789abcdef%7C0123456789abcdef; {session}; "
        f"{prefix}.callback-url=http%3A%2F%2Flocalhost%3A3000%2Fdossiers"
    )
    assert len(cookie) < COOKIE_HEADER_LIMIT, f"a {len(cookie)}-byte Cookie header is too long"
    return cookie


def handshake(carrier: str, token: str) -> tuple[dict[str, str], dict[str, Any] | None]:
    """The headers and the ``auth`` payload that carry ``token`` as ``carrier`` says."""
    if carrier.startswith(("cookie:", "chunked:")):
        return {"Cookie": session_cookie(carrier, token)}, None
    if carrier == "auth":
        return {}, {"token": token}
    if carrier == "bearer":
        return {"Authorization": f"Bearer {token}"}, None
    raise AssertionError(f"unknown carrier {carrier!r}")


@dataclass
class Socket:
    """A python-socketio client that logs its events and its ``connect_error``."""

    url: str
    sio: socketio.AsyncClient = field(
        default_factory=lambda: socketio.AsyncClient(reconnection=False)
    )
    log: EventLog = field(default_factory=EventLog)
    errors: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sio.on("*", self._any)
        self.sio.on("connect_error", self.errors.append)

    async def _any(self, event: str, data: Any = None) -> None:
        self.log.add(event, data)

    async def connect(self, headers: dict[str, str], auth: dict[str, Any] | None) -> None:
        """Connect over the websocket transport; fail with the server's reason if refused."""
        try:
            await self.sio.connect(
                self.url, headers=headers, auth=auth, transports=["websocket"], wait_timeout=10
            )
        except socketio.exceptions.ConnectionError as exc:
            raise AssertionError(f"refused: {self.errors or exc}") from None

    async def refusal(self, headers: dict[str, str], auth: dict[str, Any] | None) -> Any:
        """Connect expecting a refusal; the ``connect_error`` payload."""
        with pytest.raises(socketio.exceptions.ConnectionError):
            await self.sio.connect(
                self.url, headers=headers, auth=auth, transports=["websocket"], wait_timeout=10
            )
        assert not self.sio.connected
        assert len(self.errors) == 1, self.errors
        return self.errors[0]

    async def close(self) -> None:
        """Disconnect if connected."""
        if self.sio.connected:
            await self.sio.disconnect()


@pytest.fixture
async def sockets(server: ServerThread) -> AsyncIterator[list[Socket]]:
    """Sockets to the test's server, closed afterwards (append to get one)."""
    opened: list[Socket] = []
    yield opened
    for sock in opened:
        with contextlib.suppress(Exception):
            await sock.close()


def new_socket(server: ServerThread, sockets: list[Socket]) -> Socket:
    sock = Socket(server.url)
    sockets.append(sock)
    return sock


async def publish_for_the_session(http: httpx.AsyncClient) -> str:
    """Decoys to the same user id in another tenant and to a colleague, then the user's own;
    the id Tocsin gave the user's own (its sourceId is ``for-the-session``)."""
    for decoy in (
        email(USER, OTHER_TENANT, "Pas pour vous", id="decoy-other-tenant"),
        email(OTHER_USER, TENANT, "Pour un confrère", id="decoy-other-user"),
        email(USER, TENANT, "Pour vous", id="for-the-session"),
    ):
        response = await publish(http, decoy)
        assert response.status_code == 202, response.text
    own: str = response.json()["id"]
    return own


async def assert_receives_own_notification(sock: Socket, http: httpx.AsyncClient) -> None:
    expected = await publish_for_the_session(http)

    await sock.log.wait_for(
        lambda log: any(n["id"] == expected for n in log.of(*NOTIFICATION_NAMES))
    )

    [received] = sock.log.of(*NOTIFICATION_NAMES)
    assert (received["id"], received["sourceId"]) == (expected, "for-the-session")
    assert (received["tenantId"], received["userId"]) == (TENANT, USER)


SOCKET_CASES = [
    pytest.param(V4, f"cookie:{NEXTAUTH_COOKIE}", id="next-auth-cookie"),
    pytest.param(V4, f"cookie:{NEXTAUTH_SECURE_COOKIE}", id="next-auth-secure-cookie"),
    pytest.param(V4, "auth", id="next-auth-auth-token"),
    pytest.param(V4, "bearer", id="next-auth-bearer"),
    pytest.param(AUTHJS, f"cookie:{AUTHJS_COOKIE}", id="authjs-cookie"),
    pytest.param(AUTHJS_SECURE, f"cookie:{AUTHJS_SECURE_COOKIE}", id="authjs-secure-cookie"),
    pytest.param(AUTHJS, "auth", id="authjs-auth-token"),
    pytest.param(AUTHJS_SECURE, "auth", id="authjs-secure-salt-auth-token"),
    pytest.param(AUTHJS, "bearer", id="authjs-bearer"),
    pytest.param(
        Session("next-auth", NEXTAUTH_SECRET, padded=True),
        f"chunked:{NEXTAUTH_COOKIE}",
        id="next-auth-chunked-cookie",
    ),
    pytest.param(
        Session("authjs", AUTH_SECRET_NEW, salt=AUTHJS_COOKIE, padded=True),
        f"chunked:{AUTHJS_COOKIE}",
        id="authjs-chunked-cookie",
    ),
    pytest.param(
        Session("authjs", AUTH_SECRET_NEW, salt=AUTHJS_SECURE_COOKIE, padded=True),
        f"chunked:{AUTHJS_SECURE_COOKIE}",
        id="authjs-secure-chunked-cookie",
    ),
    pytest.param(
        Session("authjs", AUTH_SECRET_OLD, salt=AUTHJS_COOKIE),
        f"cookie:{AUTHJS_COOKIE}",
        id="authjs-rotated-out-secret-cookie",
    ),
    pytest.param(
        Session("authjs", AUTH_SECRET_OLD, salt=AUTHJS_SECURE_COOKIE),
        "auth",
        id="authjs-rotated-out-secret-auth-token",
    ),
    pytest.param(
        Session("authjs", [AUTH_SECRET_NEW, AUTH_SECRET_OLD], salt=AUTHJS_COOKIE),
        f"cookie:{AUTHJS_COOKIE}",
        id="authjs-secret-array-cookie",
    ),
    pytest.param(
        Session("next-auth", AUTH_SECRET_OLD),
        f"cookie:{NEXTAUTH_COOKIE}",
        id="next-auth-rotated-out-secret-cookie",
    ),
    pytest.param(
        Session("authjs", AUTH_SECRET_NEW, salt=AUTHJS_COOKIE, claims={"id": USER, "sub": "gh-1"}),
        f"cookie:{AUTHJS_COOKIE}",
        id="authjs-id-claim-wins-over-sub",
    ),
]


@pytest.mark.parametrize(("session", "carrier"), SOCKET_CASES)
async def test_minted_session_authenticates_a_socket(
    server: ServerThread,
    http: httpx.AsyncClient,
    sockets: list[Socket],
    session: Session,
    carrier: str,
) -> None:
    headers, auth = handshake(carrier, session.token())
    sock = new_socket(server, sockets)

    await sock.connect(headers, auth)

    await assert_receives_own_notification(sock, http)


REFUSED_CASES = [
    pytest.param(
        Session("next-auth", UNKNOWN_SECRET), f"cookie:{NEXTAUTH_COOKIE}", id="next-auth-cookie"
    ),
    pytest.param(Session("next-auth", UNKNOWN_SECRET), "auth", id="next-auth-auth-token"),
    pytest.param(
        Session("authjs", UNKNOWN_SECRET, salt=AUTHJS_COOKIE),
        f"cookie:{AUTHJS_COOKIE}",
        id="authjs-cookie",
    ),
    pytest.param(
        Session("authjs", UNKNOWN_SECRET, salt=AUTHJS_SECURE_COOKIE),
        f"cookie:{AUTHJS_SECURE_COOKIE}",
        id="authjs-secure-cookie",
    ),
    pytest.param(
        Session("authjs", UNKNOWN_SECRET, salt=AUTHJS_COOKIE), "auth", id="authjs-auth-token"
    ),
    pytest.param(
        Session("authjs", UNKNOWN_SECRET, salt=AUTHJS_COOKIE, padded=True),
        f"chunked:{AUTHJS_COOKIE}",
        id="authjs-chunked-cookie",
    ),
]


@pytest.mark.parametrize(("session", "carrier"), REFUSED_CASES)
async def test_session_from_an_unconfigured_secret_is_refused(
    server: ServerThread, sockets: list[Socket], session: Session, carrier: str
) -> None:
    headers, auth = handshake(carrier, session.token())
    sock = new_socket(server, sockets)

    refusal = await sock.refusal(headers, auth)

    assert refusal == {"message": "Unauthorized", "data": {"reason": "invalid_token"}}
    assert sock.log.events == []


INBOX_CASES = [
    pytest.param(V4, f"cookie:{NEXTAUTH_COOKIE}", id="next-auth-cookie"),
    pytest.param(V4, f"cookie:{NEXTAUTH_SECURE_COOKIE}", id="next-auth-secure-cookie"),
    pytest.param(AUTHJS, f"cookie:{AUTHJS_COOKIE}", id="authjs-cookie"),
    pytest.param(AUTHJS_SECURE, f"cookie:{AUTHJS_SECURE_COOKIE}", id="authjs-secure-cookie"),
    pytest.param(
        Session("authjs", AUTH_SECRET_NEW, salt=AUTHJS_COOKIE, padded=True),
        f"chunked:{AUTHJS_COOKIE}",
        id="authjs-chunked-cookie",
    ),
    pytest.param(
        Session("authjs", AUTH_SECRET_OLD, salt=AUTHJS_COOKIE),
        f"cookie:{AUTHJS_COOKIE}",
        id="authjs-rotated-out-secret-cookie",
    ),
    pytest.param(AUTHJS, "bearer", id="authjs-bearer"),
]


@pytest.mark.parametrize(("session", "carrier"), INBOX_CASES)
async def test_minted_session_reads_its_own_http_inbox(
    http: httpx.AsyncClient, session: Session, carrier: str
) -> None:
    headers, auth = handshake(carrier, session.token())
    assert auth is None
    expected = await publish_for_the_session(http)

    response = await http.get("/api/v1/inbox", headers=headers)

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(item["id"], item["sourceId"]) for item in items] == [(expected, "for-the-session")]
    assert (items[0]["tenantId"], items[0]["userId"]) == (TENANT, USER)


async def test_node_socket_io_client_with_the_session_cookie(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    node = require_node_client()
    cookie = session_cookie(f"cookie:{AUTHJS_COOKIE}", AUTHJS.token())
    client = NodeClient(node, server.url, {}, {"extraHeaders": {"Cookie": cookie}})
    await client.start()
    try:
        await client.connected()
        expected = await publish_for_the_session(http)

        await client.wait_for(lambda _: bool(client.events("email-received")))

        [received] = client.events("email-received")
        assert (received["id"], received["sourceId"]) == (expected, "for-the-session")
        assert (received["tenantId"], received["userId"]) == (TENANT, USER)
    finally:
        await client.close()
