"""The experiments store, on every backend (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import uuid

import pytest

from launchpoint.domain.records import EventIn, ItemIn
from launchpoint.engine import Launchpoint
from launchpoint.errors import Conflict, NotFound
from launchpoint.storage import WorkspaceStore, tables
from launchpoint.storage.experiments import ExperimentStore


def _stores(lp: Launchpoint) -> tuple[WorkspaceStore, ExperimentStore]:
    workspace = f"w{uuid.uuid4().hex[:10]}"
    records = WorkspaceStore(lp.db, workspace)
    records.ensure()
    return records, ExperimentStore(lp.db, workspace)


def test_experiments_are_created_read_listed_and_saved(launchpoint: Launchpoint) -> None:
    records, store = _stores(launchpoint)
    version = records.data_version()
    store.create("b", "draft", {"spec": {"id": "b"}})
    store.create("a", "draft", {"spec": {"id": "a"}})
    assert records.data_version() > version  # serving processes notice
    with pytest.raises(Conflict, match="already exists"):
        store.create("a", "draft", {})
    store.save("a", "running", {"spec": {"id": "a"}, "note": "started"})
    got = store.get("a")
    assert (got["status"], got["definition"]["note"]) == ("running", "started")
    assert [row["id"] for row in store.all()] == ["b", "a"]  # oldest first
    assert [row["id"] for row in store.all("running")] == ["a"]
    with pytest.raises(NotFound):
        store.get("c")
    with pytest.raises(NotFound):
        store.save("c", "draft", {})
    _, other = _stores(launchpoint)
    assert other.all() == []  # workspaces are isolated


def test_holdout_is_kept_per_workspace(launchpoint: Launchpoint) -> None:
    _, store = _stores(launchpoint)
    assert store.holdout() is None
    store.save_holdout({"share": 0.1, "seed": "h"})
    store.save_holdout({"share": 0.2, "seed": "h"})
    assert store.holdout() == {"share": 0.2, "seed": "h"}


def test_reads_for_the_analysis(launchpoint: Launchpoint) -> None:
    records, store = _stores(launchpoint)
    records.upsert_items([ItemIn(id="i1", categories=["news"]), ItemIn(id="i2")])
    shown = [{"item_id": "i1", "position": 0, "ribbon": "s1"}]
    rows = [
        {
            "recommendation_id": "r1",
            "user_id": "ann",
            "surface": "home",
            "items": shown,
            "experiment_id": "exp",
            "variant": "A",
            "created_at": 100.0,
        },
        {
            "recommendation_id": "r2",
            "user_id": "bob",
            "surface": "home",
            "items": shown,
            "experiment_id": "other",
            "variant": "B",
            "created_at": 50.0,
        },
    ]
    with launchpoint.db.write() as conn:
        conn.execute(
            tables.exposures.insert(), [{"workspace_id": records.workspace_id, **r} for r in rows]
        )
    exposures = store.exposures("exp")
    assert [(e["recommendation_id"], e["items"]) for e in exposures] == [("r1", shown)]
    records.insert_events(
        [
            EventIn(
                message_id="1",
                user_id="ann",
                item_id="i1",
                type="click",
                timestamp=110,
                context={"recommendation_id": "r1"},
            ),
            EventIn(message_id="2", user_id="ann", type="opt_out", timestamp=500),
            EventIn(message_id="3", user_id="ann", type="click", timestamp=10),
            EventIn(message_id="4", user_id="bob", type="click", timestamp=110),
        ]
    )
    events = store.exposed_events("exp", since=100.0, until=200.0)
    assert [(e["user_id"], e["ts"], e["context"]) for e in events] == [
        ("ann", 110.0, {"recommendation_id": "r1"})
    ]
    assert len(store.exposed_events("exp")) == 3
    assert store.item_categories(["i1", "i2", "nope"]) == {"i1": ["news"], "i2": []}
