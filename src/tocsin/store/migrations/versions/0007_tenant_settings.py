"""A firm's own settings (DESIGN §8, §9): its display name in e-mails, its retention period,
and its escalation delays, each None for the server's default. And what purging old
notifications and erasing a user need to work in bounded batches (DESIGN §9): the indexes
that find a tenant's oldest notifications, the states and a user's deliveries, and the
notification a job is about (``jobs.cursor``, from its payload).

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
    op.create_index("ix_notifications_retention", "notifications", ["tenant_id", "accepted_at"])
    op.create_index("ix_item_states_cursor", "item_states", ["cursor"])
    op.create_index("ix_deliveries_user", "deliveries", ["tenant_id", "user_id"])
    op.add_column("jobs", sa.Column("cursor", sa.BigInteger, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE jobs SET cursor = (payload->>'cursor')::bigint "
            "WHERE json_typeof(payload->'cursor') = 'number'"
        )
    else:
        op.execute(
            "UPDATE jobs SET cursor = json_extract(payload, '$.cursor') "
            "WHERE json_type(payload, '$.cursor') = 'integer'"
        )
    op.create_index("ix_jobs_cursor", "jobs", ["cursor"])


def downgrade() -> None:
    op.drop_index("ix_jobs_cursor", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("cursor")
    op.drop_index("ix_deliveries_user", table_name="deliveries")
    op.drop_index("ix_item_states_cursor", table_name="item_states")
    op.drop_index("ix_notifications_retention", table_name="notifications")
    op.drop_table("tenant_settings")
