"""Prometheus metrics of this process (``GET /metrics``).

Metrics are process-wide: with several workers, scrape each (or use the multiprocess mode
of prometheus-client).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate

REGISTRY = CollectorRegistry(auto_describe=True)

CONNECTIONS = Gauge("tocsin_connections", "Sockets connected to this node", registry=REGISTRY)
PUBLISHED = Counter(
    "tocsin_notifications_published_total", "Notifications stored", ["event"], registry=REGISTRY
)
EMITTED = Counter(
    "tocsin_events_emitted_total",
    "Notification events sent to sockets",
    ["event"],
    registry=REGISTRY,
)
PUBLISH_TO_EMIT = Histogram(
    "tocsin_publish_to_emit_seconds",
    "From a commit of notifications to the first emit of one of them on this node",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
REPLAYS = Counter("tocsin_replays_total", "Connections that asked for a replay", registry=REGISTRY)
REPLAYED = Counter(
    "tocsin_replayed_notifications_total", "Notifications sent by replays", registry=REGISTRY
)
RESYNCS = Counter(
    "tocsin_resyncs_total", "Replays cut at their bound (client told to page)", registry=REGISTRY
)
BUS_LAG = Histogram(
    "tocsin_bus_lag_seconds",
    "From a bus message's publication to its receipt",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
    registry=REGISTRY,
)
BUS_SUBSCRIPTIONS = Counter(
    "tocsin_bus_subscriptions_total", "Bus (re)subscriptions", registry=REGISTRY
)
ERRORS = Counter(
    "tocsin_errors_total", "Errors by where they happened", ["where"], registry=REGISTRY
)
INGEST_MESSAGES = Counter(
    "tocsin_ingest_messages_total",
    "E-mails read by ingestion, by mailbox (or webhook) and outcome",
    ["mailbox", "outcome"],
    registry=REGISTRY,
)
INGEST_CONNECTED = Gauge(
    "tocsin_ingest_mailbox_connected",
    "1 while the IMAP session of a mailbox is up",
    ["mailbox"],
    registry=REGISTRY,
)
JOB_ITEM_FAILURES = Counter(
    "tocsin_job_item_failures_total",
    "Items of a batch job (deadlines, imap) that failed while the others went on",
    ["job"],
    registry=REGISTRY,
)

ACTIONS = Counter(
    "tocsin_actions_total", "Notification actions taken (act), first time only", registry=REGISTRY
)
SNOOZES_DUE = Counter(
    "tocsin_snoozes_due_total", "Snoozed notifications brought back", registry=REGISTRY
)
JOBS = Counter(
    "tocsin_jobs_total",
    "Durable jobs run, by kind and outcome",
    ["kind", "outcome"],
    registry=REGISTRY,
)
OUTBOX_ROWS = Counter(
    "tocsin_outbox_rows_total",
    "Transactional outbox rows consumed by this node, by outcome: published, replayed "
    "(published before, e.g. by a node that died before deleting the row), failed",
    ["outcome"],
    registry=REGISTRY,
)
RETENTION_PURGED = Counter(
    "tocsin_retention_purged_total",
    "Rows the retention purge removed, by kind: notifications, states, deliveries, jobs",
    ["kind"],
    registry=REGISTRY,
)
RETENTION_BATCHES = Counter(
    "tocsin_retention_batches_total",
    "Transactions of the retention purge (each removes at most 1,000 notifications)",
    registry=REGISTRY,
)
ERASURES = Counter(
    "tocsin_erasures_total", "Users erased (DELETE /api/v1/tenants/…/users/…)", registry=REGISTRY
)
SESSION_LOOKUPS = Counter(
    "tocsin_session_lookups_total",
    "Database-session cookies looked up, by outcome: cache_hit, refusal_cache_hit, joined "
    "(shared a lookup in flight), app_session, app_no_session, app_error, saturated",
    ["outcome"],
    registry=REGISTRY,
)
SESSION_LOOKUPS_IN_FLIGHT = Gauge(
    "tocsin_session_lookups_in_flight",
    "Requests to NEXTAUTH_URL/api/auth/session in flight",
    registry=REGISTRY,
)

GC_PAUSE = Histogram(
    "tocsin_gc_pause_seconds",
    "Garbage collection pauses of this process, by generation",
    ["generation"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return _generate(REGISTRY), CONTENT_TYPE_LATEST


@cache
def published(event: str) -> Any:
    """``PUBLISHED`` for one event name (labels are looked up once, not per notification)."""
    return PUBLISHED.labels(event)


@cache
def emitted(event: str) -> Any:
    """``EMITTED`` for one event name."""
    return EMITTED.labels(event)


@cache
def session_lookup(outcome: str) -> Any:
    """``SESSION_LOOKUPS`` for one outcome."""
    return SESSION_LOOKUPS.labels(outcome)
