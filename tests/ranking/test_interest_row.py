"""The real-time interest row, computed over the user's own items, is the batch function's
row exactly: an affinity threshold must not flip between the two paths."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from launchpoint.profiles.interests import SignalConfig, user_interest_row
from launchpoint.ranking.overlay import interest_row

NOW = 1_000_000.0


@st.composite
def cases(draw: Any) -> tuple[Any, ...]:
    n_items, n_categories = draw(st.integers(1, 12)), draw(st.integers(1, 5))
    rows, cols, vals = [], [], []
    for item in range(n_items):
        own = draw(st.sets(st.integers(0, n_categories - 1), max_size=3))
        for category in sorted(own):
            rows.append(item)
            cols.append(category)
            vals.append(1.0 / len(own))
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(n_items, n_categories))
    events = draw(
        st.lists(
            st.tuples(
                st.integers(-1, n_items - 1),
                st.sampled_from([1.0, -1.0, 0.5, 3.0, -2.5, 0.1]),
                st.floats(0, NOW),
            ),
            max_size=40,
        )
    )
    reset_at = draw(st.sampled_from([0.0, NOW / 2]))
    return matrix, events, reset_at


@settings(max_examples=300, deadline=None)
@given(cases())
def test_interest_row_is_the_batch_row(case: tuple[Any, ...]) -> None:
    matrix, events, reset_at = case
    items = np.array([e[0] for e in events], dtype=np.int32)
    weights = np.array([e[1] for e in events], dtype=np.float64)
    ts = np.array([e[2] for e in events], dtype=np.float64)
    signals = SignalConfig()
    state: Any = SimpleNamespace(
        item_categories=matrix, signals=signals, categories=list(range(matrix.shape[1]))
    )
    expected = user_interest_row(items, weights, ts, matrix, NOW, signals, reset_at)
    got = interest_row(state, items, weights, ts, NOW, reset_at)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(got, expected)  # equal, not close
