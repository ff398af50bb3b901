"""Tocsin: a self-hosted real-time notification server (Socket.IO, durable inbox, NextAuth)."""

__version__ = "0.1.0"

from tocsin.app import create_app
from tocsin.config import ConfigError, Settings, load_settings
from tocsin.sdk import AsyncTocsinClient, EmbeddedPublisher, TocsinAPIError, TocsinClient
from tocsin.service import NotificationService

__all__ = [
    "AsyncTocsinClient",
    "ConfigError",
    "EmbeddedPublisher",
    "NotificationService",
    "Settings",
    "TocsinAPIError",
    "TocsinClient",
    "__version__",
    "create_app",
    "load_settings",
]
