"""A few events written to PostgreSQL in one statement: the real-time path's write.

Each statement costs a round trip to the server, and one event used to take ten (the
suppression check, the stored-message check, the staging table, the insert, the bare users,
the version bump, the commit). Data-modifying CTEs do all of it in one statement, which
PostgreSQL runs atomically in its own transaction, so the caller sends it in autocommit mode:
one round trip, durable when it returns."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

# The columns of an events row as the store builds it, with the type PostgreSQL should read
# each parameter as (a VALUES list takes its column types from its parameters).
_COLUMNS = (
    ("workspace_id", "text"),
    ("message_id", "text"),
    ("user_id", "text"),
    ("item_id", "text"),
    ("type", "text"),
    ("value", "float8"),
    ("ts", "float8"),
    ("context", "json"),
    ("properties", "json"),
    ("received_at", "float8"),
)


@lru_cache(maxsize=64)
def _statement(n_rows: int) -> str:
    names = ", ".join(name for name, _ in _COLUMNS)
    row = "(" + ", ".join(f"%s::{kind}" for _, kind in _COLUMNS) + ")"
    return (
        f"WITH incoming ({names}) AS (VALUES {', '.join(row for _ in range(n_rows))}), "
        "blocked AS (SELECT s.user_id FROM suppressed_users s WHERE s.workspace_id = %s "
        "AND s.user_id IN (SELECT user_id FROM incoming)), "
        "kept AS (SELECT * FROM incoming WHERE user_id NOT IN (SELECT user_id FROM blocked)), "
        f"stored AS (INSERT INTO events ({names}) SELECT {names} FROM kept "
        "ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING message_id), "
        "bare AS (INSERT INTO users (workspace_id, id, attributes, consents, personalisation, "
        "created_at) SELECT workspace_id, user_id, '{}'::json, '{}'::json, true, "
        "min(received_at) FROM kept GROUP BY workspace_id, user_id "
        "ON CONFLICT (workspace_id, id) DO NOTHING), "
        "bump AS (UPDATE workspaces SET data_version = data_version + 1 WHERE id = %s "
        "AND EXISTS (SELECT 1 FROM stored) RETURNING data_version) "
        "SELECT 's', message_id FROM stored UNION ALL SELECT 'b', user_id FROM blocked "
        "UNION ALL SELECT 'v', data_version::text FROM bump"
    )


def few_events_postgres(
    conn: Connection, rows: Sequence[tuple[Any, ...]]
) -> tuple[set[str], set[str], int | None]:
    """Store ``rows`` (events rows of one workspace, unique message ids) unless their user
    is suppressed, add bare users, and move the data version on when any row was stored.
    Returns (message ids stored, suppressed user ids, the new data version or None)."""
    workspace_id = rows[0][0]
    params = [value for row in rows for value in row]
    params += [workspace_id, workspace_id]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(_statement(len(rows)), params)
    stored: set[str] = set()
    blocked: set[str] = set()
    version: int | None = None
    for kind, value in cursor.fetchall():
        if kind == "s":
            stored.add(value)
        elif kind == "b":
            blocked.add(value)
        else:
            version = int(value)
    cursor.close()
    return stored, blocked, version
