"""Engine.IO heartbeats on Tocsin's sockets: clients that answer stay, a silent one goes.

Tocsin's Engine.IO socket pings on timers and finds silent clients in one scan, instead of
python-engineio's task per socket; this runs both transports through several heartbeats.
"""

from __future__ import annotations

import asyncio

import httpx
import socketio
from websockets.exceptions import ConnectionClosed

from tests.helpers import Client, ServerThread, email, publish, token
from tests.reliability.rawsio import RawClient, ws_url


async def test_answering_clients_stay_and_a_silent_one_is_closed(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    engine = server.app.engineio_server.eio
    # Pings every 0.2 s; 2 s to answer each (a loaded CI machine answers late, not never).
    engine.ping_interval, engine.ping_timeout = 0.2, 2.0

    websocket = Client(server.url, "alice", "firm-a")
    await websocket.connect()
    polling = socketio.AsyncClient(reconnection=False)
    got: list[dict[str, object]] = []
    arrived = asyncio.Event()

    async def on_email(data: dict[str, object]) -> None:
        got.append(data)
        arrived.set()

    polling.on("email-received", on_email)
    await polling.connect(
        server.url, auth={"token": token("bob", "firm-a")}, transports=["polling"], wait_timeout=10
    )
    silent = RawClient(ws_url(server.url))
    try:
        await silent.open()
        await silent.handshake({"token": token("carol", "firm-a")})  # no reader: no PONG

        async def closed_by_server() -> None:
            assert silent.ws is not None
            try:
                while True:
                    frame = await silent.ws.recv()  # PINGs, left unanswered
                    assert frame != "3"
            except ConnectionClosed:
                return

        # Silent past ping_interval + ping_timeout: the server's scan closes it.
        await asyncio.wait_for(closed_by_server(), 15)

        # Both others answered every ping meanwhile and still receive.
        assert websocket.sio.connected and polling.connected
        for user in ("alice", "bob"):
            response = await publish(http, email(user, "firm-a", id=f"after-{user}"))
            assert response.status_code == 202, response.text
        await websocket.wait_notifications(1)
        await asyncio.wait_for(arrived.wait(), 10)
        assert got[0]["sourceId"] == "after-bob"
    finally:
        await websocket.disconnect()
        await polling.disconnect()
        await silent.close()
