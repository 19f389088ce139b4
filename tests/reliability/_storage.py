"""What the reliability tests read straight from the database, past the engine and its caches,
and how they leave a shared PostgreSQL database as they found it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, select

from launchpoint.storage import Database
from launchpoint.storage import tables as t


def stored_message_ids(db: Database, workspace: str) -> Counter[str]:
    """How many rows each message id has in the workspace's events (1 each, if all is well)."""
    c = t.events.c
    query = (
        select(c.message_id, func.count()).where(c.workspace_id == workspace).group_by(c.message_id)
    )
    with db.read() as conn:
        return Counter({row[0]: int(row[1]) for row in conn.execute(query)})


def rows_of_users(db: Database, workspace: str, user_ids: Iterable[str]) -> dict[str, int]:
    """Rows in ``events`` and ``users`` that name any of these users."""
    ids = sorted(set(user_ids))
    if not ids:
        return {"events": 0, "users": 0}
    with db.read() as conn:
        events = conn.execute(
            select(func.count())
            .select_from(t.events)
            .where(t.events.c.workspace_id == workspace, t.events.c.user_id.in_(ids))
        ).scalar_one()
        users = conn.execute(
            select(func.count())
            .select_from(t.users)
            .where(t.users.c.workspace_id == workspace, t.users.c.id.in_(ids))
        ).scalar_one()
    return {"events": int(events), "users": int(users)}


def drop_workspace(db: Database, workspace: str) -> None:
    """Delete every row of a workspace, children first."""
    with db.write() as conn:
        for table in reversed(t.metadata.sorted_tables):
            column = "id" if table is t.workspaces else "workspace_id"
            if column in table.c:
                conn.execute(table.delete().where(table.c[column] == workspace))
