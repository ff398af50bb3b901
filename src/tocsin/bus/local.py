"""The in-process bus: one node, no network."""

from __future__ import annotations

import logging

from tocsin import metrics
from tocsin.bus.base import Bus, BusHandler, BusMessage

log = logging.getLogger("tocsin.bus")


class LocalBus(Bus):
    """Hands messages straight to this process's handler."""

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
            try:
                await self._handler(message)
            except Exception:
                metrics.ERRORS.labels("bus_handler").inc()
                log.exception("bus message %s failed", message.get("type"))
