"""What a node keeps for each open connection: what it needs, not the handshake.

python-socketio keeps a socket's ``environ`` for the connection's life; Tocsin builds a
smaller one for WebSockets and drops the credentials once they are checked. websockets'
handshake parser would keep the upgrade request alive; the linked protocol replaces it.
"""

from __future__ import annotations

import socketio

from tests.helpers import ServerThread, token


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
