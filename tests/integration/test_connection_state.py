"""What a node keeps for each open connection: what it needs, not the handshake.

python-socketio keeps a socket's ``environ`` for the connection's life; Tocsin builds a
smaller one for WebSockets and drops the credentials once they are checked. websockets'
handshake parser would keep the upgrade request alive; the linked protocol replaces it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import socketio

from tests.helpers import Client, ServerThread, token


async def test_a_socket_keeps_neither_its_credentials_nor_headers_nobody_reads(
    server: ServerThread,
) -> None:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        server.url,
        headers={
            "Cookie": "theme=dark; lang=fr",
            "Authorization": f"Bearer {token('alice', 'firm-a')}",
            "X-Forwarded-Proto": "https",
            "X-Custom-Header": "never read",
        },
        transports=["websocket"],
        wait_timeout=10,
    )
    try:
        sio = server.app.other_asgi_app.state.sio
        [environ] = sio.environ.values()
        assert "HTTP_COOKIE" not in environ
        assert "HTTP_AUTHORIZATION" not in environ
        assert "HTTP_X_CUSTOM_HEADER" not in environ
        assert "wsgi.input" not in environ
        assert environ["HTTP_HOST"] == f"127.0.0.1:{server.port}"
        assert environ["wsgi.url_scheme"] == "https"
        assert "EIO=4" in environ["QUERY_STRING"]

        dispatcher = server.app.other_asgi_app.state.dispatcher
        [connection] = dispatcher.registry.by_sid.values()
        link = connection.transport.link
        assert link is not None
        # The frame parser running now is not the one that parsed the upgrade request.
        assert "request" not in link.conn.parser.gi_frame.f_locals
        assert not hasattr(link, "request")
    finally:
        await client.disconnect()


def _awaiting(coro: Any) -> list[str]:
    """The names of the suspended coroutines from ``coro`` down to what it awaits."""
    names = []
    while coro is not None and hasattr(coro, "cr_code"):
        names.append(coro.cr_code.co_qualname)
        coro = coro.cr_await
    return names


async def test_an_open_websocket_is_not_a_chain_of_waiting_coroutines(
    server: ServerThread,
) -> None:
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    try:
        dispatcher = server.app.other_asgi_app.state.dispatcher
        [connection] = dispatcher.registry.by_sid.values()
        link = connection.transport.link
        [task] = link.tasks  # uvicorn's task running the ASGI call
        chain = _awaiting(task.get_coro())
        # The ASGI call returned down to the app that keeps the connection open; the
        # socket reads through the link's listener, not a reader coroutine.
        assert chain[-2:] == ["SocketIOApp.__call__", "LinkedWebSocketProtocol.wait_detached"]
        assert len(chain) <= 4, chain
        # And it still reads: a round trip through a handler.
        answer = await client.sio.call("inbox", {"limit": 1}, timeout=10)
        assert "items" in answer
    finally:
        await client.disconnect()
    await asyncio.wait_for(asyncio.wrap_future(_done(task)), 10)


def _done(task: Any) -> concurrent.futures.Future[None]:
    """A concurrent future set once ``task`` (on the server's loop) is done."""
    result: concurrent.futures.Future[None] = concurrent.futures.Future()

    def watch() -> None:
        if task.done():
            result.set_result(None)
        else:
            task.add_done_callback(lambda _t: result.set_result(None))

    task.get_loop().call_soon_threadsafe(watch)
    return result


async def test_a_socket_stops_reading_while_its_backlog_is_full(server: ServerThread) -> None:
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    try:
        dispatcher = server.app.other_asgi_app.state.dispatcher
        [connection] = dispatcher.registry.by_sid.values()
        socket, link = connection.transport, connection.transport.link

        async def burst() -> tuple[bool, bool]:
            # 20 packets arriving in one read, as the link hands them over: synchronously.
            for _ in range(20):
                link.queue.put_nowait({"type": "websocket.receive", "text": '42["inbox",{}]'})
            held = link.read_paused
            receiver = socket._receiver
            assert receiver is not None
            await asyncio.wait_for(receiver, 5)
            return held, link.read_paused

        loop = next(iter(link.tasks)).get_loop()
        held, after = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(burst(), loop))
        assert held, "reading should pause while 16 packets wait"
        assert not after, "reading should resume once they are handled"
        # And the socket still works.
        assert "items" in await client.sio.call("inbox", {"limit": 1}, timeout=5)
    finally:
        await client.disconnect()


async def test_closed_sockets_leave_no_timers_behind(server: ServerThread) -> None:
    sio = server.app.other_asgi_app.state.sio
    dispatcher = server.app.other_asgi_app.state.dispatcher
    observer = Client(server.url, "observer", "firm-a")
    await observer.connect()
    clients = [Client(server.url, f"user-{i}", "firm-a") for i in range(10)]
    await asyncio.gather(*(c.connect() for c in clients))
    # Every socket has its next ping and its session's expiry pending.
    assert len(sio.eio.ping_timers) == 11
    assert len(dispatcher._expiries) == 11
    await asyncio.gather(*(c.disconnect() for c in clients))
    # The tenant's count reaching 1 again: the server has let the ten go.
    await observer.log.wait_for(
        lambda log: bool(log.of("clients-count")) and log.of("clients-count")[-1]["count"] == 1,
        timeout=10,
    )
    assert len(sio.eio.ping_timers) == 1
    assert len(dispatcher._expiries) == 1

    async def drop_everyone() -> tuple[int, int, int]:
        for sid in list(sio.eio.sockets):
            await sio.eio.disconnect(sid)
        return len(sio.eio.ping_timers), len(dispatcher._expiries), len(sio.eio.sockets)

    loop = dispatcher._task.get_loop()
    left = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(drop_everyone(), loop))
    assert left == (0, 0, 0)
    await observer.disconnect()
