"""What a client can make the transport hold, and for how long (issue 15, findings 1-3, 9).

Each test is an attack that worked on an unbounded node: the server must now refuse it,
close the offending connection, or keep nothing of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import make_settings
from tests.forge import authjs_token, claims
from tests.helpers import ServerThread, email, metric_sample, publish, token
from tests.reliability.rawsio import RawClient, ws_url
from tocsin.realtime.engine import kept_environ


@pytest.fixture
def guarded(sqlite_url: str) -> Iterator[ServerThread]:
    """A node with small bounds, so that each attack reaches them quickly."""
    node = ServerThread(
        make_settings(
            sqlite_url,
            max_socket_buffer_bytes=65_536,
            connect_timeout=1.5,
            header_timeout=1.5,
            max_header_bytes=8192,
            client_event_rate=200,
            client_event_burst=400,
        )
    )
    node.start()
    try:
        yield node
    finally:
        node.close()


async def _errors(url: str, where: str) -> float:
    return await metric_sample(url, f'tocsin_errors_total{{where="{where}"}}')


async def _wait_for(check: Any, timeout: float, what: str) -> None:
    async def loop() -> None:
        # Server-side state (metrics, the session table) has no event to wait on.
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(loop(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def _engine_sockets(node: ServerThread) -> dict[str, Any]:
    sockets: dict[str, Any] = node.app.other_asgi_app.state.sio.eio.sockets
    return sockets


# -- finding 1: bytes queued per socket ---------------------------------------------------


@pytest.mark.attack(
    title="Acks for a socket that never reads (finding 1)",
    tried="`inbox {limit: 200}` on a socket that stops reading, 64 KB bound",
    times=300,
)
async def test_a_signed_in_socket_that_never_reads_its_inbox_answers_is_closed(
    guarded: ServerThread,
) -> None:
    """Acks pile up for a client that does not read: past the byte bound, it is closed."""
    async with httpx.AsyncClient(base_url=guarded.url, timeout=30) as http:
        for _ in range(40):
            assert (await publish(http, email("mallory", "firm-m", subject="x" * 900))).is_success
    closed_before = await _errors(guarded.url, "send_buffer_full")
    client = RawClient(ws_url(guarded.url), max_queue=1, rcvbuf=4096)
    await client.open()
    await client.handshake({"token": token("mallory", "firm-m")})
    # ~45 KB per answer, never read. The server stops reading a client whose packets wait
    # (an emit may then block): keep asking until it gives up on this one.
    async with asyncio.timeout(60):
        while await _errors(guarded.url, "send_buffer_full") == closed_before:
            try:
                await asyncio.wait_for(client.emit("inbox", {"limit": 200}), 1)
            except TimeoutError:
                continue
            except (ConnectionClosed, OSError):
                break

    async def closed() -> bool:
        sockets = _engine_sockets(guarded).values()
        return await _errors(guarded.url, "send_buffer_full") > closed_before and all(
            s.closed and (s.link is None or s.link.transport.is_closing()) for s in sockets
        )

    await _wait_for(closed, 20, "the server to close the socket that does not read")
    await client.close()


@pytest.mark.attack(
    title="UPGRADE packets answered with NOOPs (finding 1)",
    tried="50 `5` frames on an open WebSocket, then a packet that calls for an answer",
    times=50,
)
async def test_an_upgrade_packet_outside_an_upgrade_gets_no_answer(guarded: ServerThread) -> None:
    """Engine.IO UPGRADE on an open WebSocket was answered with a NOOP each time: a client
    could make the server write without end, without signing in."""
    async with connect(ws_url(guarded.url), ping_interval=None) as ws:
        assert str(await ws.recv()).startswith("0")
        for _ in range(50):
            await ws.send("5")
        # A packet that does call for an answer: everything before it would be read first.
        await ws.send("40/nowhere,")
        answer = await asyncio.wait_for(ws.recv(), 5)
        assert str(answer).startswith("44/nowhere,"), answer


# -- finding 2: headers and sessions that never CONNECT ------------------------------------


async def _raw_request(port: int, data: bytes, timeout: float = 10) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        with contextlib.suppress(ConnectionError):
            writer.write(data)
            await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


@pytest.mark.attack(
    title="Oversized header block (finding 2)",
    tried="20 KB header line against an 8 KB limit",
    times=1,
)
async def test_a_header_block_over_the_limit_is_refused_with_431(guarded: ServerThread) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 20_000 + b"\r\n"
    answer = await _raw_request(guarded.port, request)  # the block never ends: no \r\n\r\n
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


async def test_headers_within_the_limit_are_served(guarded: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=guarded.url) as http:
        answer = await http.get("/healthz", headers={"X-Pad": "a" * 4000})
    assert answer.status_code == 200


@pytest.mark.attack(
    title="Slow headers (finding 2)",
    tried="half a header line, then silence",
    times=1,
)
async def test_headers_that_never_end_in_time_get_408_and_the_connection_closes(
    guarded: ServerThread,
) -> None:
    answer = await _raw_request(guarded.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ")
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]


async def test_a_connection_that_sends_nothing_is_closed(guarded: ServerThread) -> None:
    answer = await _raw_request(guarded.port, b"")
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]


async def test_a_keep_alive_connection_is_served_again_after_the_header_timeout(
    guarded: ServerThread,
) -> None:
    """The header clock restarts with each request: a slow first request is not the bound."""
    async with httpx.AsyncClient(base_url=guarded.url) as http:
        for _ in range(3):
            assert (await http.get("/healthz")).status_code == 200


async def test_bodies_are_not_counted_as_headers_even_after_an_early_answer(
    sqlite_url: str,
) -> None:
    """A body larger than the header bound, refused (413) before it all arrived, then the
    next request on the same connection: both answered as such, no 431."""
    node = ServerThread(make_settings(sqlite_url, max_header_bytes=8192, max_body_bytes=4096))
    node.start()
    try:
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            big = {"notifications": [email("u", "t", subject="s" * 900)] * 60}
            for _ in range(3):
                refused = await http.post(
                    "/api/v1/notifications/batch",
                    json=big,
                    headers={"Authorization": "Bearer nope"},
                )
                assert refused.status_code in (401, 413), refused.text
                assert (await http.get("/healthz")).status_code == 200
    finally:
        node.close()


async def test_an_open_websocket_outlives_the_header_timeout(sqlite_url: str) -> None:
    """The header clock belongs to HTTP: it stops at the upgrade."""
    node = ServerThread(make_settings(sqlite_url, header_timeout=0.3))
    node.start()
    try:
        client = RawClient(ws_url(node.url))
        await client.connect({"token": token("dan", "firm-d")})
        await asyncio.sleep(1.0)  # time passing is what is tested: three header timeouts
        answer = await client.call("inbox", {"limit": 1})
        assert answer["ok"] is True and not client.disconnected
        await client.close()
    finally:
        node.close()


@pytest.mark.attack(
    title="Engine.IO session without CONNECT, WebSocket (finding 2)",
    tried="an open session answering pings, never sending `40`",
    times=1,
)
async def test_a_websocket_session_that_never_connects_is_closed(guarded: ServerThread) -> None:
    timeouts_before = await _errors(guarded.url, "connect_timeout")
    async with connect(ws_url(guarded.url), ping_interval=None) as ws:
        assert str(await ws.recv()).startswith("0")
        frames = []
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(10):
                async for frame in ws:
                    frames.append(frame)
                    if frame == "2":
                        await ws.send("3")
    assert frames[-1:] == ["1"], frames  # Engine.IO CLOSE, then the connection ends
    assert await _errors(guarded.url, "connect_timeout") == timeouts_before + 1


@pytest.mark.attack(
    title="Engine.IO session without CONNECT, long-polling (finding 2)",
    tried="a polling session that polls and never sends `40`",
    times=1,
)
async def test_a_polling_session_that_never_connects_is_closed(guarded: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=guarded.url, timeout=30) as http:
        opened = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        sid = json.loads(opened.text[1:])["sid"]
        seen = ""
        async with asyncio.timeout(10):
            while "1" not in seen.split("\x1e"):
                poll = await http.get(
                    "/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid}
                )
                if poll.status_code != 200:
                    break
                seen = poll.text
    assert "1" in seen.split("\x1e") or poll.status_code == 400, seen


@pytest.mark.attack(
    title="Handshake headers kept by a session (finding 2)",
    tried="6 KB of headers and a 1 KB tracking cookie with the session cookie",
    times=1,
)
async def test_a_session_keeps_only_what_a_connect_handler_reads_of_its_handshake(
    guarded: ServerThread,
) -> None:
    cookie = authjs_token(claims())
    junk = {f"X-Pad-{i}": "p" * 1000 for i in range(6)}
    junk["Cookie"] = f"tracking={'t' * 1000}; authjs.session-token={cookie}; other=1"
    async with connect(ws_url(guarded.url), additional_headers=junk, ping_interval=None) as ws:
        assert str(await ws.recv()).startswith("0")
        sio = guarded.app.other_asgi_app.state.sio
        (environ,) = [e for e in sio.environ.values() if "HTTP_COOKIE" in e]
        assert environ["HTTP_COOKIE"] == f"authjs.session-token={cookie}"
        assert not any(key.startswith("HTTP_X_PAD") for key in environ)
        assert len(json.dumps(environ, default=str)) < len(cookie) + 1000


def test_kept_environ_keeps_the_session_cookie_chunks_and_drops_the_rest() -> None:
    environ = {
        "HTTP_COOKIE": "a=1; next-auth.session-token.0=x; next-auth.session-token.1=y; "
        "next-auth.session-token.x=z; __Secure-authjs.session-token=w",
        "HTTP_USER_AGENT": "u" * 5000,
        "QUERY_STRING": "EIO=4&transport=polling&x=" + "q" * 5000,
        "wsgi.input": object(),
        "REMOTE_ADDR": "127.0.0.1",
    }
    kept = kept_environ(environ)
    assert kept == {
        "HTTP_COOKIE": "next-auth.session-token.0=x; next-auth.session-token.1=y; "
        "__Secure-authjs.session-token=w",
        "REMOTE_ADDR": "127.0.0.1",
    }


# -- finding 3: JSONP ------------------------------------------------------------------------


@pytest.mark.attack(
    title="JSONP polling with the session cookie (finding 3)",
    tried="`GET /socket.io/?EIO=4&transport=polling&j=0` with the Auth.js cookie",
    times=1,
)
async def test_jsonp_polling_is_refused_and_opens_no_session(guarded: ServerThread) -> None:
    cookie = authjs_token(claims())
    before = len(_engine_sockets(guarded))
    async with httpx.AsyncClient(base_url=guarded.url) as http:
        answer = await http.get(
            "/socket.io/",
            params={"EIO": "4", "transport": "polling", "j": "0"},
            headers={"Cookie": f"authjs.session-token={cookie}"},
        )
    assert answer.status_code == 400, answer.text
    assert "sid" not in answer.text
    assert len(_engine_sockets(guarded)) == before


@pytest.mark.attack(
    title="Polling handshake loaded by a page element (finding 3)",
    tried="`Sec-Fetch-Dest: script/image/iframe/document`",
    times=1,
)
@pytest.mark.parametrize("dest", ["script", "image", "iframe", "document"])
async def test_a_polling_request_loaded_by_a_page_element_is_refused(
    guarded: ServerThread, dest: str
) -> None:
    async with httpx.AsyncClient(base_url=guarded.url) as http:
        answer = await http.get(
            "/socket.io/",
            params={"EIO": "4", "transport": "polling"},
            headers={"Sec-Fetch-Dest": dest, "Sec-Fetch-Mode": "no-cors"},
        )
        fetched = await http.get(
            "/socket.io/",
            params={"EIO": "4", "transport": "polling"},
            headers={"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors"},
        )
    assert answer.status_code == 400, answer.text
    assert fetched.status_code == 200 and '"sid"' in fetched.text
    for response in (answer, fetched):
        assert response.headers["x-content-type-options"] == "nosniff"


# -- finding 9: a client's CLOSE over WebSocket --------------------------------------------


@pytest.mark.attack(
    title="Client CLOSE over WebSocket (finding 9)",
    tried="`1` after connecting; the connection must end",
    times=1,
)
async def test_a_client_close_packet_ends_the_websocket(guarded: ServerThread) -> None:
    async with connect(ws_url(guarded.url), ping_interval=None) as ws:
        assert str(await ws.recv()).startswith("0")
        await ws.send("40" + json.dumps({"token": token("carol", "firm-c")}))
        assert str(await asyncio.wait_for(ws.recv(), 5)).startswith("40")
        await ws.send("1")
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()  # clients-count, then the end

    async def forgotten() -> bool:
        return not _engine_sockets(guarded)

    await _wait_for(forgotten, 5, "the server to forget the closed session")
