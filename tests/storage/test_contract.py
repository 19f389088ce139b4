"""The storage contract, run against every backend (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from launchpoint.domain import EventIn, ItemIn, SegmentSpec, SurfaceSpec, UserIn
from launchpoint.engine import Launchpoint
from launchpoint.storage import Database, WorkspaceStore, head_revision
from launchpoint.storage.store import EventInsert
from launchpoint.storage.tables import metadata


def test_migrations_build_exactly_the_declared_schema(launchpoint: Launchpoint) -> None:
    db = launchpoint.db
    assert db.schema_revision() == head_revision()
    with db.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrate_twice_is_a_no_op(launchpoint: Launchpoint) -> None:
    launchpoint.db.migrate()
    assert launchpoint.db.schema_revision() == head_revision()


def _store(lp: Launchpoint) -> WorkspaceStore:
    store = WorkspaceStore(lp.db, f"w{uuid.uuid4().hex[:10]}")
    store.ensure()
    return store


def test_items_upsert_replaces_and_repeats_change_nothing(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    store.upsert_items([ItemIn(id="a", title="one", categories=["x"], created_at=10)])
    store.upsert_items([ItemIn(id="a", title="two", categories=["y"], created_at=10)])
    store.upsert_items([ItemIn(id="a", title="two", categories=["y"], created_at=10)])
    item = store.get_item("a")
    assert item is not None
    assert (item["title"], item["categories"]) == ("two", ["y"])
    assert store.stats()["items"] == 1


def test_events_are_idempotent_by_message_id(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    first = [EventIn(message_id=f"m{n}", user_id="u", type="view", timestamp=n) for n in range(10)]
    assert _counts(store.insert_events(first)) == (10, 0)
    assert _counts(store.insert_events([*first[:5], first[0]])) == (0, 6)
    assert _counts(store.insert_events([EventIn(user_id="u", type="view", timestamp=1)] * 2)) == (
        1,
        1,
    )
    assert store.stats()["events"] == 11


def test_workspaces_are_isolated_and_ids_repeat_across_them(launchpoint: Launchpoint) -> None:
    a, b = _store(launchpoint), _store(launchpoint)
    a.upsert_users([UserIn(id="same", attributes={"side": "a"})])
    b.upsert_users([UserIn(id="same", attributes={"side": "b"})])
    a.insert_events([EventIn(message_id="m", user_id="same", type="view")])
    assert _counts(b.insert_events([EventIn(message_id="m", user_id="same", type="view")])) == (
        1,
        0,
    )
    assert a.get_user("same")["attributes"] == {"side": "a"}  # type: ignore[index]
    assert b.get_user("same")["attributes"] == {"side": "b"}  # type: ignore[index]
    b.save_segments([SegmentSpec(id="s")])
    assert a.list_segments() == [] and len(b.list_segments()) == 1


def test_segment_versions_grow_only_on_change(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    assert store.save_segments([SegmentSpec(id="s", users="true")], actor="me") == ["s"]
    assert store.save_segments([SegmentSpec(id="s", users="true")]) == []
    assert store.save_segments([SegmentSpec(id="s", users="false")]) == ["s"]
    history = store.segment_history("s")
    assert [h["version"] for h in history] == [1, 2]
    assert history[0]["actor"] == "me" and history[1]["definition"]["users"] == "false"
    assert store.list_segments()[0][1] == 2


def test_segments_are_listed_in_priority_order(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    store.save_segments(
        [
            SegmentSpec(id="b", priority=2),
            SegmentSpec(id="a", priority=3),
            SegmentSpec(id="c", priority=1),
        ]
    )
    assert [s.id for s, _ in store.list_segments()] == ["c", "b", "a"]


def test_surfaces_round_trip(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    store.save_surfaces({"home": SurfaceSpec(layers=3, fallback="popular")})
    assert store.list_surfaces()["home"].layers == 3


def test_every_write_moves_the_data_version(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    versions = [store.data_version()]
    store.upsert_items([ItemIn(id="i")])
    versions.append(store.data_version())
    store.upsert_users([UserIn(id="u")])
    versions.append(store.data_version())
    store.insert_events([EventIn(message_id="e", user_id="u", type="view")])
    versions.append(store.data_version())
    store.insert_events([EventIn(message_id="e", user_id="u", type="view")])  # duplicate
    versions.append(store.data_version())
    assert versions == sorted(versions) and len(set(versions)) == 4


def test_event_tuples_stream_oldest_first(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    store.insert_events(
        [
            EventIn(user_id="u", item_id="i", type="rate", value=v, timestamp=t)
            for t, v in ((30, 1.0), (10, 5.0), (20, None))
        ]
    )
    rows = [row for chunk in store.iter_event_tuples() for row in chunk]
    assert [r[4] for r in rows] == [10, 20, 30]
    assert rows[0] == ("u", "i", "rate", 5.0, 10)


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'nested' / 'x.db'}")
    db.migrate()
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_reloading_without_created_at_keeps_the_stored_one(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    store.upsert_items([ItemIn(id="a", title="one")])
    store.upsert_users([UserIn(id="u")])
    item, user = store.get_item("a"), store.get_user("u")
    store.upsert_items([ItemIn(id="a", title="two")])
    store.upsert_users([UserIn(id="u", attributes={"k": 1})])
    assert store.get_item("a")["created_at"] == item["created_at"]  # type: ignore[index]
    assert store.get_user("u")["created_at"] == user["created_at"]  # type: ignore[index]
    assert store.get_item("a")["title"] == "two"  # type: ignore[index]
    store.upsert_items([ItemIn(id="a", created_at=123)])
    assert store.get_item("a")["created_at"] == 123  # type: ignore[index]


def test_config_is_saved_in_one_transaction(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    before = store.data_version()
    assert store.save_config([SegmentSpec(id="s")], {"home": SurfaceSpec(layers=4)}) == ["s"]
    assert store.data_version() == before + 1
    assert store.list_surfaces()["home"].layers == 4


def _counts(result: EventInsert) -> tuple[int, int]:
    return result.inserted, result.duplicates
