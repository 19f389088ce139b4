from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from launchpoint.recommenders.base import History, minmax_rows, sum_of_rows
from launchpoint.recommenders.popularity import PopularityScorer
from tests.recommenders.tastes import taste_data


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.integers(1, 9), st.integers(0, 8))
def test_sum_of_rows_is_the_weighted_sum_scipy_gives(
    seed: int, n_rows: int, width: int, picked: int
) -> None:
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n_rows, width)) < 0.4, rng.normal(size=(n_rows, width)), 0.0)
    matrix = sparse.csr_matrix(dense)
    rows = rng.integers(0, n_rows, picked)  # repeats allowed, and no rows at all
    weights = rng.normal(size=picked)
    expected = weights @ dense[rows] if picked else np.zeros(width)
    np.testing.assert_allclose(sum_of_rows(matrix, rows, weights), expected, atol=1e-12)


def test_a_history_is_a_rows_arrays_and_builds_the_same_row() -> None:
    matrix = sparse.csr_matrix(np.array([[0.0, 2.0, 0.0, 1.0], [3.0, 0.0, 0.0, 0.0]]))
    history = History.of(matrix, 0)
    assert history.items.tolist() == [1, 3] and history.weights.tolist() == [2.0, 1.0]
    assert (history.row(4) != matrix[0]).nnz == 0


def test_cold_scores_follow_a_refresh_of_popularity() -> None:
    data = taste_data()
    scorer = PopularityScorer().fit(data)
    before = scorer._cold_scores(np.arange(data.n_items))
    assert before.max() == 1.0
    scorer.popularity = scorer.popularity[::-1].copy()  # as refresh() sets a new array
    after = scorer._cold_scores(np.arange(data.n_items))
    np.testing.assert_allclose(after, before[::-1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=12), st.integers(1, 3))
def test_rows_without_infinities_rescale_as_the_general_path_does(
    values: list[float], n_rows: int
) -> None:
    rows = np.array([values] * n_rows) * np.arange(1, n_rows + 1)[:, None]
    fast = minmax_rows(rows)
    with_inf = np.hstack([rows, np.full((n_rows, 1), -np.inf)])  # forces the general path
    np.testing.assert_allclose(fast, minmax_rows(with_inf)[:, :-1], atol=1e-12)
