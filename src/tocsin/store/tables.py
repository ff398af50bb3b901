"""Table definitions shared by the SQL store (the Alembic migrations spell them out too)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# The single counter that hands out delivery cursors. Publishers lock its row for the
# rest of their transaction, so cursors become visible in exactly the order they were
# handed out: a reader that sees cursor N also sees every cursor below N.
cursor_sequence = Table(
    "cursor_sequence",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("cursor", BigInteger, nullable=False, unique=True),
    # Tocsin's own id, unique per notification (generated; rows stored before revision 0004
    # kept the publisher's).
    Column("public_id", String(200), nullable=False),
    # Ids, idempotency keys and content hashes are unique per tenant; "" is the scope of
    # notifications to everyone.
    Column("id_scope", String(200), nullable=False),
    # The publisher's own ``id`` (the seed's e-mail or dossier id: it repeats), as sent.
    Column("source_id", String(200), nullable=True),
    Column("event", String(40), nullable=False),
    Column("audience", String(10), nullable=False),
    Column("tenant_id", String(200), nullable=True),
    Column("user_id", String(200), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # When this server accepted it (``created_at`` is the publisher's own timestamp).
    Column("accepted_at", DateTime(timezone=True), nullable=True),
    Column("idempotency_key", String(255), nullable=True),
    Column("request_hash", String(64), nullable=True),
    # For a publish with a ``source_id``: the hash of everything it said (event, source id,
    # fields, timestamp). The same hash again is a retry of it, not a new notification.
    Column("content_hash", String(64), nullable=True),
    UniqueConstraint("id_scope", "public_id", name="uq_notifications_scope_id"),
    UniqueConstraint("id_scope", "idempotency_key", name="uq_notifications_scope_idem"),
    Index("uq_notifications_scope_content", "id_scope", "content_hash", unique=True),
    Index("ix_notifications_audience", "tenant_id", "user_id", "cursor"),
    # The retention purge (tocsin.retention) finds a tenant's oldest rows in bounded batches.
    Index("ix_notifications_retention", "tenant_id", "accepted_at"),
)

user_state = Table(
    "user_state",
    metadata,
    Column("tenant_id", String(200), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("read_cursor", BigInteger, nullable=False, default=0),
    Column("cleared_cursor", BigInteger, nullable=False, default=0),
)

# A user's state of one notification, sparse: a row only once something happened to it
# (seen, read, archived, snoozed, acted on). "Read" is also given by the user's read
# watermark (``user_state.read_cursor``) unless ``returned_at`` says a snooze brought the
# notification back unread after that watermark passed it.
item_states = Table(
    "item_states",
    metadata,
    Column("tenant_id", String(200), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("cursor", BigInteger, primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=True),
    Column("read_at", DateTime(timezone=True), nullable=True),
    Column("archived_at", DateTime(timezone=True), nullable=True),
    Column("snoozed_until", DateTime(timezone=True), nullable=True),
    Column("returned_at", DateTime(timezone=True), nullable=True),
    Column("action", String(64), nullable=True),
    Column("acted_at", DateTime(timezone=True), nullable=True),
    # Purged notifications take every user's state of them along.
    Index("ix_item_states_cursor", "cursor"),
)

# Preferences: a user's own choices, or a tenant's defaults (``user_id`` ""), stored as
# the overrides document the user or tenant gave (see tocsin.preferences).
preferences = Table(
    "preferences",
    metadata,
    Column("tenant_id", String(200), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("document", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Durable background work (snooze wake-ups now; push, e-mail and digests next): one row
# per job, its key unique, claimed by one node at a time under a lease.
jobs = Table(
    "jobs",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("tenant_id", String(200), nullable=True),
    Column("user_id", String(200), nullable=True),
    Column("run_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSON, nullable=False),
    # pending, done, failed, cancelled
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("locked_by", String(100), nullable=True),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The notification a job is about (its payload's ``cursor``), so that purging or
    # erasing a notification takes its jobs along.
    Column("cursor", BigInteger, nullable=True),
    Index("ix_jobs_due", "status", "run_at"),
    Index("ix_jobs_user", "tenant_id", "user_id"),
    Index("ix_jobs_cursor", "cursor"),
)

# Append-only record of what people did that others may have to prove later
# (acknowledgements now; erasures, keys and settings in DESIGN §9).
audit_log = Table(
    "audit_log",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("tenant_id", String(200), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(200), nullable=True),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_tenant_at", "tenant_id", "at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("tenant_id", String(200), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_keys_tenant", "tenant_id"),
)

deadlines = Table(
    "deadlines",
    metadata,
    Column("tenant_id", String(200), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("user_id", String(200), nullable=False),
    Column("dossier_number", String(200), nullable=False),
    Column("deadline_type", String(1000), nullable=False),
    # The calendar day it falls on in its time zone, and the value as given (date or datetime).
    Column("due_date", Date, nullable=False),
    Column("due_at", String(64), nullable=False),
    Column("timezone", String(64), nullable=True),
    Column("status", String(10), nullable=False),
    Column("message", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_deadlines_due", "status", "due_date"),
)

# Where an IMAP watcher is in each mailbox: messages are processed once across restarts.
mailbox_state = Table(
    "mailbox_state",
    metadata,
    Column("mailbox", String(200), primary_key=True),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("last_uid", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Browsers' Web Push subscriptions (DESIGN §8): one per endpoint, owned by the user who
# subscribed last (a browser signed in as someone else takes its endpoint over).
push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    # sha256 of the endpoint: endpoints are long URLs, and the key must be indexable.
    Column("endpoint_hash", String(64), primary_key=True),
    Column("endpoint", Text, nullable=False),
    Column("tenant_id", String(200), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("p256dh", String(200), nullable=False),
    Column("auth", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_push_subscriptions_user", "tenant_id", "user_id"),
)

# What Tocsin knows of a user beyond their token: where to e-mail them, in which language
# and time zone (DESIGN §8; set by the app, or the session's ``email`` claim on connect).
user_profiles = Table(
    "user_profiles",
    metadata,
    Column("tenant_id", String(200), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("email", String(320), nullable=True),
    Column("locale", String(5), nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# How far a node-independent reader of the notifications got (the escalation planner):
# a name and the last cursor it has handled.
progress = Table(
    "progress",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("cursor", BigInteger, nullable=False),
)

# The delivery log (DESIGN §8): each push and e-mail attempt's outcome, per recipient.
deliveries = Table(
    "deliveries",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("cursor", BigInteger, nullable=False),
    Column("tenant_id", String(200), nullable=False),
    Column("user_id", String(200), nullable=False),
    # push, email
    Column("channel", String(10), nullable=False),
    # sent, failed, cancelled, deferred
    Column("status", String(10), nullable=False),
    Column("detail", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_deliveries_cursor", "cursor"),
    # An erasure finds a user's lines.
    Index("ix_deliveries_user", "tenant_id", "user_id"),
)

# A firm's own settings (DESIGN §8, §9); a None column means the server's default.
tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("tenant_id", String(200), primary_key=True),
    # The firm's name as its e-mails show it.
    Column("name", String(200), nullable=True),
    # Notifications older than this many days are purged (TOCSIN_RETENTION_DAYS).
    Column("retention_days", Integer, nullable=True),
    # Escalation delays in seconds (TOCSIN_PUSH_AFTER, TOCSIN_EMAIL_AFTER).
    Column("push_after", Integer, nullable=True),
    Column("email_after", Integer, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The transactional outbox (DESIGN §9, docs/outbox.md): the host app inserts a notification
# here in its own transaction (``tocsin_publish`` on PostgreSQL); a node publishes each
# committed row once, then deletes it. A row that cannot be published stays, with
# ``failed_at`` and ``error``. Consumed on PostgreSQL only.
outbox = Table(
    "tocsin_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True),
    Column("tenant_id", String(200), nullable=True),
    # The object POST /api/v1/notifications takes (``event`` and the seed's fields).
    Column("notification", JSON().with_variant(JSONB, "postgresql"), nullable=False),
    # The app's own key for this notification: a second row with it is a retry.
    Column("key", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("failed_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
    Index(
        "ix_tocsin_outbox_pending",
        "id",
        postgresql_where=text("failed_at IS NULL"),
        sqlite_where=text("failed_at IS NULL"),
    ),
)
