"""Run the Alembic migrations shipped inside the package, from async code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same for every Tocsin node.
_PG_MIGRATION_LOCK = 0x70C5_1A00


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the package's migrations (and a live connection)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Nodes starting together must not migrate concurrently.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent, safe with several nodes)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
