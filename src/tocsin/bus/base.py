"""The bus: how nodes tell each other that something changed.

The bus is a doorbell, not the truth: a ``doorbell`` message only says "read the store
after this cursor". A node that misses one still delivers, from its periodic store poll.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from tocsin import metrics

BusMessage = dict[str, Any]
BusHandler = Callable[[BusMessage], Awaitable[None]]

DOORBELL = "doorbell"
# A user's inbox state changed: tell their other sockets (``notifications-changed``).
CHANGED = "changed"
# A snooze ended: ``notification-due`` to every socket of the user.
DUE = "due"
# A user's (userId) or a tenant's (userId None) preferences changed.
PREFERENCES = "preferences"
# A node's sockets per tenant (tocsin.realtime.presence): clients-count across nodes.
PRESENCE = "presence"
# A user was erased (DESIGN §9): every node disconnects their sockets and forgets them.
ERASED = "erased"

log = logging.getLogger("tocsin.bus")


async def deliver(handler: BusHandler, message: BusMessage) -> None:
    """Hand ``message`` to ``handler``; a failure is counted and logged, not raised: one
    message a node could not handle must not end its subscription or fail a publisher."""
    try:
        await handler(message)
    except Exception:
        metrics.ERRORS.labels("bus_handler").inc()
        log.exception("bus message %s failed", message.get("type"))


class Bus(ABC):
    """Publish/subscribe of small JSON messages between Tocsin processes."""

    # Whether other processes hear what this bus publishes (the in-process bus: no).
    spans_processes: bool = True

    @abstractmethod
    async def start(self, handler: BusHandler | None) -> None:
        """Connect; deliver every received message to ``handler`` (None: write-only)."""

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect."""

    @abstractmethod
    async def publish(self, message: BusMessage) -> None:
        """Send ``message`` to every subscribed process, this one included."""

    async def healthy(self) -> bool:
        """Whether the bus currently delivers (in-process: always)."""
        return True
