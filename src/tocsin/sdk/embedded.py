"""Publishing in-process, for a Python app that embeds Tocsin."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any

from tocsin.auth.apikeys import Publisher
from tocsin.errors import TocsinError
from tocsin.sdk.helpers import Notification, Result, TocsinAPIError, _Helpers, _wire
from tocsin.service import NotificationService, Published


class EmbeddedPublisher(_Helpers[Coroutine[Any, Any, Result]]):
    """Publish in-process through a :class:`NotificationService` (an app embedding Tocsin).

    It publishes with the admin's rights, in the service's event loop: use the service of
    the running app (``app.other_asgi_app.state.service``, or the one given to
    ``create_app``).
    """

    PUBLISHER = Publisher(tenant_id=None, key_id="embedded")

    def __init__(self, service: NotificationService) -> None:
        self.service = service

    async def publish(
        self, notification: Notification, *, idempotency_key: str | None = None
    ) -> Result:
        """Validate, store and deliver one notification; returns ``{id, cursor}``.

        Raises:
            TocsinAPIError: refused, with the status the HTTP API would have answered.
        """
        try:
            published = await self.service.publish(
                _wire(notification), self.PUBLISHER, idempotency_key
            )
        except TocsinError as exc:
            raise TocsinAPIError.from_error(exc) from None
        return published.to_json()

    async def publish_batch(
        self, notifications: Sequence[Notification], *, idempotency_key: str | None = None
    ) -> list[Result]:
        """Publish many; results as :meth:`AsyncTocsinClient.publish_batch`.

        Raises:
            TocsinAPIError: the batch as a whole was refused (over 1,000 notifications).
        """
        try:
            outcomes = await self.service.publish_many(
                [_wire(n) for n in notifications], self.PUBLISHER, idempotency_key
            )
        except TocsinError as exc:
            raise TocsinAPIError.from_error(exc) from None
        return [
            o.to_json() if isinstance(o, Published) else {"status": o.status, **o.to_json()}
            for o in outcomes
        ]
