"""Issue 15, findings 7, 8 and 10: what a credential can cost a node, and what a refusal says.

- 7: database-session cookies are looked up through one HTTP client, refusals are cached,
  one cookie is asked once however many requests carry it, and lookups in flight are capped.
- 8: a malformed token of any shape is a 401 / ``invalid_token``, never a 500 or silence.
- 10: `tocsin checkconfig` prints no password; 401 bodies name no secret variable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import make_settings
from tests.forge import AUTH_SECRET, authjs_token, b64, claims
from tests.helpers import JWT_SECRET, ServerThread, token
from tocsin.auth import dbsession
from tocsin.auth.credentials import Credential
from tocsin.auth.dbsession import DatabaseSessions, ExpiringCache
from tocsin.auth.errors import AuthError
from tocsin.auth.identity import Authenticator

COOKIE = "next-auth.session-token"
SESSIONS = {
    "known-session": {"id": "alice", "tenantId": "firm-a"},
    "expired-session": {"id": "bob", "tenantId": "firm-a"},
}
EXPIRES = {"expired-session": "2000-01-01T00:00:00.000Z"}


# -- finding 7: database sessions ------------------------------------------------------


class FakeNextAuth:
    """A Next.js app's ``/api/auth/session`` that counts calls, connections and concurrency.

    ``hold(n)`` keeps every request waiting (and sets ``reached`` once ``n`` are waiting)
    until ``release()``.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.ports: set[int] = set()
        self.active = 0
        self.max_active = 0
        self.reached = threading.Event()
        self.fail_once: set[str] = set()
        self._hold_at = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gate: asyncio.Event | None = None

    def app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            self._loop = asyncio.get_running_loop()
            self._gate = asyncio.Event()
            self._gate.set()
            yield

        return Starlette(routes=[Route("/api/auth/session", self._session)], lifespan=lifespan)

    async def _session(self, request: Request) -> JSONResponse:
        assert self._gate is not None
        value = request.cookies.get(COOKIE, "")
        self.calls.append(value)
        if request.client is not None:
            self.ports.add(request.client.port)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        if self._hold_at and self.active >= self._hold_at:
            self.reached.set()
        try:
            await self._gate.wait()
        finally:
            self.active -= 1
        if value in self.fail_once:
            self.fail_once.discard(value)
            return JSONResponse({"error": "restarting"}, status_code=502)
        user = SESSIONS.get(value)
        if user is None:
            return JSONResponse({})  # what NextAuth answers for no session
        expires = EXPIRES.get(value, "2999-01-01T00:00:00.000Z")
        return JSONResponse({"user": user, "expires": expires})

    def _in_loop(self, action: Callable[[], None]) -> None:
        assert self._loop is not None

        async def run() -> None:
            action()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=5)

    def hold(self, count: int) -> None:
        """Hold requests from now on; ``reached`` is set once ``count`` are held."""
        self._hold_at = count
        self.reached.clear()
        assert self._gate is not None
        self._in_loop(self._gate.clear)

    def release(self) -> None:
        """Let every held request (and later ones) through."""
        assert self._gate is not None
        self._in_loop(self._gate.set)


@pytest.fixture
def fake_app() -> Iterator[tuple[FakeNextAuth, ServerThread]]:
    fake = FakeNextAuth()
    node = ServerThread(make_settings("sqlite:///unused.db"), app_factory=fake.app)
    node.start()
    try:
        yield fake, node
    finally:
        node.close()


@contextlib.contextmanager
def tocsin_node(sqlite_url: str, app_url: str, **extra: object) -> Iterator[ServerThread]:
    settings = make_settings(
        sqlite_url,
        nextauth_url=app_url,
        session_cache_seconds=60,
        session_refusal_cache_seconds=60,
        **extra,
    )
    node = ServerThread(settings)
    node.start()
    try:
        yield node
    finally:
        node.close()


def sessions_of(node: ServerThread) -> DatabaseSessions:
    found = node.service.authenticator.database_sessions
    assert isinstance(found, DatabaseSessions)
    return found


def cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={value}"}


