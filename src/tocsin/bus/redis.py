"""The Redis bus: plain pub/sub on one channel, watched by a heartbeat.

Why pub/sub and not streams or python-socketio's ``AsyncRedisManager``: the bus only rings
doorbells ("read the store after cursor N") and relays read-state changes. What is
delivered always comes from the store, so a message lost while Redis restarts costs at
most one poll interval, never a notification. Streams would persist what the store already
persists; ``AsyncRedisManager`` would ship every payload through Redis and make delivery
depend on it.

A subscriber can die silently (a half-open TCP connection receives nothing and raises
nothing). Each node therefore publishes a heartbeat on the channel and expects to hear its
own: when it has not for a few intervals, the bus reports unhealthy (``/readyz`` turns red)
and the subscription is torn down and made again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tocsin import metrics
from tocsin.bus.base import DOORBELL, Bus, BusHandler, BusMessage, deliver

log = logging.getLogger("tocsin.bus")

HEARTBEAT = "heartbeat"


class RedisBus(Bus):
    """Pub/sub over Redis; ``start(None)`` makes a write-only bus (API-only nodes, CLI)."""

    def __init__(
        self,
        url: str,
        *,
        channel: str = "tocsin:bus",
        heartbeat_interval: float = 1.0,
        missed_heartbeats: int = 3,
    ) -> None:
        self.url = url
        self.channel = channel
        self.node_id = uuid.uuid4().hex[:12]
        self.heartbeat_interval = heartbeat_interval
        self.missed_heartbeats = missed_heartbeats
        self._client: aioredis.Redis | None = None
        self._handler: BusHandler | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_own_heartbeat = 0.0
        self._subscribed = False

    async def start(self, handler: BusHandler | None) -> None:
        """Connect; with a handler, subscribe and watch the subscription."""
        self._handler = handler
        self._client = aioredis.from_url(
            self.url, socket_connect_timeout=2, socket_timeout=5, decode_responses=True
        )
        if handler is not None:
            self._last_own_heartbeat = time.monotonic()
            self._tasks = [
                asyncio.create_task(self._listen_forever(), name="tocsin-bus-listen"),
                asyncio.create_task(self._heartbeat_forever(), name="tocsin-bus-heartbeat"),
            ]

    async def stop(self) -> None:
        """Cancel the listener and heartbeat, close the connection pool."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish(self, message: BusMessage) -> None:
        """Publish; a Redis failure is logged, not raised (the store poll covers it)."""
        if self._client is None:
            raise RuntimeError("bus is not started")
        try:
            await self._client.publish(self.channel, json.dumps(message, separators=(",", ":")))
        except (RedisError, OSError) as exc:
            metrics.ERRORS.labels("bus_publish").inc()
            log.warning("bus publish failed (%s); nodes will catch up from the store", exc)

    async def healthy(self) -> bool:
        """Write-only: Redis answers a PING. Subscribed: we heard our own heartbeat lately."""
        if self._client is None:
            return False
        if self._handler is None:
            try:
                return bool(await self._client.ping())
            except (RedisError, OSError):
                return False
        return self._subscribed and not self._heartbeat_overdue()

    def _heartbeat_overdue(self) -> bool:
        limit = self.heartbeat_interval * self.missed_heartbeats
        return time.monotonic() - self._last_own_heartbeat > limit

    async def _heartbeat_forever(self) -> None:
        while True:
            try:
                await self.publish({"type": HEARTBEAT, "node": self.node_id, "at": time.time()})
            except Exception:
                # Whatever went wrong, the heartbeat must go on: without it the node stays
                # unready for good.
                metrics.ERRORS.labels("bus_publish").inc()
                log.exception("bus heartbeat failed")
            await asyncio.sleep(self.heartbeat_interval)

    async def _listen_forever(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as exc:
                metrics.ERRORS.labels("bus_subscribe").inc()
                log.warning("bus subscription lost (%s); resubscribing", exc)
            except Exception:
                # Not a Redis failure (a bug, a library surprise): still resubscribe rather
                # than leave this node without a bus.
                metrics.ERRORS.labels("bus_subscribe").inc()
                log.exception("bus listener failed; resubscribing")
            self._subscribed = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _listen_once(self) -> None:
        assert self._client is not None and self._handler is not None
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            self._subscribed = True
            self._last_own_heartbeat = time.monotonic()
            metrics.BUS_SUBSCRIPTIONS.inc()
            # Whatever was published while we were away is in the store: go and read it.
            await self._handler({"type": DOORBELL, "cursor": None, "reason": "subscribed"})
            watchdog = self.heartbeat_interval * (self.missed_heartbeats + 1)
            while True:
                if self._heartbeat_overdue():
                    raise TimeoutError("no heartbeat heard: the subscription is dead")
                # get_message has a timeout of its own; the watchdog covers a read that
                # hangs anyway (the subscription is then replaced). Not asyncio.wait_for: on
                # Python 3.11 it swallows a cancellation that arrives as the read completes
                # (a message just received when the node stops), and the listener then
                # resubscribed for ever instead of stopping.
                async with asyncio.timeout(watchdog):
                    message = await pubsub.get_message(timeout=self.heartbeat_interval)
                if message is None or message.get("type") != "message":
                    continue
                await self._dispatch(message.get("data"))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _dispatch(self, raw: Any) -> None:
        assert self._handler is not None
        try:
            message = json.loads(raw)
        except (TypeError, ValueError):
            log.warning("ignoring a malformed bus message")
            return
        if not isinstance(message, dict):
            return
        sent_at = message.get("at")
        if isinstance(sent_at, int | float):
            metrics.BUS_LAG.observe(max(0.0, time.time() - sent_at))
        if message.get("type") == HEARTBEAT:
            if message.get("node") == self.node_id:
                self._last_own_heartbeat = time.monotonic()
            return
        await deliver(self._handler, message)
