from __future__ import annotations

import threading
import uuid

import pytest

from launchpoint.domain import ItemIn
from launchpoint.engine import Launchpoint
from launchpoint.errors import InvalidInput
from launchpoint.storage import WorkspaceStore, normalise_url


def test_postgres_urls_use_psycopg() -> None:
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_urls_say_what_is_allowed(url: str) -> None:
    with pytest.raises(InvalidInput, match="sqlite"):
        normalise_url(url)


def test_reads_in_a_snapshot_see_one_moment_and_writes_go_on(launchpoint: Launchpoint) -> None:
    db = launchpoint.db
    store = WorkspaceStore(db, f"w{uuid.uuid4().hex[:10]}")
    store.ensure()
    store.upsert_items([ItemIn(id="i1", title="One")])

    def write() -> None:  # another request, in its own thread
        store.upsert_items([ItemIn(id="i2", title="Two")])
        seen_elsewhere.append(store.data_version())

    seen_elsewhere: list[int] = []
    with db.snapshot():
        version = store.data_version()
        thread = threading.Thread(target=write)
        thread.start()
        thread.join(10)
        assert seen_elsewhere == [version + 1]  # committed, and other threads see it
        assert store.data_version() == version  # this one still reads its snapshot
        assert [item["id"] for item in store.iter_items()] == ["i1"]
        with db.snapshot():  # nested: the same snapshot
            assert store.data_version() == version
    assert store.data_version() == version + 1
    assert sorted(item["id"] for item in store.iter_items()) == ["i1", "i2"]
