"""Publish notifications from Python with the seed's helper names.

Three publishers share one set of helpers (``emit_to_user``, ``notify_email_received``…):

- :class:`AsyncTocsinClient` — over HTTP to a Tocsin server, with safe retries;
- :class:`TocsinClient` — the same, for synchronous code;
- :class:`EmbeddedPublisher` — in-process, for an app that embeds Tocsin with ``create_app``.

Module-level functions (``tocsin.sdk.notify_email_received(…)``) use a default
:class:`TocsinClient` set by :func:`configure`, or built from ``TOCSIN_URL`` and
``TOCSIN_API_KEY``.

Errors::

    TocsinAPIError        refused (4xx), or still failing (5xx, 429) after the retries
    httpx.TransportError  the server could not be reached, after the retries
    ValueError            a helper lacks what it needs to route (e.g. a user's tenant)
    RuntimeError          a module-level helper was called before :func:`configure`
"""

from __future__ import annotations

import os
import threading

from tocsin.sdk.embedded import EmbeddedPublisher
from tocsin.sdk.helpers import Notification, Result, TocsinAPIError
from tocsin.sdk.http import AsyncTocsinClient, TocsinClient

# -- module-level helpers over a default synchronous client --------------------------------

_default: TocsinClient | None = None
_default_lock = threading.Lock()


def configure(url: str, api_key: str, *, timeout: float = 10.0, retries: int = 3) -> TocsinClient:
    """Set (and return) the client that the module-level helpers use.

    Raises:
        ValueError: empty ``url`` or ``api_key``, negative ``retries``.
    """
    global _default
    client = TocsinClient(url, api_key, timeout=timeout, retries=retries)
    with _default_lock:
        previous, _default = _default, client
    if previous is not None:
        previous.close()
    return client


def close() -> None:
    """Close and forget the default client (the next helper call configures anew)."""
    global _default
    with _default_lock:
        previous, _default = _default, None
    if previous is not None:
        previous.close()


def default_client() -> TocsinClient:
    """The client set by :func:`configure`, else one from ``TOCSIN_URL``/``TOCSIN_API_KEY``.

    Raises:
        RuntimeError: neither was done.
    """
    global _default
    with _default_lock:
        if _default is None:
            url, api_key = os.environ.get("TOCSIN_URL"), os.environ.get("TOCSIN_API_KEY")
            if not url or not api_key:
                raise RuntimeError(
                    "call tocsin.sdk.configure(url, api_key) first "
                    "(or set TOCSIN_URL and TOCSIN_API_KEY)"
                )
            _default = TocsinClient(url, api_key)
        return _default


def emit_to_user(
    user_id: str, event: str, data: Notification, *, tenant_id: str | None = None
) -> Result:
    """:meth:`TocsinClient.emit_to_user` on :func:`default_client` (which may raise)."""
    return default_client().emit_to_user(user_id, event, data, tenant_id=tenant_id)


def emit_to_tenant(tenant_id: str, event: str, data: Notification) -> Result:
    """:meth:`TocsinClient.emit_to_tenant` on :func:`default_client` (which may raise)."""
    return default_client().emit_to_tenant(tenant_id, event, data)


def emit_to_all(event: str, data: Notification) -> Result:
    """:meth:`TocsinClient.emit_to_all` on :func:`default_client` (which may raise)."""
    return default_client().emit_to_all(event, data)


def notify_email_received(data: Notification) -> Result:
    """:meth:`TocsinClient.notify_email_received` on :func:`default_client` (which may raise)."""
    return default_client().notify_email_received(data)


def notify_dossier_updated(data: Notification) -> Result:
    """:meth:`TocsinClient.notify_dossier_updated` on :func:`default_client` (which may raise)."""
    return default_client().notify_dossier_updated(data)


def notify_deadline_alert(data: Notification) -> Result:
    """:meth:`TocsinClient.notify_deadline_alert` on :func:`default_client` (which may raise)."""
    return default_client().notify_deadline_alert(data)


def notify_system(data: Notification) -> Result:
    """:meth:`TocsinClient.notify_system` on :func:`default_client` (which may raise)."""
    return default_client().notify_system(data)


__all__ = [
    "AsyncTocsinClient",
    "EmbeddedPublisher",
    "TocsinAPIError",
    "TocsinClient",
    "close",
    "configure",
    "default_client",
    "emit_to_all",
    "emit_to_tenant",
    "emit_to_user",
    "notify_deadline_alert",
    "notify_dossier_updated",
    "notify_email_received",
    "notify_system",
]