def metric(text: str, outcome: str) -> float:
    found = re.search(rf'^tocsin_session_lookups_total{{outcome="{outcome}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def lookups(http: httpx.AsyncClient) -> dict[str, float]:
    text = (await http.get("/metrics")).text
    outcomes = ("cache_hit", "refusal_cache_hit", "joined", "app_session", "app_no_session")
    return {name: metric(text, name) for name in (*outcomes, "app_error", "saturated")}


async def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition another thread makes true (checked every 10 ms, bounded)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        await asyncio.sleep(0.01)


async def refused_socket(url: str, **connect: Any) -> list[Any]:
    sio = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    sio.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(url, transports=["websocket"], wait_timeout=5, **connect)
    return errors


@pytest.mark.attack(
    title="Unknown database-session cookies (finding 7)",
    tried="sequential, concurrent and socket requests with unknown cookies, `NEXTAUTH_URL` set",
    times=26,
)
async def test_one_unknown_cookie_asks_the_app_once(
    sqlite_url: str, fake_app: tuple[FakeNextAuth, ServerThread]
) -> None:
    fake, app = fake_app
    with tocsin_node(sqlite_url, app.url) as node:
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            before = await lookups(http)
            for _ in range(5):
                refused = await http.get("/api/v1/inbox", headers=cookie("forged-1"))
                assert refused.status_code == 401
                assert refused.json()["reason"] == "invalid_token"
            together = await asyncio.gather(
                *(http.get("/web/session", headers=cookie("forged-2")) for _ in range(20))
            )
            assert {r.status_code for r in together} == {401}
            errors = await refused_socket(node.url, headers=cookie("forged-1"))
            assert errors == [{"message": "Unauthorized", "data": {"reason": "invalid_token"}}]
            after = await lookups(http)
    assert fake.calls == ["forged-1", "forged-2"]
    assert after["app_no_session"] - before["app_no_session"] == 2
    # 4 repeats and the socket from the refusal cache; the 19 concurrent ones shared the
    # lookup in flight or, once it was answered, the cache.
    answered = after["refusal_cache_hit"] + after["joined"]
    assert answered - before["refusal_cache_hit"] - before["joined"] == 4 + 19 + 1


async def test_lookups_share_one_http_client_closed_at_shutdown(
    sqlite_url: str, fake_app: tuple[FakeNextAuth, ServerThread]
) -> None:
    fake, app = fake_app
    with tocsin_node(sqlite_url, app.url) as node:
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            for n in range(30):
                refused = await http.get("/api/v1/inbox", headers=cookie(f"unknown-{n}"))
                assert refused.status_code == 401
            found = await http.get("/api/v1/inbox", headers=cookie("known-session"))
            assert found.status_code == 200
        assert len(fake.calls) == 31
        # One kept-alive connection for 31 sequential lookups (a client per lookup: 31).
        assert len(fake.ports) == 1
        sessions = sessions_of(node)
        assert sessions.clients_created == 1
        node.stop()
        assert sessions.client is None


@pytest.mark.attack(
    title="Session lookups in flight (finding 7)",
    tried="9 held lookups against a cap of 3",
    times=9,
)
async def test_lookups_in_flight_are_capped(
    sqlite_url: str, fake_app: tuple[FakeNextAuth, ServerThread]
) -> None:
    fake, app = fake_app
    with tocsin_node(sqlite_url, app.url, session_lookups=3) as node:
        sessions = sessions_of(node)
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            fake.hold(3)
            requests = [
                asyncio.ensure_future(http.get("/api/v1/inbox", headers=cookie(f"many-{n}")))
                for n in range(9)
            ]
            assert await asyncio.to_thread(fake.reached.wait, 10)
            await wait_until(lambda: sessions.pending == 9)
            assert fake.active == 3  # six lookups wait for a slot
            fake.release()
            answers = await asyncio.gather(*requests)
    assert {a.status_code for a in answers} == {401}
    assert len(fake.calls) == 9
    assert fake.max_active == 3


async def test_a_full_lookup_queue_refuses_at_once(
    sqlite_url: str,
    fake_app: tuple[FakeNextAuth, ServerThread],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, app = fake_app
    monkeypatch.setattr(dbsession, "MAX_WAITING", 2)
    with tocsin_node(sqlite_url, app.url, session_lookups=1) as node:
        sessions = sessions_of(node)
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            before = await lookups(http)
            fake.hold(1)
            held = [
                asyncio.ensure_future(http.get("/api/v1/inbox", headers=cookie(f"slot-{n}")))
                for n in range(3)
            ]
            assert await asyncio.to_thread(fake.reached.wait, 10)
            await wait_until(lambda: sessions.pending == 3)
            # One asking, two waiting: the next one is refused while they are still held.
            extra = await asyncio.wait_for(
                http.get("/api/v1/inbox", headers=cookie("one-too-many")), 5
            )
            assert extra.status_code == 401 and extra.json()["reason"] == "invalid_token"
            fake.release()
            assert {r.status_code for r in await asyncio.gather(*held)} == {401}
            after = await lookups(http)
    assert "one-too-many" not in fake.calls
    assert after["saturated"] - before["saturated"] == 1


async def test_a_failing_app_is_not_cached_as_a_refusal(
    sqlite_url: str, fake_app: tuple[FakeNextAuth, ServerThread]
) -> None:
    fake, app = fake_app
    fake.fail_once.add("known-session")
    with tocsin_node(sqlite_url, app.url) as node:
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            first = await http.get("/api/v1/inbox", headers=cookie("known-session"))
            assert first.status_code == 401
            second = await http.get("/api/v1/inbox", headers=cookie("known-session"))
            assert second.status_code == 200
            third = await http.get("/api/v1/inbox", headers=cookie("known-session"))
            assert third.status_code == 200
    assert fake.calls == ["known-session", "known-session"]  # the session is cached


async def test_a_session_is_not_cached_past_its_expiry(
    sqlite_url: str, fake_app: tuple[FakeNextAuth, ServerThread]
) -> None:
    fake, app = fake_app
    with tocsin_node(sqlite_url, app.url) as node:
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            for _ in range(2):
                stale = await http.get("/api/v1/inbox", headers=cookie("expired-session"))
                assert stale.status_code == 401 and stale.json()["reason"] == "expired"
    assert fake.calls == ["expired-session", "expired-session"]


def test_the_caches_are_bounded_and_evict_the_least_recently_used() -> None:
    cache: ExpiringCache[int] = ExpiringCache(max_entries=3)
    for n in range(3):
        cache.put(bytes([n]), n, until=100.0)
    assert cache.get(b"\x00", now=1.0) == 0  # used: now the newest
    cache.put(b"\x03", 3, until=100.0)
    assert len(cache) == 3
    assert cache.get(b"\x01", now=1.0) is None  # the least recently used went
    assert cache.get(b"\x00", now=1.0) == 0
    assert cache.get(b"\x03", now=100.0) is None  # expired
    assert len(cache) == 2


# -- finding 8: malformed tokens -------------------------------------------------------

VALID_JWE = authjs_token(claims())
VALID_JWS = token("alice", "firm-a")


def with_segment(value: str, index: int, segment: str) -> str:
    parts = value.split(".")
    parts[index] = segment
    return ".".join(parts)


MALFORMED: dict[str, str] = {
    "issue 15": "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0.a.b.c.d",
    **{
        f"jwe segment {i + 1} {label}": with_segment(VALID_JWE, i, bad)
        for i in range(5)
        for label, bad in (("bad length", "a"), ("bad alphabet", "ab!c"), ("bad bits", "ab"))
    },
    **{
        f"jws segment {i + 1} {label}": with_segment(VALID_JWS, i, bad)
        for i in range(3)
        for label, bad in (("bad length", "a"), ("bad alphabet", "ab+/"), ("padding", "ab=="))
    },
    "jwe short iv": with_segment(VALID_JWE, 2, b64(b"abc")),
    "jwe ciphertext off the block size": with_segment(VALID_JWE, 3, b64(b"x" * 5)),
    "jwe short tag": with_segment(VALID_JWE, 4, b64(b"x")),
    "gcm all segments tiny": "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.AAAA.AAAA",
    "six segments": "a.b.c.d.e.f",
    "two segments": "eyJhbGciOiJkaXIifQ.x",
    "only dots 4": "....",
    "only dots 2": "..",
    "header not json": b64(b"not json") + ".AAAA.AAAA",
    "header a list": b64(b"[1, 2]") + ".AAAA.AAAA.AAAA.AAAA",
    "header not utf-8": b64(b"\xff\xfe\xfd") + ".AAAA.AAAA",
    "header nested deep": b64(b"[" * 3000 + b"]" * 3000) + ".AAAA.AAAA",
    "enc a list": b64({"alg": "dir", "enc": ["A256GCM"]}) + ".AAAA.AAAA.AAAA.AAAA",
    "alg an object": b64({"alg": {"x": 1}}) + ".AAAA.AAAA",
    "kid an object": b64({"alg": "dir", "enc": "A256GCM", "kid": {}}) + ".AAAA.AAAA.AAAA.AAAA",
    "non-ascii": "eyJhbGciOiJkaXIifQ.\u00e9.b.c.d",
    "large": "eyJhbGciOiJIUzI1NiJ9." + "A" * 20_000 + ".sig",
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    database = tmp_path_factory.mktemp("hardening") / "tocsin.db"
    settings = make_settings(
        f"sqlite+aiosqlite:///{database}", auth_secret=AUTH_SECRET, jwt_secret=JWT_SECRET
    )
    server = ServerThread(settings)
    server.start()
    try:
        yield server
    finally:
        server.close()


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == "invalid_token"


@pytest.mark.attack(
    title="Malformed tokens (finding 8)",
    tried=(
        "a malformed JWE/JWT shape as bearer, two cookie names on "
        "/api/v1/inbox and /web/session, and as `auth.token`"
    ),
    times=6,
)
@pytest.mark.parametrize("malformed", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_a_malformed_token_is_refused_everywhere(node: ServerThread, malformed: str) -> None:
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        # Bytes: httpx would refuse to send a non-ASCII str header.
        bearer = {"Authorization": f"Bearer {malformed}".encode()}
        assert_invalid_token(await http.get("/api/v1/inbox", headers=bearer))
        assert_invalid_token(await http.get("/web/session", headers=bearer))
        for name in ("authjs.session-token", "__Secure-next-auth.session-token"):
            session = {"Cookie": f"{name}={malformed}".encode()}
            assert_invalid_token(await http.get("/api/v1/inbox", headers=session))
            assert_invalid_token(await http.get("/web/session", headers=session))
    refusal = {"message": "Unauthorized", "data": {"reason": "invalid_token"}}
    assert await refused_socket(node.url, auth={"token": malformed}) == [refusal]


async def test_a_malformed_session_cookie_on_a_socket_is_refused(node: ServerThread) -> None:
    errors = await refused_socket(
        node.url, headers={"Cookie": f"authjs.session-token={MALFORMED['issue 15']}"}
    )
    assert errors == [{"message": "Unauthorized", "data": {"reason": "invalid_token"}}]


async def test_a_token_beyond_the_length_bound_is_refused_on_a_socket(node: ServerThread) -> None:
    huge = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0." + ".".join(["A" * 50_000] * 4)
    errors = await refused_socket(node.url, auth={"token": huge})
    assert errors == [{"message": "Unauthorized", "data": {"reason": "invalid_token"}}]


async def test_odd_session_cookie_chunk_names_are_ignored(node: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        for suffix in ("\u00b2", "9" * 5000):
            # Latin-1: what the server decodes headers as, so it reads "²" itself.
            odd = {"Cookie": f"authjs.session-token.{suffix}={VALID_JWE}".encode("latin-1")}
            refused = await http.get("/api/v1/inbox", headers=odd)
            assert refused.status_code == 401 and refused.json()["reason"] == "missing_token"
        valid = {"Cookie": f"authjs.session-token={VALID_JWE}"}
        assert (await http.get("/api/v1/inbox", headers=valid)).status_code == 200


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_HEADERS = [
    VALID_JWE.split(".")[0],
    VALID_JWS.split(".")[0],
    b64({"alg": "dir", "enc": "A256GCM"}),
    b64({"alg": "RS256"}),
]


@st.composite
def token_like(draw: st.DrawFn) -> str:
    """Tokens near the valid ones: a real header or random text, then 1 to 6 segments."""
    segment = st.text(alphabet=_B64URL + "=+/!.\u00e9 ", max_size=60)
    head = draw(st.one_of(st.sampled_from(_HEADERS), segment))
    rest = draw(st.lists(segment, min_size=0, max_size=6))
    return ".".join([head, *rest])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid token with one segment replaced by base64url text (valid or not)."""
    valid = draw(st.sampled_from([VALID_JWE, VALID_JWS]))
    parts = valid.split(".")
    index = draw(st.integers(0, len(parts) - 1))
    parts[index] = draw(st.text(alphabet=_B64URL, max_size=120))
    return ".".join(parts)


@hypothesis_settings(max_examples=400, deadline=None, database=None)
@given(
    value=st.one_of(token_like(), mutated()),
    cookie_name=st.sampled_from([None, "authjs.session-token", "next-auth.session-token"]),
)
def test_any_token_shape_is_an_auth_error_or_a_session(value: str, cookie_name: str | None) -> None:
    authenticator = Authenticator(
        make_settings("sqlite:///unused.db", auth_secret=AUTH_SECRET, jwt_secret=JWT_SECRET)
    )
    credential = Credential(value, "cookie" if cookie_name else "header", cookie_name)
    with contextlib.suppress(AuthError):
        asyncio.run(authenticator.authenticate(credential))


# -- finding 10: no secrets in what is printed or answered -----------------------------

SECRET_NAMES = re.compile(r"AUTH_SECRET|NEXTAUTH|JWT_SECRET|JWT_PUBLIC_KEY|TOCSIN_")


@pytest.mark.attack(
    title="401 bodies naming the secret variables (finding 10)",
    tried="refused tokens on HTTP routes; bodies searched for secret variable names",
    times=1,
)
async def test_refusals_name_no_secret_variable(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(sqlite_url, auth_secret=AUTH_SECRET, jwt_secret=None)
    server = ServerThread(settings)
    server.start()
    rsa = RSAKey.generate_key(2048)
    refused = {
        "another secret's session": authjs_token(claims(), "another-secret-long-enough-0123"),
        "HS256 without TOCSIN_JWT_SECRET": token("alice", "firm-a"),
        "RS256 without a public key": jwt.encode(
            {"alg": "RS256"}, claims(), rsa, algorithms=["RS256"]
        ),
        "an opaque cookie without NEXTAUTH_URL": "opaque-database-session-id",
    }
    try:
        with caplog.at_level("INFO", logger="tocsin.auth"):
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                for what, value in refused.items():
                    for headers in (
                        {"Authorization": f"Bearer {value}"},
                        {"Cookie": f"authjs.session-token={value}"},
                    ):
                        for path in ("/api/v1/inbox", "/web/session"):
                            answer = await http.get(path, headers=headers)
                            assert answer.status_code == 401, (what, path)
                            assert not SECRET_NAMES.search(answer.text), (what, answer.text)
    finally:
        server.close()
    # The operator still learns exactly why, from the server's log.
    assert "derived from AUTH_SECRET" in caplog.text
    assert "TOCSIN_JWT_SECRET is not set" in caplog.text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def checkconfig(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("TOCSIN_", "AUTH_", "NEXTAUTH"))
    }
    return subprocess.run(
        [sys.executable, "-m", "tocsin", "checkconfig"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent,
    )


@pytest.mark.attack(
    title="`tocsin checkconfig` printing passwords (finding 10)",
    tried="Redis and PostgreSQL URLs with passwords, reachable or not, and an invalid URL",
    times=3,
)
def test_checkconfig_prints_no_password() -> None:
    port = free_port()  # nothing listens there: both are unreachable, and say where
    result = checkconfig(
        TOCSIN_REDIS_URL=f"redis://:redis-pass-123@127.0.0.1:{port}/0",
        TOCSIN_DATABASE_URL=f"postgresql://tocsin:db-pass-456@127.0.0.1:{port}/tocsin",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"redis: unreachable at redis://:***@127.0.0.1:{port}/0" in output
    assert "redis-pass-123" not in output and "db-pass-456" not in output

    invalid = checkconfig(TOCSIN_DATABASE_URL="mysql://tocsin:db-pass-789@db.example/tocsin")
    assert invalid.returncode == 2
    assert "mysql://tocsin:***@db.example/tocsin" in invalid.stderr
    assert "db-pass-789" not in invalid.stdout + invalid.stderr
