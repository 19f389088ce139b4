"""The serving state's structures worked out on first use."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.ranking.state import build_state

NOW = 1_700_000_000.0


def _items(n: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"i{k}",
            "title": "",
            "text": "",
            "categories": ["a"],
            "available": True,
            "created_at": NOW,
            "sensitive": [],
        }
        for k in range(n)
    ]


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 4)), max_size=40
    ),
    oldest_first=st.booleans(),
)
def test_each_user_s_events_are_found_oldest_first(
    events: list[tuple[int, int, int]], oldest_first: bool
) -> None:
    """Events are read oldest first (a counting sort by user suffices), or not (a sort by
    user and time); either way each user's slice holds the user's events, oldest first, in
    the order they came for equal times."""
    if oldest_first:
        events = sorted(events, key=lambda e: -e[2])  # e[2]: how long ago
    users = [{"id": f"u{k}", "attributes": {}, "created_at": NOW} for k in range(6)]
    rows = [(f"u{u}", f"i{i}", "view", None, NOW - ts) for u, i, ts in events]
    state = build_state(1, users, _items(4), [rows] if rows else [], [], now=NOW)
    order, indptr = state.events_by_user
    assert len(indptr) == 7 and indptr[-1] == len(events)
    for u in range(6):
        mine = order[indptr[u] : indptr[u + 1]]
        expected = sorted(
            (n for n, e in enumerate(events) if e[0] == u), key=lambda n: -events[n][2]
        )  # stable: equal times keep their order
        assert mine.tolist() == expected
        assert np.all(np.diff(state.events.ts[mine]) >= 0)
