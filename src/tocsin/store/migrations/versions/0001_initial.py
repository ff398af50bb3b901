"""Initial schema: notifications, cursor sequence, read state, API keys.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    seq = op.create_table(
        "cursor_sequence",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(seq, [{"name": "notifications", "value": 0}])
    op.create_table(
        "notifications",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cursor", sa.BigInteger, nullable=False, unique=True),
        sa.Column("public_id", sa.String(200), nullable=False),
        sa.Column("id_scope", sa.String(200), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("audience", sa.String(10), nullable=False),
        sa.Column("tenant_id", sa.String(200), nullable=True),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.UniqueConstraint("id_scope", "public_id", name="uq_notifications_scope_id"),
        sa.UniqueConstraint("id_scope", "idempotency_key", name="uq_notifications_scope_idem"),
    )
    op.create_index(
        "ix_notifications_audience", "notifications", ["tenant_id", "user_id", "cursor"]
    )
    op.create_table(
        "user_state",
        sa.Column("tenant_id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("read_cursor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cleared_cursor", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "read_receipts",
        sa.Column("tenant_id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("cursor", sa.BigInteger, primary_key=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_keys_tenant", "api_keys", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("read_receipts")
    op.drop_table("user_state")
    op.drop_table("notifications")
    op.drop_table("cursor_sequence")
