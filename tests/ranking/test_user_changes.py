"""Users created or changed after the build, taken into the state in place, give exactly what
a rebuild from storage gives: rows, consents, switches, profile edits, interests, aggregates
and memberships, whatever the order of writes."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from launchpoint.domain import EventIn, ItemIn, SegmentSpec, UserIn
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.ranking.overlay import user_events
from launchpoint.ranking.state import WorkspaceState, build_state
from launchpoint.ranking.user_changes import take_users
from tests.engine_helpers import (
    assert_same_items,
    assert_same_users,
    scratch_launchpoint,
    state_from_storage,
)

NOW = 1_700_000_000.0
DAY = 86400.0
RULES = [
    "count(event = 'click', within = '7d') >= 1",
    "tier = 'gold'",
    "region = 'north' or affinity('b') > 0.5",
    "segment('s1') and not segment('s0')",
    "interests contains 'c'",
]
TYPES = ["view", "click", "save", "purchase", "dismiss", "rate"]
USERS = [f"u{n}" for n in range(8)]  # u0-u3 stored before the build; u4-u7 arrive after

events = st.lists(
    st.tuples(st.integers(0, 8), st.sampled_from(TYPES), st.floats(0, 20)),
    min_size=1,
    max_size=3,
)
attributes = st.fixed_dictionaries(
    {},
    optional={
        "tier": st.sampled_from(["gold", "basic"]),
        "region": st.sampled_from(["north", "south"]),
        "interests": st.lists(st.sampled_from("abc"), max_size=2, unique=True),
    },
)
writes = st.one_of(
    st.tuples(st.just("events"), st.sampled_from(USERS), events),
    st.tuples(st.just("user"), st.sampled_from(USERS), attributes, st.booleans(), st.booleans()),
    st.tuples(st.just("remove"), st.sampled_from(USERS), st.sampled_from("abc")),
    st.tuples(st.just("reset"), st.sampled_from(USERS)),
    st.tuples(
        st.just("switch"),
        st.sampled_from(USERS),
        st.one_of(st.none(), st.booleans()),
        st.lists(st.sampled_from(["inferred_interests", "location", "email"]), unique=True),
    ),
    st.tuples(st.just("consents"), st.sampled_from(USERS), st.booleans()),
    st.tuples(st.just("edit"), st.sampled_from(USERS), attributes),
)


def _write(ws: WorkspaceEngine, write: tuple[Any, ...]) -> None:
    kind, user = write[0], write[1]
    if kind == "events":
        ws.add_events(
            [
                EventIn(
                    message_id=uuid.uuid4().hex,
                    user_id=user,
                    item_id=f"i{item}",
                    type=event,
                    value=4.0 if event == "rate" else None,
                    timestamp=NOW - days * DAY,
                )
                for item, event, days in write[2]
            ]
        )
        return
    if kind == "user":
        _, _, attrs, consent, personalisation = write
        ws.add_users(
            [
                UserIn(
                    id=user,
                    attributes=attrs,
                    consents={"adult": consent},
                    personalisation=personalisation,
                )
            ]
        )
        return
    if ws.store.get_user(user) is None:  # a profile is only for stored users
        return
    control = ws.control
    if kind == "remove":
        control.remove_interest(user, write[2])
    elif kind == "reset":
        control.reset(user)
    elif kind == "switch":
        control.set_personalisation(user, write[2], write[3])
    elif kind == "consents":
        control.set_consents(user, {"adult": write[2]})
    else:
        control.edit(user, write[2])


def _workspace(lp: Launchpoint) -> WorkspaceEngine:
    ws = lp.workspace("w")
    ws.add_items(
        [
            ItemIn(
                id=f"i{n}",
                categories=["abc"[n % 3]],
                sensitive=["adult"] if n == 8 else [],
                created_at=NOW - n * DAY,
            )
            for n in range(9)
        ]
    )
    ws.add_users(
        [UserIn(id=u, attributes={"tier": "gold" if u == "u0" else "basic"}) for u in USERS[:4]]
    )
    ws.store.save_segments(
        [
            SegmentSpec(
                id=f"s{n}",
                name=f"s{n}",
                priority=n,
                users=rule,
                items="id is not null",
                min_users=0,
                min_items=0,
            )
            for n, rule in enumerate(RULES)
        ]
    )
    return ws


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=st.lists(writes, max_size=4), after=st.lists(writes, min_size=1, max_size=8))
def test_taking_users_in_equals_rebuilding(
    before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]
) -> None:
    note(f"{before=} {after=}")
    with scratch_launchpoint(NOW) as lp:
        ws = _workspace(lp)
        for write in before:
            _write(ws, write)
        built = ws.state()
        for write in after:
            _write(ws, write)
        taken = ws.state()
        assert taken is built  # taken in, not rebuilt
        assert taken.version == ws.store.data_version()
        stored = state_from_storage(ws, NOW)
        assert_same_users(taken, stored)
        assert_same_items(taken, stored, engaged=all(w[0] != "events" for w in after))


def _record(user_id: str, **attributes: Any) -> dict[str, Any]:
    return {
        "id": user_id,
        "attributes": attributes,
        "consents": {},
        "personalisation": True,
        "created_at": NOW,
    }


def _state() -> WorkspaceState:
    items = [
        {
            "id": f"i{n}",
            "title": "",
            "text": "",
            "categories": ["ab"[n % 2]],
            "available": True,
            "created_at": NOW,
            "sensitive": [],
        }
        for n in range(4)
    ]
    spec = SegmentSpec(
        id="gold", name="Gold", users="tier = 'gold'", items="id is not null", min_users=0
    )
    events = [[("u0", "i0", "click", None, NOW - DAY), ("u1", "i1", "save", None, NOW - DAY)]]
    users = [_record("u0", tier="gold"), _record("u1")]
    return build_state(1, users, items, events, [spec], now=NOW)


def test_a_new_user_is_in_the_index_only_once_all_its_rows_are_there() -> None:
    """Requests read the state from other threads while users are taken in."""
    state = _state()
    seen: list[str] = []

    class Watched(dict[str, int]):
        def __setitem__(self, user_id: str, user: int) -> None:
            per_user = [
                len(state.user_ids),
                len(state.user_rows),
                len(state.consents),
                len(state.personalised),
                len(state.edits.reset_at),
                state.interactions.shape[0],
                state.consumed.shape[0],
                state.positive.shape[0],
                state.interest.shape[0],
                *(len(values) for values in state.aggregates.values()),
                *(len(s.members) for s in state.segments),
            ]
            assert min(per_user) > user, per_user
            assert state.user_rows[user]["id"] == user_id  # filled in, not a blank row
            assert state.segments[0].members[user] == (user_id == "u2")  # evaluated
            seen.append(user_id)
            super().__setitem__(user_id, user)

    state.user_index = Watched(state.user_index)
    take_users(state, [_record("u2", tier="gold"), _record("u3")], {}, NOW)
    assert seen == ["u2", "u3"]
    assert state.segments[0].members.tolist() == [True, False, True, False]
    assert state.segments[0].qualification.members == 2


def test_what_a_state_worked_out_before_grows_with_it() -> None:
    state = _state()
    order, _ = state.events_by_user  # worked out on first use, then kept
    interest = state.category_interest
    take_users(state, [_record("u2")], {}, NOW)
    assert state.events_by_user[0] is order
    assert user_events(state, 2) == [] and len(user_events(state, 1)) == 1
    assert state.category_interest.shape == (3, 2)
    assert np.shares_memory(state.category_interest.data, interest.data)  # not copied
    assert state.scaled_interest(2).tolist() == [0.0, 0.0]
    np.testing.assert_allclose(state.scaled_interest(1), [0.0, 1.0])
    assert state.interactions.shape == (3, 4) and state.interactions[2].nnz == 0


def test_a_changed_user_s_row_switch_and_edits_are_replaced() -> None:
    state = _state()
    record = {**_record("u0", interests=["b"]), "personalisation": False}
    record["consents"] = {"adult": True}
    profile = {"removed_interests": ["a"], "opt_outs": ["inferred_interests"], "reset_at": NOW}
    take_users(state, [record], {"u0": profile}, NOW)
    assert state.user_rows[0]["interests"] == ["b"] and "tier" not in state.user_rows[0]
    assert state.consents[0] == {"adult": True} and not state.personalised[0]
    edits = state.edits
    assert edits.removed[0] == {"a"} and edits.stated[0] == {"b"} and 0 in edits.no_inferred
    assert edits.reset_at[0] == NOW
    assert not state.segments[0].members[0] and state.segments[0].qualification.members == 0
    take_users(state, [_record("u0")], {}, NOW)  # and back
    assert 0 not in state.edits.no_inferred and 0 not in state.edits.stated
    assert state.edits.reset_at[0] == -np.inf and state.personalised[0]
