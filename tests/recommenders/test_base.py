from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from launchpoint.recommenders.base import NEGLIGIBLE, History, minmax_rows, sum_of_rows
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


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 400), st.sampled_from([None, 1.0, 3.0, 20.0]))
def test_a_significant_history_leaves_out_only_a_negligible_tail(
    seed: int, length: int, half_life: float | None
) -> None:
    """Recency-weighted (halved every ``half_life`` items) or flat, with signs mixed: what
    is left out weighs under NEGLIGIBLE of the whole, the rest keeps its order, and a row
    sum moves by no more than the bound the docstring gives."""
    rng = np.random.default_rng(seed)
    items = rng.permutation(500)[:length]
    age = np.arange(length)[::-1]
    weights = np.ones(length) if half_life is None else 0.5 ** (age / half_life)
    weights = weights * rng.choice([-1.0, 1.0], length)
    history = History(items, weights)
    kept = history.significant(longer_than=100)
    if length <= 100 or half_life is None:
        assert kept is history
        return
    position = {item: n for n, item in enumerate(items.tolist())}
    assert [position[i] for i in kept.items.tolist()] == sorted(position[i] for i in kept.items)
    left_out = np.isin(items, kept.items, invert=True)
    total = np.abs(weights).sum()
    assert np.abs(weights[left_out]).sum() < NEGLIGIBLE * total
    assert np.isin(kept.items, items).all()
    matrix = sparse.random(500, 30, density=0.2, random_state=seed % 2**32, format="csr")
    gap = sum_of_rows(matrix, kept.items, kept.weights) - sum_of_rows(matrix, items, weights)
    assert np.abs(gap).max(initial=0.0) <= NEGLIGIBLE * total * matrix.data.max(initial=0.0)
    if half_life <= 3.0 and length > 200:
        assert len(kept.items) < 150  # recency: the long tail is what goes


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
