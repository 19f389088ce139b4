"""Items created or changed after the build, taken into a new serving state, give exactly what
a rebuild from storage gives: the catalogue, every segment's items, and the users whose views
read the changed items; and the writes a new state cannot take in are rebuilt from."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from launchpoint.domain import EventIn, ItemIn, SegmentSpec, UserIn
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.ranking.guardrails.catalogue import Catalogue
from launchpoint.ranking.item_changes import take_items
from launchpoint.ranking.state import WorkspaceState, build_state
from launchpoint.settings import Settings
from tests.engine_helpers import (
    assert_same_catalogue,
    assert_same_items,
    assert_same_users,
    scratch_launchpoint,
    state_from_storage,
)

NOW = 1_700_000_000.0
DAY = 86400.0
SEGMENTS = [  # (user rule, item rule, where items come from)
    ("count(event = 'purchase' and price > 10) >= 1", "price < 10", "rule"),
    ("affinity('a') > 0.3", "categories contains 'b'", "rule"),
    ("tier = 'gold'", "id is not null", "behaviour"),
    ("id is not null", "price > 10", "both"),
    ("count(event = 'click', within = '7d') >= 1", "created_at > now() - 3d", "rule"),
    ("count(event = 'view' and item.price < 10) >= 1", "id is not null", "rule"),
    ("affinity('b') > 0.3", "id is not null", "behaviour"),  # members move with categories
]
TYPES = ["view", "click", "save", "purchase", "dismiss", "rate"]
USERS = [f"u{n}" for n in range(4)]
ITEMS = 12  # i0-i8 stored before the build; i9-i11 may come later

item_writes = st.tuples(
    st.just("item"),
    st.integers(0, ITEMS - 1),
    st.lists(st.sampled_from("abc"), min_size=1, max_size=2, unique=True),
    st.booleans(),
    st.sampled_from([5, 20]),
    st.booleans(),
)
event_writes = st.tuples(
    st.just("events"),
    st.sampled_from(USERS),
    st.lists(
        st.tuples(st.integers(0, ITEMS - 1), st.sampled_from(TYPES), st.floats(0, 20)),
        min_size=1,
        max_size=3,
    ),
)


def _item(n: int, categories: list[str], available: bool, price: int, adult: bool) -> ItemIn:
    return ItemIn(
        id=f"i{n}",
        title=f"Item {n}",
        categories=categories,
        available=available,
        attributes={"price": price},
        sensitive=["adult"] if adult else [],
        created_at=NOW - n * DAY,
    )


def _write(ws: WorkspaceEngine, write: tuple[Any, ...]) -> None:
    if write[0] == "item":
        ws.add_items([_item(*write[1:])])
        return
    ws.add_events(
        [
            EventIn(
                message_id=uuid.uuid4().hex,
                user_id=write[1],
                item_id=f"i{item}",
                type=event,
                value=4.0 if event == "rate" else None,
                timestamp=NOW - days * DAY,
            )
            for item, event, days in write[2]
        ]
    )


def _workspace(lp: Launchpoint) -> WorkspaceEngine:
    ws = lp.workspace("w")
    ws.add_items([_item(n, ["abc"[n % 3]], True, 5 if n % 2 else 20, n == 8) for n in range(9)])
    ws.add_users([UserIn(id=u, attributes={"tier": "gold" if u == "u0" else "b"}) for u in USERS])
    ws.store.save_segments(
        [
            SegmentSpec(
                id=f"s{n}",
                name=f"s{n}",
                priority=n,
                users=users,
                items=items,
                items_from=source,
                min_users=0,
                min_items=2,
            )
            for n, (users, items, source) in enumerate(SEGMENTS)
        ]
    )
    return ws


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    before=st.lists(event_writes, max_size=4),
    after=st.lists(st.one_of(item_writes, event_writes), min_size=1, max_size=8),
)
def test_taking_items_in_equals_rebuilding(
    before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]
) -> None:
    note(f"{before=} {after=}")
    with scratch_launchpoint(NOW) as lp:
        ws = _workspace(lp)
        for write in before:
            _write(ws, write)
        ws.state()
        for write in after:
            _write(ws, write)
        taken = ws.state()
        assert taken.version == ws.store.data_version()
        stored = state_from_storage(ws, NOW)
        engaged = all(write[0] == "item" for write in after)
        assert_same_items(taken, stored, engaged=engaged)
        _, tools, _ = ws._serving(None)  # the guardrails' catalogue, kept up to date
        assert_same_catalogue(tools.catalogue, Catalogue.from_state(taken))
        assert_same_users(taken, stored)


def _record(n: int, categories: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "id": f"i{n}",
        "title": "",
        "text": "",
        "categories": categories,
        "attributes": {"price": 5},
        "available": True,
        "created_at": NOW,
        "sensitive": [],
        **fields,
    }


def _state(events: list[tuple[Any, ...]] | None = None) -> WorkspaceState:
    spec = SegmentSpec(
        id="cheap", name="Cheap", users="id is not null", items="price < 10", min_users=0
    )
    users = [{"id": "u0", "attributes": {}, "consents": {}, "created_at": NOW}]
    events = events or [("u0", "i0", "click", None, NOW - DAY)]
    items = [_record(n, ["ab"[n % 2]]) for n in range(4)]
    return build_state(1, users, items, [events], [spec], now=NOW)


def test_a_new_item_makes_a_new_state_sharing_the_users_side() -> None:
    state = _state()
    norms = state.item_norms
    new = take_items(state, [_record(9, ["b"], attributes={"price": 50})], NOW)
    assert new is not None and new is not state
    assert len(state.item_ids) == 4 and "i9" not in state.item_index  # the old one is whole
    assert new.item_ids[-1] == "i9" and new.item_index["i9"] == 4
    assert new.interactions.shape == (1, 5)
    assert np.shares_memory(new.interactions.data, state.interactions.data)  # not copied
    assert new.item_norms.tolist() == [*norms.tolist(), 0.0]  # made before, carried on
    assert new.overlays is state.overlays and new.user_rows is state.user_rows
    assert not new.segments[0].eligible[4]  # price 50: not the segment's
    assert new.segments[0].qualification.items == 4


def test_an_item_made_unavailable_leaves_the_catalogue_offered() -> None:
    state = _state()
    new = take_items(state, [_record(1, ["b"], available=False)], NOW)
    assert new is not None
    assert new.available.tolist() == [True, False, True, True]
    assert state.available.all()
    assert new.segments[0].qualification.items == 3


def test_what_a_state_cannot_take_in_is_said() -> None:
    state = _state([("u0", "i9", "click", None, NOW - DAY)])  # an event before its item
    assert state.unknown_items == {"i9"}
    assert take_items(state, [_record(9, ["a"])], NOW) is None  # a rebuild reads its history
    assert take_items(state, [_record(5, ["z"])], NOW) is None  # a category never seen
    assert take_items(state, [_record(5, ["a"])], NOW) is not None


def test_a_recategorised_item_changes_its_users_interests() -> None:
    state = _state()
    assert state.category_affinity(0).tolist() == [1.0, 0.0]  # u0 clicked i0, in 'a'
    new = take_items(state, [_record(0, ["b"])], NOW)
    assert new is not None
    assert new.category_affinity(0).tolist() == [0.0, 1.0]


def test_items_written_through_the_engine_are_taken_in_without_a_rebuild(
    tmp_path: Path,
) -> None:
    lp = Launchpoint(
        Settings(database_url=f"sqlite:///{tmp_path / 'lp.db'}", data_dir=tmp_path),
        clock=lambda: NOW,
    )
    try:
        ws = _workspace(lp)
        built = ws.state()
        ws.add_items([_item(9, ["a"], True, 5, False), _item(2, ["b"], False, 5, True)])
        taken = ws.state()
        assert taken is not built and taken.built_at == built.built_at  # not rebuilt
        assert taken.version == ws.store.data_version()
        assert_same_items(taken, state_from_storage(ws, NOW))
        ws.add_items([_item(10, ["new"], True, 5, False)])  # a category the state lacks
        rebuilt = ws.state()
        assert rebuilt.built_at != built.built_at and "new" in rebuilt.categories
    finally:
        lp.close()


def test_a_field_read_as_item_dot_field_in_a_condition_recomputes_its_users() -> None:
    spec = SegmentSpec(
        id="big",
        name="Big spenders",
        users="count(event = 'purchase' and item.price > 10) >= 1",
        items="id is not null",
        min_users=0,
    )
    users = [{"id": "u0", "attributes": {}, "consents": {}, "created_at": NOW}]
    events = [("u0", "i0", "purchase", None, NOW - DAY)]
    state = build_state(1, users, [_record(0, ["a"])], [events], [spec], now=NOW)
    assert not state.segments[0].members[0]  # i0 costs 5
    new = take_items(state, [_record(0, ["a"], attributes={"price": 20})], NOW)
    assert new is not None and new.segments[0].members[0]
