"""The transactional outbox (DESIGN §9): ``tocsin_outbox``, which the host app writes in its
own transaction, and on PostgreSQL the ``tocsin_publish`` function and the trigger whose
NOTIFY wakes the consumers at commit (docs/outbox.md).

On SQLite the table exists but nothing consumes it: the consumer is PostgreSQL's.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# SECURITY DEFINER: an app given EXECUTE on it (and USAGE on Tocsin's schema) may publish
# without any right on the table; it runs as Tocsin's role, so its body names the table with
# its schema and trusts no search_path but pg_catalog's (PostgreSQL's advice for such
# functions). Nobody else may call it unless granted (PUBLIC's default EXECUTE is revoked).
PUBLISH_FUNCTION = """
CREATE OR REPLACE FUNCTION tocsin_publish(tenant text, notification jsonb, key text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO {schema}.tocsin_outbox (tenant_id, notification, key)
    VALUES (tenant, notification, key)
    RETURNING id
$$
"""
REVOKE_PUBLIC = "REVOKE ALL ON FUNCTION tocsin_publish(text, jsonb, text) FROM PUBLIC"
# One NOTIFY per statement, delivered at commit (and never for a rolled-back transaction);
# PostgreSQL folds identical ones of a transaction into one. Plain INSERTs ring it too.
NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION tocsin_outbox_notify() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('tocsin_outbox', '');
    RETURN NULL;
END
$$
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER tocsin_outbox_notify AFTER INSERT ON tocsin_outbox
FOR EACH STATEMENT EXECUTE FUNCTION tocsin_outbox_notify()
"""


def upgrade() -> None:
    op.create_table(
        "tocsin_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.Identity(),
            primary_key=True,
        ),
        sa.Column("tenant_id", sa.String(200), nullable=True),
        sa.Column(
            "notification", sa.JSON().with_variant(postgresql.JSONB, "postgresql"), nullable=False
        ),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_tocsin_outbox_pending",
        "tocsin_outbox",
        ["id"],
        postgresql_where=sa.text("failed_at IS NULL"),
        sqlite_where=sa.text("failed_at IS NULL"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
        op.execute(PUBLISH_FUNCTION.format(schema=schema))
        op.execute(REVOKE_PUBLIC)
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tocsin_outbox_notify ON tocsin_outbox")
        op.execute("DROP FUNCTION IF EXISTS tocsin_outbox_notify()")
        op.execute("DROP FUNCTION IF EXISTS tocsin_publish(text, jsonb, text)")
    op.drop_index("ix_tocsin_outbox_pending", table_name="tocsin_outbox")
    op.drop_table("tocsin_outbox")
