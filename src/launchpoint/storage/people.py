"""What Launchpoint keeps about people beyond their records: profile edits, exposures, the
suppression list, and everything a user may export or have deleted. Workspace documents
(onboarding questions, signal weights) live here too."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select

from launchpoint.storage import tables as t
from launchpoint.storage.database import Database
from launchpoint.storage.store import WorkspaceStore

# Every table that holds a user's id, and the column it is in: what export reads and delete
# clears. A test scans every table of the schema for a deleted user's id, so a table added
# without being listed here fails it.
USER_TABLES: tuple[tuple[Any, str], ...] = (
    (t.users, "id"),
    (t.events, "user_id"),
    (t.profiles, "user_id"),
    (t.exposures, "user_id"),
)


class PeopleStore:
    def __init__(self, db: Database, workspace_id: str, records: WorkspaceStore) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.records = records  # bumps the data version with a write

    # -- profile edits -------------------------------------------------------------------
    def profiles(self) -> dict[str, dict[str, Any]]:
        """user id -> {removed_interests, opt_outs, reset_at} for every user with edits."""
        c = t.profiles.c
        with self.db.read() as conn:
            rows = conn.execute(
                select(c.user_id, c.removed_interests, c.opt_outs, c.reset_at).where(
                    c.workspace_id == self.workspace_id
                )
            ).all()
        return {
            row[0]: {"removed_interests": row[1], "opt_outs": row[2], "reset_at": row[3]}
            for row in rows
        }

    def profile(self, user_id: str) -> dict[str, Any]:
        return self.profiles_of([user_id]).get(
            user_id, {"removed_interests": [], "opt_outs": [], "reset_at": None}
        )

    def profiles_of(self, user_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        c = t.profiles.c
        with self.db.read() as conn:
            rows = conn.execute(
                select(c.user_id, c.removed_interests, c.opt_outs, c.reset_at).where(
                    c.workspace_id == self.workspace_id, c.user_id.in_(list(user_ids))
                )
            ).all()
        return {
            row[0]: {"removed_interests": row[1], "opt_outs": row[2], "reset_at": row[3]}
            for row in rows
        }

    def save_profile(
        self,
        user_id: str,
        *,
        removed_interests: Iterable[str],
        opt_outs: Iterable[str],
        reset_at: float | None,
        user_update: Mapping[str, Any] | None = None,
    ) -> int:
        """Store a user's profile edits (and changes to the user's own row, in the same
        transaction); the new data version."""
        now = time.time()
        values = {
            "workspace_id": self.workspace_id,
            "user_id": user_id,
            "removed_interests": sorted(set(removed_interests)),
            "opt_outs": sorted(set(opt_outs)),
            "reset_at": reset_at,
            "updated_at": now,
        }
        insert = self.records._insert(t.profiles).values(**values)
        upsert = insert.on_conflict_do_update(
            index_elements=["workspace_id", "user_id"],
            set_={k: insert.excluded[k] for k in values if k not in ("workspace_id", "user_id")},
        )
        with self.db.write() as conn:
            conn.execute(upsert)
            if user_update:
                u = t.users.c
                conn.execute(
                    t.users.update()
                    .where(u.workspace_id == self.workspace_id, u.id == user_id)
                    .values(**user_update)
                )
            return self.records._bump(conn)

    # -- exposures -----------------------------------------------------------------------
    def log_exposures(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Record what was shown; rows as the exposures table has them, less workspace_id."""
        if not rows:
            return
        values = [{"workspace_id": self.workspace_id, **row} for row in rows]
        insert = self.records._insert(t.exposures)
        with self.db.write() as conn:
            conn.execute(insert.on_conflict_do_nothing(), values)

    def exposures(
        self, user_id: str | None = None, since: float | None = None
    ) -> list[dict[str, Any]]:
        c = t.exposures.c
        query = select(t.exposures).where(c.workspace_id == self.workspace_id)
        if user_id is not None:
            query = query.where(c.user_id == user_id)
        if since is not None:
            query = query.where(c.created_at >= since)
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(c.created_at)).mappings().all()
        return [_without_workspace(row) for row in rows]

    # -- export, delete, suppression -----------------------------------------------------
    def export_user(self, user_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every row held about the user, table by table."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self.db.read() as conn:
            for table, column in USER_TABLES:
                query = select(table).where(
                    table.c.workspace_id == self.workspace_id, table.c[column] == user_id
                )
                out[table.name] = [_without_workspace(r) for r in conn.execute(query).mappings()]
        return out

    def delete_user(self, user_id: str) -> dict[str, int]:
        """Delete every row that holds the user's id, and put the id on the suppression list
        so late events for it are dropped, in one transaction. Rows deleted per table."""
        counts: dict[str, int] = {}
        with self.db.write() as conn:
            for table, column in USER_TABLES:
                result = conn.execute(
                    delete(table).where(
                        table.c.workspace_id == self.workspace_id, table.c[column] == user_id
                    )
                )
                counts[table.name] = int(result.rowcount)
            stmt = self.records._insert(t.suppressed_users).values(
                workspace_id=self.workspace_id, user_id=user_id, deleted_at=time.time()
            )
            conn.execute(stmt.on_conflict_do_nothing())
            self.records._bump(conn)
        return counts

    def is_suppressed(self, user_id: str) -> bool:
        c = t.suppressed_users.c
        with self.db.read() as conn:
            return (
                conn.execute(
                    select(c.user_id).where(
                        c.workspace_id == self.workspace_id, c.user_id == user_id
                    )
                ).first()
                is not None
            )

    def suppressed(self) -> list[str]:
        c = t.suppressed_users.c
        with self.db.read() as conn:
            rows = conn.execute(
                select(c.user_id).where(c.workspace_id == self.workspace_id).order_by(c.user_id)
            ).all()
        return [row[0] for row in rows]

    # -- workspace documents -------------------------------------------------------------
    def setting(self, key: str) -> Any | None:
        c = t.workspace_settings.c
        with self.db.read() as conn:
            return conn.execute(
                select(c.definition).where(c.workspace_id == self.workspace_id, c.key == key)
            ).scalar()

    def save_setting(self, key: str, definition: Any) -> None:
        values = {
            "workspace_id": self.workspace_id,
            "key": key,
            "definition": definition,
            "updated_at": time.time(),
        }
        insert = self.records._insert(t.workspace_settings).values(**values)
        with self.db.write() as conn:
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["workspace_id", "key"],
                    set_={"definition": definition, "updated_at": values["updated_at"]},
                )
            )
            self.records._bump(conn)


def _without_workspace(row: Any) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "workspace_id"}
