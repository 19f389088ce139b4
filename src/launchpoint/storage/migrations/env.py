"""Alembic environment: migrations run against the connection Launchpoint hands over."""

from __future__ import annotations

from alembic import context

from launchpoint.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - Launchpoint always passes its connection
    raise RuntimeError("run migrations through launchpoint.storage.database.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
