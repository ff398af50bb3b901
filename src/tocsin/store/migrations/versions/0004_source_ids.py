"""Tocsin's own notification ids: the publisher's ``id`` becomes ``source_id``.

The publisher's id names the *subject* of a notification (a dossier, an e-mail) and
repeats: from now on it is kept as ``source_id`` and never makes Tocsin drop a publish.
Retries are recognised by their ``Idempotency-Key``, or, for a publish with a source id,
by the hash of its whole content (``content_hash``).

Existing rows keep their id (clients may hold it) and get it as their source id too. The
server's own once-only publishes (e-mail ingestion, deadline alerts) used their id as
their once-key: that key moves to ``idempotency_key`` so that a message or an alert seen
again after the upgrade is still stored once.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Also in tocsin.service (ONCE_KEY_PREFIX, ONCE_HASH); a migration must not import the app.
ONCE_KEY_PREFIX = "tocsin:"
ONCE_HASH = "once"


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("source_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("content_hash", sa.String(64), nullable=True))
        batch.create_index(
            "uq_notifications_scope_content", ["id_scope", "content_hash"], unique=True
        )
    op.execute("UPDATE notifications SET source_id = public_id")
    op.execute(
        sa.text(
            "UPDATE notifications SET idempotency_key = :prefix || public_id, "
            "request_hash = :once WHERE idempotency_key IS NULL AND ("
            "(event = 'email-received' AND public_id LIKE 'mail-%') OR "
            "(event = 'deadline-alert' AND public_id LIKE 'deadline:%'))"
        ).bindparams(prefix=ONCE_KEY_PREFIX, once=ONCE_HASH)
    )


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index("uq_notifications_scope_content")
        batch.drop_column("content_hash")
        batch.drop_column("source_id")
