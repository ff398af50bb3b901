"""Deadlines watched by the scheduler; IMAP mailbox positions for e-mail ingestion.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deadlines",
        sa.Column("tenant_id", sa.String(200), primary_key=True),
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("dossier_number", sa.String(200), nullable=False),
        sa.Column("deadline_type", sa.String(1000), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("due_at", sa.String(64), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_deadlines_due", "deadlines", ["status", "due_date"])
    op.create_table(
        "mailbox_state",
        sa.Column("mailbox", sa.String(200), primary_key=True),
        sa.Column("uidvalidity", sa.BigInteger, nullable=False),
        sa.Column("last_uid", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mailbox_state")
    op.drop_table("deadlines")
