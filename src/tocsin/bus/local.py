"""The in-process bus: one node, no network."""

from __future__ import annotations

from tocsin.bus.base import Bus, BusHandler, BusMessage, deliver


class LocalBus(Bus):
    """Hands messages straight to this process's handler."""

    spans_processes = False

    def __init__(self) -> None:
        self._handler: BusHandler | None = None

    async def start(self, handler: BusHandler | None) -> None:
        """Remember the handler."""
        self._handler = handler

    async def stop(self) -> None:
        """Forget the handler."""
        self._handler = None

    async def publish(self, message: BusMessage) -> None:
        """Call the handler in the publisher's task (it only wakes the dispatcher); a
        failing handler is logged, not raised to the publisher, as on the Redis bus."""
        if self._handler is not None:
            await deliver(self._handler, message)
