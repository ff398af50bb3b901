"""The bus: how nodes tell each other that something changed.

The bus is a doorbell, not the truth: a ``doorbell`` message only says "read the store
after this cursor". A node that misses one still delivers, from its periodic store poll.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

BusMessage = dict[str, Any]
BusHandler = Callable[[BusMessage], Awaitable[None]]

DOORBELL = "doorbell"
READ = "read"


class Bus(ABC):
    """Publish/subscribe of small JSON messages between Tocsin processes."""

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
