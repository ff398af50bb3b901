"""The linked protocol's pieces: the receive queue, the writable flag, the shared frame."""

from __future__ import annotations

import asyncio

from tocsin.realtime.wsprotocol import _Flag, _Inbox, text_frame


async def test_the_inbox_hands_messages_over_in_order_and_wakes_its_reader() -> None:
    inbox = _Inbox()
    assert inbox.empty()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()  # waits for a message
    inbox.put_nowait({"n": 1})
    inbox.put_nowait({"n": 2})
    assert await asyncio.wait_for(reader, 1) == {"n": 1}
    assert not inbox.empty()
    assert await inbox.get() == {"n": 2}
    assert inbox.empty()


async def test_a_cancelled_reader_leaves_the_inbox_usable() -> None:
    inbox = _Inbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    inbox.put_nowait("after")
    assert await asyncio.wait_for(inbox.get(), 1) == "after"


def test_a_shared_frame_is_what_a_server_sends() -> None:
    payload = ("42" + "é" * 200).encode()  # over 125 bytes: a 16-bit length follows
    frame = text_frame(payload.decode())
    assert frame[0] == 0x81  # FIN, text
    assert frame[1] == 126  # unmasked (server to client), extended length
    assert frame[2:4] == len(payload).to_bytes(2, "big")
    assert frame[4:] == payload


async def test_the_writable_flag_holds_waiters_while_down_and_wakes_them_all() -> None:
    flag = _Flag()
    assert flag.is_set()
    assert await asyncio.wait_for(flag.wait(), 1)  # up: returns at once
    flag.clear()
    waiters = [asyncio.ensure_future(flag.wait()) for _ in range(3)]
    cancelled = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    flag.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True, True]
    flag.clear()
    flag.set()
    assert await asyncio.wait_for(flag.wait(), 1)
