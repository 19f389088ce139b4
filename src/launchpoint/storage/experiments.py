"""Experiments, the workspace's holdout, and the reads an experiment's analysis needs: its
exposures, the events of the users it exposed, the categories of the items it showed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from launchpoint.errors import Conflict, NotFound
from launchpoint.storage import tables as t
from launchpoint.storage.database import Database
from launchpoint.storage.store import WorkspaceStore

HOLDOUT_KEY = "experiments.holdout"
_IN_CHUNK = 500


class ExperimentStore:
    """Experiments are stored as their whole definition (a JSON document) with the status
    beside it for filtering. Every write moves the workspace's data version on, so serving
    processes see a started or stopped experiment as soon as they see any other write."""

    def __init__(self, db: Database, workspace_id: str) -> None:
        self.db = db
        self.workspace_id = workspace_id
        records = WorkspaceStore(db, workspace_id)
        self._insert = records._insert  # the dialect's INSERT ... ON CONFLICT
        self._bump = records._bump  # move the data version on, in the writer's transaction

    # -- experiments ---------------------------------------------------------------------
    def create(self, experiment_id: str, status: str, definition: dict[str, Any]) -> float:
        """Store a new experiment; Conflict when the id is taken. Returns its created_at."""
        now = time.time()
        stmt = self._insert(t.experiments).values(
            workspace_id=self.workspace_id,
            id=experiment_id,
            status=status,
            definition=definition,
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_nothing(index_elements=["workspace_id", "id"])
        with self.db.write() as conn:
            # RETURNING says whether the row went in; rowcount after ON CONFLICT is not
            # reliable across drivers.
            if conn.execute(stmt.returning(t.experiments.c.id)).first() is None:
                raise Conflict(
                    f"experiment {experiment_id!r} already exists in workspace "
                    f"{self.workspace_id!r}; choose another id"
                )
            self._bump(conn)
        return now

    def save(self, experiment_id: str, status: str, definition: dict[str, Any]) -> None:
        """Replace a stored experiment's status and definition; NotFound when there is none."""
        c = t.experiments.c
        with self.db.write() as conn:
            result = conn.execute(
                update(t.experiments)
                .where(c.workspace_id == self.workspace_id, c.id == experiment_id)
                .values(status=status, definition=definition, updated_at=time.time())
            )
            if result.rowcount == 0:
                raise NotFound(self._missing(experiment_id))
            self._bump(conn)

    def get(self, experiment_id: str) -> dict[str, Any]:
        """{id, status, definition, created_at, updated_at}; NotFound when there is none."""
        c = t.experiments.c
        query = select(t.experiments).where(
            c.workspace_id == self.workspace_id, c.id == experiment_id
        )
        with self.db.read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(self._missing(experiment_id))
        return _public(row)

    def all(self, status: str | None = None) -> list[dict[str, Any]]:
        c = t.experiments.c
        query = select(t.experiments).where(c.workspace_id == self.workspace_id)
        if status is not None:
            query = query.where(c.status == status)
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(c.created_at, c.id)).mappings().all()
        return [_public(row) for row in rows]

    def _missing(self, experiment_id: str) -> str:
        return f"experiment {experiment_id!r} does not exist in workspace {self.workspace_id!r}"

    # -- holdout -------------------------------------------------------------------------
    def holdout(self) -> dict[str, Any] | None:
        c = t.workspace_settings.c
        with self.db.read() as conn:
            value = conn.execute(
                select(c.definition).where(
                    c.workspace_id == self.workspace_id, c.key == HOLDOUT_KEY
                )
            ).scalar()
        return dict(value) if isinstance(value, dict) else None

    def save_holdout(self, definition: dict[str, Any]) -> None:
        now = time.time()
        stmt = self._insert(t.workspace_settings).values(
            workspace_id=self.workspace_id, key=HOLDOUT_KEY, definition=definition, updated_at=now
        )
        with self.db.write() as conn:
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["workspace_id", "key"],
                    set_={"definition": stmt.excluded.definition, "updated_at": now},
                )
            )
            self._bump(conn)

    # -- reads for the analysis ----------------------------------------------------------
    def exposures(self, experiment_id: str) -> list[dict[str, Any]]:
        """The experiment's exposures, oldest first, as exposures-table rows."""
        c = t.exposures.c
        query = (
            select(c.recommendation_id, c.user_id, c.surface, c["items"], c.variant, c.created_at)
            .where(c.workspace_id == self.workspace_id, c.experiment_id == experiment_id)
            .order_by(c.created_at, c.recommendation_id)
        )
        with self.db.read() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def exposed_events(
        self, experiment_id: str, since: float | None = None, until: float | None = None
    ) -> list[dict[str, Any]]:
        """Events of the users the experiment exposed, between ``since`` and ``until``
        (inclusive), oldest first: the candidates for attribution."""
        e, x = t.events.c, t.exposures.c
        exposed = (
            select(x.user_id)
            .where(x.workspace_id == self.workspace_id, x.experiment_id == experiment_id)
            .distinct()
        )
        query = select(e.user_id, e.item_id, e.type, e.value, e.ts, e.context).where(
            e.workspace_id == self.workspace_id, e.user_id.in_(exposed)
        )
        if since is not None:
            query = query.where(e.ts >= since)
        if until is not None:
            query = query.where(e.ts <= until)
        with self.db.read() as conn:
            return [
                dict(row) for row in conn.execute(query.order_by(e.ts, e.message_id)).mappings()
            ]

    def item_categories(self, item_ids: Sequence[str]) -> dict[str, list[str]]:
        c = t.items.c
        ids = sorted(set(item_ids))
        out: dict[str, list[str]] = {}
        with self.db.read() as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                part = ids[start : start + _IN_CHUNK]
                query = select(c.id, c.categories).where(
                    c.workspace_id == self.workspace_id, c.id.in_(part)
                )
                out.update((row[0], list(row[1] or [])) for row in conn.execute(query))
        return out


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "definition": row["definition"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
