"""The batch path (all users, numpy) and the real-time path (one user, from their events)
give the same memberships, window edges included."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.domain import SegmentSpec
from launchpoint.ranking.state import build_state
from launchpoint.segments.realtime import UserEvent, evaluate_user, user_aggregate_values

DAY = 86400.0
NOW = 1_700_000_000.0
TYPES = ["view", "click", "purchase"]

rules = st.one_of(
    st.builds(
        "count(event = '{}', within = '{}d') >= {}".format,
        st.sampled_from(TYPES), st.integers(1, 6), st.integers(0, 3),
    ),
    st.builds(
        "sum(event = 'purchase' and kind = {}) >= {}".format,
        st.integers(0, 1), st.sampled_from([0, 0.5, 1, 2.5, 4]),
    ),
    st.builds("distinct(within = '{}d') >= {}".format, st.integers(1, 6), st.integers(1, 3)),
    st.builds("last_seen() >= now() - {}d".format, st.integers(0, 6)),
    st.builds("first_seen(event = '{}') is null".format, st.sampled_from(TYPES)),
    st.builds(
        "count(value > {}) >= 1 or age < {}".format, st.sampled_from([0, 1, 2]),
        st.integers(20, 60),
    ),
)  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(
    rule=rules,
    events=st.lists(
        st.tuples(
            st.integers(0, 3),  # user
            st.integers(-1, 3),  # item (-1: none)
            st.sampled_from(TYPES),
            st.one_of(st.none(), st.sampled_from([0.5, 1.0, 2.0, 3.0])),
            st.integers(0, 7),  # days before now: whole days hit the window edges exactly
        ),
        max_size=40,
    ),
)
def test_every_user_gets_the_same_answer_both_ways(rule: str, events: list[Any]) -> None:
    users = [
        {"id": f"u{n}", "attributes": {"age": 20 + 15 * n}, "consents": {},
         "personalisation": True, "created_at": 0.0}
        for n in range(4)
    ]  # fmt: skip
    items = [
        {"id": f"i{n}", "title": "", "text": "", "categories": [], "attributes": {"kind": n % 2},
         "available": True, "created_at": 0.0, "sensitive": []}
        for n in range(4)
    ]  # fmt: skip
    stored = sorted(
        (
            (f"u{u}", f"i{i}" if i >= 0 else None, kind, value, NOW - days * DAY)
            for u, i, kind, value, days in events
        ),
        key=lambda e: e[4],
    )
    spec = SegmentSpec(id="s", users=rule, min_users=0, min_items=0)
    state = build_state(1, users, items, [stored], [spec], now=NOW)
    (segment,) = state.segments
    for n, user in enumerate(state.user_ids):
        own = [
            UserEvent(state.item_index.get(e[1], -1) if e[1] else -1, e[2], e[3], e[4])
            for e in stored
            if e[0] == user
        ]
        values = user_aggregate_values(
            segment.user_rule.aggregates, own, state.item_rows, state.item_ids, NOW
        )
        realtime = evaluate_user(segment.user_rule, state.user_rows[n], values)
        assert realtime == bool(segment.members[n]), (rule, user, own, values)
        # The same through the state's condition memo (shared by every user, as in serving).
        memoised = user_aggregate_values(
            segment.user_rule.aggregates, own, state.item_rows, state.item_ids, NOW,
            state.condition_memo,
        )  # fmt: skip
        assert memoised == values, (rule, user, own)
