"""Alembic environment: always runs on a connection handed over by tocsin.store.migrate."""

from alembic import context

from tocsin.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `tocsin migrate`, which provides the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
