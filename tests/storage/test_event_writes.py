"""The real-time write (one event, a small batch) and the bulk write agree on what they store,
drop and report, on every backend."""

from __future__ import annotations

import uuid

import pytest

from launchpoint.domain import EventIn
from launchpoint.engine import Launchpoint
from launchpoint.storage import WorkspaceStore
from launchpoint.storage.people import PeopleStore
from launchpoint.storage.store import REALTIME_ROWS, STATEMENT_ROWS


def _store(lp: Launchpoint) -> WorkspaceStore:
    store = WorkspaceStore(lp.db, f"w{uuid.uuid4().hex[:10]}")
    store.ensure()
    return store


def _suppress(store: WorkspaceStore, user_id: str) -> None:
    PeopleStore(store.db, store.workspace_id, store).delete_user(user_id)


def test_the_bump_returns_the_new_version(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    before = store.data_version()
    with store.db.write() as conn:
        assert store._bump(conn) == before + 1
        assert store._bump(conn) == before + 2
    assert store.data_version() == before + 2


def test_one_event_is_stored_named_and_moves_the_version(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    before = store.data_version()
    event = EventIn(message_id="m", user_id="u", item_id="i", type="rate", value=4, timestamp=5)
    result = store.insert_events([event])
    assert (result.inserted, result.duplicates, result.suppressed) == (1, 0, 0)
    assert result.version == before + 1 == store.data_version()
    assert result.rows == [("u", "i", "rate", 4.0, 5.0)]
    assert store.get_user("u") is not None  # a bare user, until the identify comes


def test_a_repeated_single_event_is_a_duplicate_and_writes_nothing(
    launchpoint: Launchpoint,
) -> None:
    store = _store(launchpoint)
    event = EventIn(message_id="m", user_id="u", type="view", timestamp=1)
    store.insert_events([event])
    before = store.data_version()
    result = store.insert_events([event])
    assert (result.inserted, result.duplicates, result.suppressed) == (0, 1, 0)
    assert (result.version, result.rows) == (None, [])
    assert store.data_version() == before
    assert store.stats()["events"] == 1


def test_a_single_event_of_a_deleted_user_is_dropped(launchpoint: Launchpoint) -> None:
    store = _store(launchpoint)
    store.insert_events([EventIn(message_id="a", user_id="gone", type="view", timestamp=1)])
    _suppress(store, "gone")
    before = store.data_version()
    result = store.insert_events([EventIn(message_id="b", user_id="gone", type="view")])
    assert (result.inserted, result.duplicates, result.suppressed) == (0, 0, 1)
    assert (result.version, result.rows) == (None, [])
    assert store.data_version() == before
    assert store.get_user("gone") is None  # no bare user comes back either
    assert store.stats()["events"] == 0


@pytest.mark.parametrize("size", [3, STATEMENT_ROWS + 5, REALTIME_ROWS + 7])
def test_a_batch_mixing_new_repeated_and_suppressed_events(
    launchpoint: Launchpoint, size: int
) -> None:
    store = _store(launchpoint)
    store.insert_events([EventIn(message_id="old", user_id="u", type="view", timestamp=1)])
    _suppress(store, "gone")
    new = [
        EventIn(message_id=f"n{k}", user_id=f"u{k % 5}", type="click", timestamp=10 + k)
        for k in range(size)
    ]
    batch = [
        new[0],
        EventIn(message_id="old", user_id="u", type="view", timestamp=1),
        EventIn(message_id="x", user_id="gone", type="view"),
        *new[1:],
        new[0],  # repeated inside the batch
    ]
    before = store.data_version()
    result = store.insert_events(batch)
    assert (result.inserted, result.duplicates, result.suppressed) == (size, 2, 1)
    assert result.version == before + 1 == store.data_version()
    if size <= REALTIME_ROWS:
        assert result.rows == [(e.user_id, None, "click", None, e.timestamp) for e in new]
    else:
        assert result.rows is None  # an import: the state is rebuilt instead
    assert store.get_user(new[-1].user_id) is not None and store.get_user("gone") is None
