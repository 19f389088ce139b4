"""Everything Launchpoint reads and writes for one workspace; the only place with SQL."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.domain.segments import SegmentSpec, SurfaceSpec
from launchpoint.storage import tables as t
from launchpoint.storage.database import Database, dumps_json
from launchpoint.storage.few_events import few_events_postgres

T = TypeVar("T")
EVENT_CHUNK = 5000
# Up to this many events in one call, the store says which it stored (one more query), so
# the serving state takes them in at once; bigger batches are imports, which rebuild it.
REALTIME_ROWS = 500
# Up to this many, PostgreSQL gets them in one statement (few_events.py); past it, that
# statement's thousands of parameters cost more than the round trips it saves.
STATEMENT_ROWS = 50
_EVENT_COLUMNS = (
    "workspace_id",
    "message_id",
    "user_id",
    "item_id",
    "type",
    "value",
    "ts",
    "context",
    "properties",
    "received_at",
)
# A bare user for every user id not stored yet: a track call may come before the identify.
_NEW_USERS = (
    "INSERT INTO users (workspace_id, id, attributes, consents, personalisation, created_at) "
)
_NO_CONFLICT = " ON CONFLICT (workspace_id, id) DO NOTHING"


class WorkspaceStore:
    def __init__(self, db: Database, workspace_id: str) -> None:
        self.db = db
        self.workspace_id = workspace_id

    # -- helpers -------------------------------------------------------------------------
    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT (both dialects spell it alike)."""
        module = postgresql if self.db.dialect == "postgresql" else sqlite
        return module.insert(table)

    @property
    def _mark(self) -> str:
        """The driver's parameter mark: sqlite3 takes ``?``, psycopg ``%s``."""
        return "%s" if self.db.dialect == "postgresql" else "?"

    def _bump(self, conn: Connection) -> int:
        """Move the workspace's data version on, in the writer's transaction; the new one."""
        version = conn.exec_driver_sql(
            "UPDATE workspaces SET data_version = data_version + 1 "
            f"WHERE id = {self._mark} RETURNING data_version",
            (self.workspace_id,),
        ).scalar_one()
        return int(version)

    def ensure(self, name: str = "") -> None:
        """Create the workspace row if it is missing."""
        with self.db.write() as conn:
            stmt = self._insert(t.workspaces).values(
                id=self.workspace_id,
                name=name or self.workspace_id,
                created_at=time.time(),
                data_version=0,
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))

    def data_version(self) -> int:
        with self.db.read() as conn:
            value = conn.execute(
                select(t.workspaces.c.data_version).where(t.workspaces.c.id == self.workspace_id)
            ).scalar()
        return int(value or 0)

    # -- catalogue and users -------------------------------------------------------------
    def upsert_items(self, records: Sequence[ItemIn]) -> tuple[int, int | None]:
        """Create or replace items; how many were stored and the write's data version."""
        rows = {r.id: r for r in records}  # the last version of a repeated id wins
        now = time.time()
        values = [
            {
                "workspace_id": self.workspace_id,
                "id": r.id,
                "title": r.title,
                "text": r.text,
                "categories": r.categories,
                "attributes": r.attributes,
                "available": r.available,
                "created_at": r.created_at if r.created_at is not None else now,
                "sensitive": r.sensitive,
                "_dated": r.created_at is not None,
            }
            for r in rows.values()
        ]
        columns = ("title", "text", "categories", "attributes", "available", "sensitive")
        return len(values), self._upsert(t.items, values, columns)

    def upsert_users(self, records: Sequence[UserIn]) -> tuple[int, int | None]:
        """Create or replace users; a deleted (suppressed) user is not created again. Returns
        how many were stored and the data version the write produced (None: nothing
        written), so the serving state can take the users in."""
        rows = {r.id: r for r in records}
        with self.db.read() as conn:
            for user_id in self._suppressed_among(conn, set(rows)):
                del rows[user_id]
        now = time.time()
        values = [
            {
                "workspace_id": self.workspace_id,
                "id": r.id,
                "attributes": r.attributes,
                "consents": r.consents,
                "personalisation": r.personalisation,
                "created_at": r.created_at if r.created_at is not None else now,
                "_dated": r.created_at is not None,
            }
            for r in rows.values()
        ]
        columns = ("attributes", "consents", "personalisation")
        return len(values), self._upsert(t.users, values, columns)

    def _upsert(
        self, table: Any, values: list[dict[str, Any]], columns: tuple[str, ...]
    ) -> int | None:
        """Insert or replace rows; the new data version (None: nothing to write). A row that
        gives no created_at keeps the stored one, so loading the same file again changes
        nothing."""
        if not values:
            return None
        with self.db.write() as conn:
            for dated in (True, False):
                group = [
                    {k: v for k, v in row.items() if k != "_dated"}
                    for row in values
                    if row["_dated"] is dated
                ]
                if not group:
                    continue
                stmt = self._insert(table)
                updates = (*columns, "created_at") if dated else columns
                stmt = stmt.on_conflict_do_update(
                    index_elements=["workspace_id", "id"],
                    set_={c: stmt.excluded[c] for c in updates},
                )
                conn.execute(stmt, group)
            return self._bump(conn)

    def insert_events(self, records: Sequence[EventIn]) -> EventInsert:
        """Store new events; an event whose message id is already stored is a duplicate and
        changes nothing, and events of a deleted (suppressed) user are dropped. Committed
        before it returns. For batches up to ``REALTIME_ROWS`` the result names the rows that
        were stored, so the serving state can take them in without a rebuild."""
        now = time.time()
        unique: dict[str, tuple[Any, ...]] = {}
        for r in records:
            mid = r.resolved_message_id()
            if mid not in unique:
                unique[mid] = (
                    self.workspace_id,
                    mid,
                    r.user_id,
                    r.item_id,
                    r.type,
                    r.value,
                    r.timestamp if r.timestamp is not None else now,
                    dumps_json(r.context),
                    dumps_json(r.properties),
                    now,
                )
        rows = list(unique.values())
        if len(rows) <= REALTIME_ROWS:
            return self._insert_few(rows, len(records))
        inserted = suppressed = 0
        version: int | None = None
        with self.db.write() as conn:
            blocked = self._suppressed_among(conn, {row[2] for row in rows})
            if blocked:
                kept = [row for row in rows if row[2] not in blocked]
                suppressed, rows = len(rows) - len(kept), kept
            for chunk in _chunks(rows, EVENT_CHUNK):
                inserted += self._insert_event_rows(conn, chunk)
            if inserted:
                version = self._bump(conn)
        return EventInsert(
            inserted, len(records) - inserted - suppressed, suppressed, version, None
        )

    def _insert_few(self, rows: list[tuple[Any, ...]], received: int) -> EventInsert:
        """The real-time path (one event, a small batch): the statements go to the driver as
        they are, and INSERT ... RETURNING names the rows stored, so even a racing writer
        leaves no doubt about which are ours."""
        if not rows:
            return EventInsert(0, received, 0, None, [])
        if self.db.dialect == "postgresql" and len(rows) <= STATEMENT_ROWS:
            with self.db.write_statement() as conn:
                stored, blocked, version = few_events_postgres(conn, rows)
        elif self.db.dialect == "postgresql":
            stored, version = set(), None
            with self.db.write() as conn:
                blocked = self._suppressed_among(conn, {row[2] for row in rows})
                kept = [row for row in rows if row[2] not in blocked]
                if kept and self._insert_event_rows(conn, kept, stored):
                    version = self._bump(conn)
        else:
            with self.db.write() as conn:
                stored, blocked, version = self._few_events_sqlite(conn, rows)
        suppressed = sum(1 for row in rows if row[2] in blocked)
        kept = [row for row in rows if row[1] in stored]
        return EventInsert(
            len(kept),
            received - len(kept) - suppressed,
            suppressed,
            version,
            [_event_tuple(row) for row in kept],
        )

    def _few_events_sqlite(
        self, conn: Connection, rows: list[tuple[Any, ...]]
    ) -> tuple[set[str], set[str], int | None]:
        """(message ids stored, suppressed user ids, new data version or None)."""
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        users = sorted({row[2] for row in rows})
        cursor.execute(
            "SELECT user_id FROM suppressed_users WHERE workspace_id = ? AND user_id IN "
            f"({', '.join('?' for _ in users)})",
            (self.workspace_id, *users),
        )
        blocked = {row[0] for row in cursor.fetchall()}
        if blocked:
            rows = [row for row in rows if row[2] not in blocked]
        if not rows:
            return set(), blocked, None
        marks = "(" + ", ".join("?" for _ in _EVENT_COLUMNS) + ")"
        cursor.execute(
            f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) "
            f"VALUES {', '.join(marks for _ in rows)} "
            "ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING message_id",
            [value for row in rows for value in row],
        )
        stored = {row[0] for row in cursor.fetchall()}
        cursor.executemany(
            _NEW_USERS + "VALUES (?, ?, '{}', '{}', 1, ?)" + _NO_CONFLICT,
            list({(row[0], row[2], row[9]) for row in rows}),
        )
        if not stored:
            return stored, blocked, None
        cursor.execute(
            "UPDATE workspaces SET data_version = data_version + 1 WHERE id = ? "
            "RETURNING data_version",
            (self.workspace_id,),
        )
        version = int(cursor.fetchone()[0])
        cursor.close()
        return stored, blocked, version

    def _suppressed_among(self, conn: Connection, user_ids: set[str]) -> set[str]:
        c = t.suppressed_users.c
        ws = self.workspace_id
        if (
            not user_ids
            or not conn.execute(select(c.user_id).where(c.workspace_id == ws).limit(1)).first()
        ):
            return set()
        out: set[str] = set()
        ids = sorted(user_ids)
        for part in _chunks(ids, 500):
            query = select(c.user_id).where(c.workspace_id == ws, c.user_id.in_(part))
            out.update(row[0] for row in conn.execute(query))
        return out

    def _insert_event_rows(
        self, conn: Connection, rows: list[tuple[Any, ...]], stored: set[str] | None = None
    ) -> int:
        """Insert events, and a bare user for every user id not stored yet (a track call may
        come before the identify), in the caller's transaction.

        Bulk import is the hot path: rows go to the driver as plain tuples (SQLAlchemy's
        per-row parameter processing cost more than the inserts), with COPY on PostgreSQL,
        where ``stored``, when given, receives the message ids stored."""
        columns = ", ".join(_EVENT_COLUMNS)
        new_users, conflict = _NEW_USERS, _NO_CONFLICT
        if self.db.dialect == "postgresql":
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS events_incoming "
                "(LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY events_incoming ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO events ({columns}) SELECT {columns} FROM events_incoming "
                "ON CONFLICT (workspace_id, message_id) DO NOTHING"
                + (" RETURNING message_id" if stored is not None else "")
            )
            inserted = int(cursor.rowcount)
            if stored is not None:
                stored.update(row[0] for row in cursor.fetchall())
            cursor.execute(
                new_users + "SELECT workspace_id, user_id, '{}'::json, '{}'::json, true, "
                "min(received_at) FROM events_incoming GROUP BY workspace_id, user_id" + conflict
            )
            cursor.execute("DELETE FROM events_incoming")
            return inserted
        marks = ", ".join("?" for _ in _EVENT_COLUMNS)
        result = conn.exec_driver_sql(
            f"INSERT INTO events ({columns}) VALUES ({marks}) "
            "ON CONFLICT (workspace_id, message_id) DO NOTHING",
            rows,
        )
        users = {(row[0], row[2], row[9]) for row in rows}
        conn.exec_driver_sql(new_users + "VALUES (?, ?, '{}', '{}', 1, ?)" + conflict, list(users))
        return int(result.rowcount)

    def _get(self, table: Any, record_id: str) -> dict[str, Any] | None:
        query = select(table).where(
            table.c.workspace_id == self.workspace_id, table.c.id == record_id
        )
        with self.db.read() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def _iter(self, table: Any) -> Iterator[dict[str, Any]]:
        query = select(table).where(table.c.workspace_id == self.workspace_id).order_by(table.c.id)
        with self.db.read() as conn:
            for row in conn.execution_options(yield_per=EVENT_CHUNK).execute(query).mappings():
                yield dict(row)

    def get_item(self, item_id: str) -> dict[str, Any] | None:
        return self._get(t.items, item_id)

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        return self._get(t.users, user_id)

    def users_of(self, user_ids: Collection[str]) -> list[dict[str, Any]]:
        """The stored records of these users (those that exist), as ``iter_users`` gives."""
        return self._rows_of(t.users, user_ids)

    def items_of(self, item_ids: Collection[str]) -> list[dict[str, Any]]:
        """The stored records of these items (those that exist), as ``iter_items`` gives."""
        return self._rows_of(t.items, item_ids)

    def _rows_of(self, table: Any, ids: Collection[str]) -> list[dict[str, Any]]:
        c = table.c
        query = select(table).where(c.workspace_id == self.workspace_id, c.id.in_(list(ids)))
        with self.db.read() as conn:
            return [dict(row) for row in conn.execute(query.order_by(c.id)).mappings()]

    def iter_items(self) -> Iterator[dict[str, Any]]:
        return self._iter(t.items)

    def iter_users(self) -> Iterator[dict[str, Any]]:
        return self._iter(t.users)

    def iter_event_tuples(self) -> Iterator[Sequence[tuple[Any, ...]]]:
        """(user_id, item_id, type, value, ts) in chunks, oldest first. Chunks of
        EVENT_CHUNK: a build beside the serving state gives way to requests between chunks,
        and a bigger one held them for its whole fetch (50,000 rows: 120 ms)."""
        c = t.events.c
        with self.db.read() as conn:
            result = conn.execution_options(yield_per=EVENT_CHUNK).execute(
                select(c.user_id, c.item_id, c.type, c.value, c.ts)
                .where(c.workspace_id == self.workspace_id)
                .order_by(c.ts)
            )
            for part in result.partitions():
                yield [tuple(row) for row in part]

    def stats(self) -> dict[str, Any]:
        ws = self.workspace_id
        with self.db.read() as conn:

            def count(table: Any) -> int:
                return int(
                    conn.execute(
                        select(func.count()).select_from(table).where(table.c.workspace_id == ws)
                    ).scalar_one()
                )

            by_type = conn.execute(
                select(t.events.c.type, func.count())
                .where(t.events.c.workspace_id == ws)
                .group_by(t.events.c.type)
                .order_by(t.events.c.type)
            ).all()
            span = conn.execute(
                select(func.min(t.events.c.ts), func.max(t.events.c.ts)).where(
                    t.events.c.workspace_id == ws
                )
            ).one()
            return {
                "items": count(t.items),
                "users": count(t.users),
                "events": count(t.events),
                "events_by_type": {kind: int(n) for kind, n in by_type},
                "segments": count(t.segments),
                "first_event_at": span[0],
                "last_event_at": span[1],
            }

    # -- segments and surfaces -----------------------------------------------------------
    def list_segments(self) -> list[tuple[SegmentSpec, int]]:
        """(spec, version) for every segment, in priority order."""
        c = t.segments.c
        with self.db.read() as conn:
            rows = conn.execute(
                select(c.definition, c.version)
                .where(c.workspace_id == self.workspace_id)
                .order_by(c.priority, c.id)
            ).all()
        return [(SegmentSpec.model_validate(row[0]), int(row[1])) for row in rows]

    def save_segments(self, specs: Sequence[SegmentSpec], actor: str = "") -> list[str]:
        """Create or update segments; a changed definition gets a new version in the history.
        Returns the ids that changed."""
        return self.save_config(specs, {}, actor)

    def save_config(
        self, specs: Sequence[SegmentSpec], surfaces: dict[str, SurfaceSpec], actor: str = ""
    ) -> list[str]:
        """Segments and surfaces in one transaction: all of it is stored, or none."""
        changed: list[str] = []
        now = time.time()
        c = t.segments.c
        with self.db.write() as conn:
            current = {
                row[0]: (row[1], int(row[2]))
                for row in conn.execute(
                    select(c.id, c.definition, c.version).where(c.workspace_id == self.workspace_id)
                ).all()
            }
            for spec in specs:
                definition = spec.model_dump()
                old = current.get(spec.id)
                # Compared as specs, so a definition stored before a field existed equals
                # the same definition with that field at its default.
                if old is not None and SegmentSpec.model_validate(old[0]) == spec:
                    continue
                version = old[1] + 1 if old else 1
                stmt = self._insert(t.segments).values(
                    workspace_id=self.workspace_id,
                    id=spec.id,
                    priority=spec.priority,
                    status=spec.status,
                    version=version,
                    definition=definition,
                    updated_at=now,
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["workspace_id", "id"],
                        set_={
                            k: stmt.excluded[k]
                            for k in ("priority", "status", "version", "definition", "updated_at")
                        },
                    )
                )
                conn.execute(
                    self._insert(t.segment_versions).values(
                        workspace_id=self.workspace_id,
                        segment_id=spec.id,
                        version=version,
                        definition=definition,
                        created_at=now,
                        actor=actor,
                    )
                )
                changed.append(spec.id)
            for surface_id, surface in surfaces.items():
                stmt = self._insert(t.surfaces).values(
                    workspace_id=self.workspace_id,
                    id=surface_id,
                    definition=surface.model_dump(),
                    updated_at=now,
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["workspace_id", "id"],
                        set_={"definition": stmt.excluded.definition, "updated_at": now},
                    )
                )
            if changed or surfaces:
                self._bump(conn)
        return changed

    def segment_history(self, segment_id: str) -> list[dict[str, Any]]:
        c = t.segment_versions.c
        with self.db.read() as conn:
            rows = (
                conn.execute(
                    select(c.version, c.definition, c.created_at, c.actor)
                    .where(c.workspace_id == self.workspace_id, c.segment_id == segment_id)
                    .order_by(c.version)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    def record_qualification(
        self, rows: Sequence[tuple[str, int, int, bool]], at: float, every: float
    ) -> int:
        """Keep (segment, members, items, qualifies) at time ``at`` for the report's trend: a
        segment's row is written when its figures changed since the last one kept, or when
        that one is older than ``every`` seconds. Returns how many were written."""
        c = t.qualification_history.c
        written = 0
        with self.db.write() as conn:
            for segment_id, members, items, qualifies in rows:
                last = conn.execute(
                    select(c.at, c.members, c["items"])  # c.items is the collection's method
                    .where(c.workspace_id == self.workspace_id, c.segment_id == segment_id)
                    .order_by(c.at.desc())
                    .limit(1)
                ).first()
                if last is not None and last[0] >= at:
                    continue  # a pinned clock in the past: history only moves forward
                unchanged = last is not None and (last[1], last[2]) == (members, items)
                if unchanged and last is not None and at - last[0] < every:
                    continue
                conn.execute(
                    self._insert(t.qualification_history).values(
                        workspace_id=self.workspace_id,
                        segment_id=segment_id,
                        at=at,
                        members=members,
                        items=items,
                        qualifies=qualifies,
                    )
                )
                written += 1
        return written

    def qualification_at(self, at: float) -> dict[str, tuple[float, int, int]]:
        """Per segment, the last figures kept at or before ``at``: (when, members, items)."""
        c = t.qualification_history.c
        latest = (
            select(c.segment_id, func.max(c.at).label("at"))
            .where(c.workspace_id == self.workspace_id, c.at <= at)
            .group_by(c.segment_id)
            .subquery()
        )
        query = (
            select(c.segment_id, c.at, c.members, c["items"])
            .join(
                latest,
                (c.segment_id == latest.c.segment_id) & (c.at == latest.c.at),
            )
            .where(c.workspace_id == self.workspace_id)
        )
        with self.db.read() as conn:
            return {row[0]: (row[1], row[2], row[3]) for row in conn.execute(query).all()}

    def list_surfaces(self) -> dict[str, SurfaceSpec]:
        c = t.surfaces.c
        with self.db.read() as conn:
            rows = conn.execute(
                select(c.id, c.definition).where(c.workspace_id == self.workspace_id)
            ).all()
        return {row[0]: SurfaceSpec.model_validate(row[1]) for row in rows}

    def save_surfaces(self, surfaces: dict[str, SurfaceSpec]) -> None:
        self.save_config([], surfaces)


@dataclass(frozen=True)
class EventInsert:
    inserted: int
    duplicates: int
    suppressed: int  # events of deleted users, dropped
    version: int | None  # the data version this write produced; None: nothing written
    # (user_id, item_id, type, value, ts) of the events stored, when the batch was small.
    rows: list[tuple[Any, ...]] | None


def _event_tuple(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (row[2], row[3], row[4], row[5], row[6])


def _chunks(rows: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
