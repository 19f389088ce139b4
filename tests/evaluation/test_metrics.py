from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from launchpoint.evaluation.metrics import (
    coverage,
    hit_rate_at,
    intra_list_diversity,
    long_tail_share,
    map_at,
    ndcg_at,
    novelty,
    popularity_bias,
    popularity_percentiles,
    precision_at,
    recall_at,
    top_k,
)

RECS = np.array([[1, 2, 3], [4, 5, -1], [1, 2, 3]])
# user 0 wants items 2 and 7, user 1 item 9, user 2 nothing
RELEVANT = sparse.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 1], [2, 7, 9])), shape=(3, 10))


def test_accuracy_by_hand() -> None:
    log3 = np.log2(3)
    np.testing.assert_allclose(precision_at(RECS, RELEVANT, 3), [1 / 3, 0.0, np.nan])
    np.testing.assert_allclose(recall_at(RECS, RELEVANT, 3), [0.5, 0.0, np.nan])
    np.testing.assert_allclose(ndcg_at(RECS, RELEVANT, 3), [(1 / log3) / (1 + 1 / log3), 0, np.nan])
    np.testing.assert_allclose(map_at(RECS, RELEVANT, 3), [0.5 / 2, 0.0, np.nan])
    np.testing.assert_allclose(hit_rate_at(RECS, RELEVANT, 3), [1.0, 0.0, np.nan])
    np.testing.assert_allclose(precision_at(RECS, RELEVANT, 1), [0.0, 0.0, np.nan])


def test_a_perfect_list_scores_one() -> None:
    relevant = sparse.csr_matrix(([1.0, 1.0], ([0, 0], [4, 8])), shape=(1, 10))
    recs = np.array([[8, 4, 0]])
    assert ndcg_at(recs, relevant, 3)[0] == pytest.approx(1.0)
    assert map_at(recs, relevant, 3)[0] == pytest.approx(1.0)
    assert recall_at(recs, relevant, 2)[0] == pytest.approx(1.0)


def test_beyond_accuracy_by_hand() -> None:
    assert coverage(RECS, 10) == 0.5
    cats = sparse.csr_matrix(
        np.array(
            [[0, 0], [1, 0], [1, 0], [0, 1], [1, 0], [1, 1], [0, 0], [0, 0], [0, 0], [0, 0]], float
        )
    )
    np.testing.assert_allclose(intra_list_diversity(RECS, cats), [2 / 3, 1 - 1 / np.sqrt(2), 2 / 3])
    popularity = np.array([0, 3, 1, 0, 7, 0, 0, 0, 0, 0], float)
    info = -np.log2((popularity + 1) / 11)
    np.testing.assert_allclose(novelty(RECS, popularity, 10)[1], (info[4] + info[5]) / 2)
    pct = popularity_percentiles(popularity)
    assert pct[4] == 1.0 and pct[0] == pct[3]  # the most popular; ties share a rank
    np.testing.assert_allclose(popularity_bias(RECS, popularity)[1], (pct[4] + pct[5]) / 2)
    # head = top 20% = items 4 and 1; of 8 slots, 1 and 4 appear 3 times
    assert long_tail_share(RECS, popularity) == pytest.approx(5 / 8)


def test_top_k_orders_best_first_and_pads_with_minus_one() -> None:
    scores = np.array([[0.1, 0.9, 0.5, -np.inf], [-np.inf, -np.inf, 2.0, -np.inf]])
    np.testing.assert_array_equal(top_k(scores, 3), [[1, 2, 0], [2, -1, -1]])
    np.testing.assert_array_equal(top_k(scores, 6)[0], [1, 2, 0, -1, -1, -1])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 8))
def test_metrics_stay_in_range_and_ndcg_rewards_order(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    relevant = sparse.csr_matrix((rng.random((6, 20)) < 0.2).astype(float))
    recs = np.stack([rng.permutation(20)[:k] for _ in range(6)])
    for metric in (precision_at, recall_at, ndcg_at, map_at, hit_rate_at):
        values = metric(recs, relevant, k)
        finite = values[np.isfinite(values)]
        assert ((finite >= 0) & (finite <= 1 + 1e-12)).all()
    # Putting every relevant item first never lowers NDCG.
    best = np.stack(
        [
            np.r_[
                np.flatnonzero(relevant[u].toarray()),
                np.setdiff1d(np.arange(20), relevant[u].indices),
            ][:k]
            for u in range(6)
        ]
    )
    assert (
        np.nan_to_num(ndcg_at(best, relevant, k))
        >= np.nan_to_num(ndcg_at(recs, relevant, k)) - 1e-12
    ).all()
