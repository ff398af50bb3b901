"""Connection counts across the cluster: each node's sockets per tenant, told on the bus.

Each node counts its own sockets per tenant (its registry). Over a bus that reaches other
processes (Redis), it tells the others, every message carrying absolute counts (never
increments, so a lost message is repaired by the next one):

- a *change*, debounced: ``{"type": "presence", "node", "counts": {tenant: n}}``, 0 when the
  node's last socket of a tenant left;
- a *refresh* every ``TOCSIN_PRESENCE_INTERVAL``: every tenant it has sockets of, in chunks;
- on (re)subscribing, a refresh marked ``hello``, which every other node answers with a
  refresh of its own: a node that starts, or comes back after a Redis outage, learns the
  others' counts at once instead of after an interval;
- on a clean stop, ``gone``: its sockets leave the others' totals at once.

A node's count that no message repeats for three intervals expires: the sockets of a node
killed with SIGKILL, which tells nobody, leave every total within that bound. With the
in-process bus nothing is sent and the counts are this node's own.

:class:`PresenceTable` is the bookkeeping alone (no I/O, no clock of its own);
:class:`Presence` sends and receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tocsin import metrics
from tocsin.bus.base import PRESENCE, Bus, BusMessage

log = logging.getLogger("tocsin.presence")

# Tenants per refresh message: a message stays well under a megabyte with 200-char ids.
CHUNK = 500
# A message from the bus with more counts than this is not one of ours: ignored.
MAX_COUNTS_PER_MESSAGE = 10 * CHUNK
# Nodes remembered at once; beyond, messages of new nodes are ignored until some expire.
MAX_NODES = 1024
# A count not repeated for this many refresh intervals expires.
TTL_INTERVALS = 3


@dataclass(slots=True)
class _Node:
    """What one other node said: its count per tenant and when each expires (monotonic)."""

    counts: dict[str, tuple[int, float]] = field(default_factory=dict)
    heard: float = 0.0


class PresenceTable:
    """Other nodes' sockets per tenant, with their sums kept up to date (no I/O)."""

    def __init__(self) -> None:
        self._nodes: dict[str, _Node] = {}
        self._totals: dict[str, int] = {}

    def remote_total(self, tenant: str) -> int:
        """Sockets of ``tenant`` on the other nodes."""
        return self._totals.get(tenant, 0)

    def totals(self) -> dict[str, int]:
        """Sockets per tenant on the other nodes (tenants with none left out)."""
        return dict(self._totals)

    def nodes(self) -> dict[str, dict[str, int]]:
        """Each other node's sockets per tenant."""
        return {
            node: {tenant: count for tenant, (count, _) in entry.counts.items()}
            for node, entry in self._nodes.items()
        }

    def apply(self, node: str, counts: Mapping[str, int], expires: float) -> set[str]:
        """Take ``node``'s counts (absolute; 0 forgets the tenant), valid until ``expires``.

        Returns the tenants whose total changed.
        """
        entry = self._nodes.get(node)
        if entry is None:
            if len(self._nodes) >= MAX_NODES:
                return set()
            entry = self._nodes[node] = _Node()
        entry.heard = expires
        changed: set[str] = set()
        for tenant, count in counts.items():
            before = entry.counts.get(tenant, (0, 0.0))[0]
            if count > 0:
                entry.counts[tenant] = (count, expires)
            else:
                entry.counts.pop(tenant, None)
            if count != before:
                self._add(tenant, count - before)
                changed.add(tenant)
        return changed

    def drop(self, node: str) -> set[str]:
        """Forget a node (it stopped); returns the tenants whose total changed."""
        entry = self._nodes.pop(node, None)
        if entry is None:
            return set()
        for tenant, (count, _) in entry.counts.items():
            self._add(tenant, -count)
        return set(entry.counts)

    def expire(self, now: float) -> set[str]:
        """Forget every count not repeated before ``now``; returns the tenants changed."""
        changed: set[str] = set()
        for node, entry in list(self._nodes.items()):
            for tenant, (count, expires) in list(entry.counts.items()):
                if expires <= now:
                    del entry.counts[tenant]
                    self._add(tenant, -count)
                    changed.add(tenant)
            if not entry.counts and entry.heard <= now:
                del self._nodes[node]
        return changed

    def _add(self, tenant: str, delta: int) -> None:
        total = self._totals.get(tenant, 0) + delta
        if total > 0:
            self._totals[tenant] = total
        else:
            self._totals.pop(tenant, None)


def parse_counts(raw: Any) -> dict[str, int] | None:
    """The ``counts`` of a presence message, or None when it is not what a node sends."""
    if not isinstance(raw, dict) or len(raw) > MAX_COUNTS_PER_MESSAGE:
        return None
    counts: dict[str, int] = {}
    for tenant, count in raw.items():
        if not isinstance(tenant, str) or type(count) is not int or count < 0:
            return None
        counts[tenant] = count
    return counts


