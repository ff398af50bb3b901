"""A client event Tocsin does not know is answered, not left waiting for its ack forever.

``socket.emitWithAck("mark-as-read", …)`` (a typo of ``mark-read``) got no acknowledgement:
python-socketio ignores events without a handler, and the promise never settled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.compat.node_client import NodeClient, require_node_client
from tests.conftest import make_settings
from tests.helpers import Client, ServerThread, connected, email, publish, token

KNOWN = ("mark-read", "mark-all-read", "clear", "inbox")


def assert_unknown(ack: Any, name: str) -> None:
    assert isinstance(ack, dict), ack
    assert (ack["ok"], ack["error"], ack["field"]) == (False, "unknown_event", "event"), ack
    assert name in ack["message"], ack
    for event in KNOWN:
        assert event in ack["message"], ack


@pytest.fixture
async def alice(server: ServerThread) -> AsyncIterator[Client]:
    async with connected(server.url, "alice", "firm-a") as client:
        yield client


async def test_an_unknown_event_is_acked_with_the_known_ones(
    alice: Client, http: httpx.AsyncClient
) -> None:
    assert (await publish(http, email("alice", "firm-a"))).status_code == 202
    [delivered] = await alice.wait_notifications(1)

    ack = await alice.sio.call("mark-as-read", {"ids": [delivered["id"]]}, timeout=10)
    assert_unknown(ack, "'mark-as-read'")
    # Without an ack asked for, nothing is sent back, and the socket stays usable.
    await alice.sio.emit("mark-as-read", {"ids": [delivered["id"]]})
    # An event literally named "*" (python-socketio's catch-all key) is unknown too.
    assert_unknown(await alice.sio.call("*", {}, timeout=10), "'*'")
    # Nothing was marked read by the misspelt event; the real one works on the same socket.
    marked = await alice.sio.call("mark-read", {"ids": [delivered["id"]]}, timeout=10)
    assert marked == {"ok": True, "ids": [delivered["id"]], "unreadCount": 0, "unseenCount": 0}


@pytest.fixture
def few_events(sqlite_url: str) -> Iterator[ServerThread]:
    # Two events, then (almost) no refill: the third is over the limit whatever the timing.
    node = ServerThread(make_settings(sqlite_url, client_event_rate=0.001, client_event_burst=2))
    node.start()
    try:
        yield node
    finally:
        node.close()


async def test_unknown_events_count_in_the_client_event_rate(few_events: ServerThread) -> None:
    client = Client(few_events.url, "alice", "firm-a")
    await client.connect()
    try:
        answers = [await client.sio.call("mark-as-read", {}, timeout=10) for _ in range(2)]
        over = await client.sio.call("mark-as-read", {}, timeout=10)
        known_after = await client.sio.call("inbox", {"limit": 1}, timeout=10)
    finally:
        await client.disconnect()
    for answer in answers:
        assert_unknown(answer, "'mark-as-read'")
    assert over["error"] == "rate_limited", over
    # The same budget: the misspelt events spent what the real ones would have had.
    assert known_after["error"] == "rate_limited", known_after


async def test_node_emit_with_ack_gets_the_answer(server: ServerThread) -> None:
    node = await NodeClient(
        require_node_client(), server.url, {"token": token("bob", "firm-a")}
    ).start()
    try:
        await node.connected()
        # The Node client gives up after 10 s (ack_timeout): before this fix, it always did.
        ack = await node.emit("mark-as-read", {"ids": ["x"]})
        assert_unknown(ack, "'mark-as-read'")
        assert (await node.emit("mark-all-read", {}))["ok"] is True
    finally:
        await node.close()
