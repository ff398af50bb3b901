"""A firm's own settings (DESIGN §8–§9): its display name in e-mails, its retention period,
and its escalation delays, each None for the server's default.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_settings",
        sa.Column("tenant_id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("retention_days", sa.Integer, nullable=True),
        sa.Column("push_after", sa.Integer, nullable=True),
        sa.Column("email_after", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_settings")