class Presence:
    """This node's part in the cluster's connection counts (see the module's docstring).

    ``local_count(tenant)`` and ``local_tenants()`` read this node's registry;
    ``on_change(tenants)`` is called with the tenants whose cluster total may have changed
    because of another node (this node's own changes are the dispatcher's to announce).
    """

    def __init__(
        self,
        bus: Bus,
        local_count: Callable[[str], int],
        local_tenants: Callable[[], Iterable[str]],
        on_change: Callable[[set[str]], None],
        *,
        interval: float,
        debounce: float,
    ) -> None:
        self.node_id = uuid.uuid4().hex[:12]
        self.bus = bus
        self.interval = interval
        self.debounce = debounce
        self.table = PresenceTable()
        self._local_count = local_count
        self._local_tenants = local_tenants
        self._on_change = on_change
        self._dirty: set[str] = set()
        self._flush: asyncio.Task[None] | None = None
        self._answer: asyncio.Task[None] | None = None
        self._loop: asyncio.Task[None] | None = None
        # One message at a time, each built when its turn comes: what a node says arrives
        # in the order it said it, so an older count never overwrites a newer one.
        self._sending = asyncio.Lock()
        self._stopped = False

    @property
    def shared(self) -> bool:
        """Whether other nodes hear this one (not with the in-process bus)."""
        return self.bus.spans_processes

    @property
    def ttl(self) -> float:
        """Seconds after which a count nobody repeated expires."""
        return TTL_INTERVALS * self.interval

    # -- what clients and operators see --------------------------------------------------

    def total(self, tenant: str) -> int:
        """Sockets of ``tenant`` across the cluster."""
        return self._local_count(tenant) + self.table.remote_total(tenant)

    def by_tenant(self) -> dict[str, int]:
        """Sockets per tenant across the cluster (tenants with none left out)."""
        totals = self.table.totals()
        for tenant in self._local_tenants():
            totals[tenant] = totals.get(tenant, 0) + self._local_count(tenant)
        return {tenant: count for tenant, count in totals.items() if count > 0}

    def by_node(self) -> dict[str, dict[str, int]]:
        """Each node's sockets per tenant, this one's included."""
        nodes = self.table.nodes()
        nodes[self.node_id] = {t: self._local_count(t) for t in self._local_tenants()}
        return nodes

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Begin the periodic refresh (only over a bus that reaches other nodes)."""
        if self.shared and self._loop is None:
            self._loop = asyncio.create_task(self._refresh_forever(), name="tocsin-presence")

    async def stop(self) -> None:
        """Tell the others this node's sockets are gone, and stop (once: before the bus)."""
        if self._stopped:
            return
        self._stopped = True
        tasks = [t for t in (self._loop, self._flush, self._answer) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loop = self._flush = self._answer = None
        if self.shared:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send({"gone": True}), 2.0)

    # -- this node's changes -----------------------------------------------------------

    def local_changed(self, tenant: str) -> None:
        """A socket of ``tenant`` came or went here: tell the others (debounced)."""
        if not self.shared or self._stopped:
            return
        self._dirty.add(tenant)
        if self._flush is None:
            self._flush = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self.debounce)
        finally:
            self._flush = None
        async with self._sending:
            dirty, self._dirty = self._dirty, set()
            counts = {tenant: self._local_count(tenant) for tenant in dirty}
            await self._publish({"counts": counts})

    # -- the others ----------------------------------------------------------------------

    def subscribed(self) -> None:
        """The bus (re)subscribed: say hello, so that every node sends its counts now."""
        if self.shared and not self._stopped:
            self._answer_soon(hello=True)

    def on_message(self, message: BusMessage) -> None:
        """A presence message from the bus (this node's own are ignored)."""
        node = message.get("node")
        if not isinstance(node, str) or node == self.node_id:
            return
        if message.get("gone") is True:
            changed = self.table.drop(node)
        else:
            counts = parse_counts(message.get("counts"))
            if counts is None:
                log.warning("ignoring a malformed presence message from %r", node[:40])
                return
            changed = self.table.apply(node, counts, time.monotonic() + self.ttl)
            if message.get("hello") is True:
                self._answer_soon(hello=False)
        if changed:
            self._on_change(changed)

    def _answer_soon(self, *, hello: bool) -> None:
        # Several hellos at once (every node resubscribing after a Redis restart) get one
        # answer.
        if self._answer is None and not self._stopped:
            self._answer = asyncio.create_task(self._answer_later(hello))

    async def _answer_later(self, hello: bool) -> None:
        try:
            await asyncio.sleep(self.debounce)
        finally:
            self._answer = None
        await self.refresh(hello=hello)

    async def refresh(self, *, hello: bool = False) -> None:
        """Send every count of this node (in chunks), then forget the others' stale ones."""
        tenants = list(self._local_tenants())
        # An empty node still says it is there (and, saying hello, asks for the others').
        chunks = [tenants[i : i + CHUNK] for i in range(0, len(tenants), CHUNK)] or [[]]
        for chunk in chunks:
            async with self._sending:
                counts = {tenant: self._local_count(tenant) for tenant in chunk}
                await self._publish({"counts": counts, "hello": hello})
        changed = self.table.expire(time.monotonic())
        if changed:
            self._on_change(changed)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.ERRORS.labels("presence").inc()
                log.exception("presence refresh failed")

    async def _publish(self, body: dict[str, Any]) -> None:
        try:
            await self._send(body)
        except Exception:
            # The bus logs its own outages; the next refresh repeats everything.
            metrics.ERRORS.labels("presence").inc()
            log.debug("presence message not sent", exc_info=True)

    async def _send(self, body: dict[str, Any]) -> None:
        await self.bus.publish({"type": PRESENCE, "node": self.node_id, **body})
