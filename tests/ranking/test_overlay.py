"""Events taken into a built state one user at a time give exactly what a rebuild from
storage gives: memberships, aggregate values, interests, the items not to offer again and
popularity, overall and per segment."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launchpoint.domain import EventIn, ItemIn, SegmentSpec, UserIn
from launchpoint.engine import Launchpoint
from launchpoint.ranking.state import WorkspaceState
from tests.engine_helpers import assert_same_items, scratch_launchpoint, state_from_storage

NOW = 1_700_000_000.0
DAY = 86400.0
RULES = [
    "count(event = 'click', within = '7d') >= 2",
    "sum(value, event = 'purchase', within = '30d') > 10",
    "affinity('b') > 0.5",
    "last_seen(event = 'save') > now() - 3d or tier = 'gold'",
    "distinct(within = '14d') >= 3 and segment('s0')",
    "count(event = 'thumbs_down' and shelf = 'b') >= 1 or not segment('s2')",
]
TYPES = ["view", "click", "save", "purchase", "dismiss", "thumbs_down", "rate"]

event_strategy = st.tuples(
    st.integers(0, 5),  # user
    st.integers(0, 8),  # item
    st.sampled_from(TYPES),
    st.one_of(st.none(), st.floats(0.5, 20)),
    st.floats(0, 40),  # days ago
)


def _event(e: tuple[int, int, str, float | None, float]) -> EventIn:
    user, item, kind, value, days = e
    return EventIn(
        message_id=uuid.uuid4().hex,
        user_id=f"u{user}",
        item_id=f"i{item}",
        type=kind,
        value=value,
        timestamp=NOW - days * DAY,
    )


def _fresh(lp: Launchpoint, ws_id: str) -> WorkspaceState:
    return state_from_storage(lp.workspace(ws_id), NOW)


def _same(a: WorkspaceState, b: WorkspaceState) -> None:
    assert [s.spec.id for s in a.segments] == [s.spec.id for s in b.segments]
    for x, y in zip(a.segments, b.segments, strict=True):
        assert x.members.tolist() == y.members.tolist(), x.spec.id
        assert x.qualification.members == y.qualification.members
    for key, values in b.aggregates.items():
        np.testing.assert_allclose(a.aggregates[key], values, rtol=1e-9, err_msg=key)
    for user in range(len(a.user_ids)):
        np.testing.assert_allclose(a.category_affinity(user), b.category_affinity(user))
        assert a.consumed_items(user).tolist() == b.consumed_items(user).tolist()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    before=st.lists(event_strategy, max_size=25),
    after=st.lists(st.lists(event_strategy, min_size=1, max_size=4), min_size=1, max_size=6),
)
def test_taking_events_in_equals_rebuilding(before: list[Any], after: list[list[Any]]) -> None:
    with scratch_launchpoint(NOW) as lp:
        ws = lp.workspace("w")
        ws.add_items(
            [
                ItemIn(id=f"i{n}", categories=["abc"[n % 3]], attributes={"shelf": "abc"[n % 3]})
                for n in range(9)
            ]
        )
        ws.add_users(
            [
                UserIn(id=f"u{n}", attributes={"tier": "gold" if n == 0 else "basic"})
                for n in range(6)
            ]
        )
        specs = [
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
        ws.store.save_segments(specs)
        ws.add_events([_event(e) for e in before])
        built = ws.state()
        for batch in after:
            ws.add_events([_event(e) for e in batch])
        taken = ws.state()
        assert taken is built  # taken in, not rebuilt
        fresh = _fresh(lp, "w")
        _same(taken, fresh)
        assert_same_items(taken, fresh, engaged=False)
