"""Compose a Tocsin node: store, bus, service, Socket.IO server and HTTP API in one ASGI app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from tocsin import __version__
from tocsin.admin import mount_admin
from tocsin.api import audit as audit_routes
from tocsin.api import channels as channel_routes
from tocsin.api import deadlines as deadline_routes
from tocsin.api import health, inbound, routes
from tocsin.api import inbox as inbox_routes
from tocsin.api import mail as mail_routes
from tocsin.api import preferences as preference_routes
from tocsin.api import privacy as privacy_routes
from tocsin.api.docs import mount_docs
from tocsin.api.errors import install_error_handlers
from tocsin.api.security_headers import SecurityHeaders
from tocsin.bus.base import Bus
from tocsin.bus.local import LocalBus
from tocsin.bus.redis import RedisBus
from tocsin.config import Settings, load_settings
from tocsin.deadlines.scheduler import DeadlineScheduler
from tocsin.deadlines.service import DeadlineService
from tocsin.digest import Digests
from tocsin.escalation import Escalation
from tocsin.gcpolicy import ScheduledFullCollections, freeze_startup_objects, watch_collections
from tocsin.ingest import start_mailbox_watchers
from tocsin.jobrunner import JobRunner
from tocsin.mailing import Mailing
from tocsin.outbox import OutboxConsumer
from tocsin.realtime.engine import SocketIOApp
from tocsin.realtime.server import create_socketio_server
from tocsin.retention import Retention
from tocsin.service import NotificationService
from tocsin.startup import ShortStartupFailure, cannot_open
from tocsin.store.sql import SqlStore
from tocsin.web import mount_web

log = logging.getLogger("tocsin")


def create_bus(settings: Settings) -> Bus:
    """The in-process bus, or the Redis bus between nodes when ``TOCSIN_REDIS_URL`` is set."""
    if settings.redis_url:
        return RedisBus(settings.redis_url, heartbeat_interval=settings.bus_heartbeat_interval)
    return LocalBus()


def create_service(settings: Settings) -> NotificationService:
    """A service over the configured store and bus (not yet opened)."""
    return NotificationService(settings, SqlStore(settings.database_url), create_bus(settings))


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not content:
                continue
            body = content["schema"]
            inner = body.get("properties", {}).get("notifications", {}).get("items", body)
            components.update(inner.pop("$defs", {}))
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings | None = None, service: NotificationService | None = None) -> Any:
    """The ASGI application of one node (HTTP API + Socket.IO at ``WEBSOCKET_PATH``).

    ``app.state.service`` of the returned app's HTTP part is the :class:`NotificationService`,
    for Python apps that embed Tocsin and publish in-process.
    """
    settings = settings or load_settings()
    service = service or create_service(settings)
    sio, dispatcher = create_socketio_server(service)
    deadlines = DeadlineService(service)
    mailing = Mailing(service)
    escalation = Escalation(service, mailing)
    digests = Digests(service, mailing)
    service.recipient_hooks.append(digests.on_recipient_changed)
    retention = Retention(service)
    jobs = JobRunner(
        service.store,
        {
            **service.job_handlers(),
            **escalation.handlers(),
            **mailing.handlers(),
            **digests.handlers(),
            **retention.handlers(),
        },
        poll_interval=settings.jobs_poll_interval,
        lease=settings.jobs_lease,
        before_claim=[escalation.plan, digests.plan_hourly, retention.plan],
    )
    service.on_jobs_added(jobs.wake)
    if escalation.planning:
        # A critical notification is pushed at once: plan it now, not at the next tick.
        service.on_stored(lambda _notes: jobs.wake())
    outbox = (
        OutboxConsumer(
            service,
            settings.database_url,
            poll_interval=settings.outbox_poll,
            max_bytes=settings.max_body_bytes,
        )
        if settings.outbox and not settings.is_sqlite
        else None
    )
    scheduler = (
        DeadlineScheduler(
            deadlines, settings.deadlines_time, settings.timezone, settings.deadlines_interval
        )
        if settings.deadlines_scheduler
        else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await service.store.open(migrate=settings.migrate_on_start)
        except Exception as exc:
            raise cannot_open("TOCSIN_DATABASE_URL", settings.database_url, exc) from exc
        await dispatcher.start()
        try:
            await service.bus.start(dispatcher.on_bus_message)
        except Exception as exc:
            if not settings.redis_url:
                raise
            raise cannot_open("TOCSIN_REDIS_URL", settings.redis_url, exc) from exc
        watchers = start_mailbox_watchers(service)
        await jobs.start()
        if outbox is not None:
            await outbox.start()
        if scheduler is not None:
            await scheduler.start()
        watch_collections()
        if settings.gc_freeze:
            freeze_startup_objects()
        full_collections = (
            ScheduledFullCollections(settings.gc_full_interval)
            if settings.gc_full_interval > 0
            else None
        )
        if full_collections is not None:
            full_collections.start()
        log.info("tocsin ready: store=%s", settings.database_url.split("://")[0])
        try:
            yield
        finally:
            if full_collections is not None:
                await full_collections.stop()
            await watchers.stop()
            if outbox is not None:
                await outbox.stop()
            await jobs.stop()
            await escalation.close()
            if scheduler is not None:
                await scheduler.stop()
            # Before the bus: its last message tells the other nodes its sockets are gone.
            await dispatcher.presence.stop()
            await service.bus.stop()
            await dispatcher.stop()
            await service.authenticator.aclose()
            await service.store.close()

    api = FastAPI(
        title="Tocsin",
        version=__version__,
        description="Real-time notifications: publish, inbox, Socket.IO delivery.",
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs, without a CDN
        redoc_url=None,
    )
    api.state.service = service
    api.state.sio = sio
    api.state.dispatcher = dispatcher
    api.state.deadlines = deadlines
    api.state.jobs = jobs
    api.state.mailing = mailing
    api.state.retention = retention
    api.state.outbox = outbox
    install_error_handlers(api)
    api.add_middleware(SecurityHeaders)
    api.add_middleware(ShortStartupFailure)
    api.include_router(health.router)
    api.include_router(routes.router)
    api.include_router(inbox_routes.router)
    api.include_router(preference_routes.router)
    api.include_router(channel_routes.router)
    api.include_router(privacy_routes.router)
    api.include_router(audit_routes.router)
    api.include_router(mail_routes.router)
    api.include_router(deadline_routes.router)
    api.include_router(inbound.router)
    mount_web(api)
    mount_admin(api)
    mount_docs(api)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]
    if not settings.websocket_enabled:
        return api
    return SocketIOApp(sio, other_asgi_app=api, socketio_path=settings.websocket_path)
