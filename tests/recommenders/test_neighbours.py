from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from launchpoint.recommenders.base import Scorer
from launchpoint.recommenders.neighbours import (
    ItemKNNScorer,
    item_similarity,
    strongest_contributor,
)
from tests.recommenders.contract import ScorerContract
from tests.recommenders.tastes import taste_data


class TestItemKNNContract(ScorerContract):
    def make(self, seed: int = 1) -> Scorer[Any]:
        return ItemKNNScorer(seed=seed, n=5)


class TestItemKNNWithRecencyContract(ScorerContract):
    def make(self, seed: int = 1) -> Scorer[Any]:
        return ItemKNNScorer(seed=seed, n=5, recency=2.0)


def test_cosine_similarity_by_hand() -> None:
    liked = sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [1, 1, 0]], dtype=float))
    sim = item_similarity(liked, n=10).toarray()
    # items 0 and 1: co-liked by 2 users; |0| = sqrt(3), |1| = sqrt(2)
    assert np.isclose(sim[0, 1], 2 / np.sqrt(6))
    assert np.isclose(sim[1, 2], 0.0)
    assert np.allclose(np.diag(sim), 0.0)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_pruning_keeps_each_items_n_strongest_neighbours(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    liked = sparse.csr_matrix((rng.random((15, 9)) < 0.4).astype(float))
    full = item_similarity(liked, n=100).toarray()
    pruned = item_similarity(liked, n=n).toarray()
    for item in range(9):
        kept = np.flatnonzero(pruned[:, item])
        assert len(kept) <= n
        np.testing.assert_allclose(pruned[kept, item], full[kept, item])
        if len(kept):  # nothing dropped is stronger than what was kept
            dropped = np.setdiff1d(np.flatnonzero(full[:, item]), kept)
            assert (full[dropped, item] <= pruned[kept, item].min() + 1e-12).all()


def test_because_names_the_history_item_behind_a_score() -> None:
    data = taste_data()
    scorer = ItemKNNScorer(n=5).fit(data)
    user = 0
    seen = data.positive[user].indices
    target = np.setdiff1d(np.arange(6), seen)[:1]
    (because,) = scorer.because(user, target)
    assert because in seen
    sims = scorer.similarity.toarray()[seen, target[0]]
    assert because == seen[np.argmax(sims * data.positive[user].data)]
    assert scorer.because(data.n_users + 1, target)[0] == -1


def test_one_request_scores_as_a_batch_does_and_the_row_copy_is_not_saved() -> None:
    import pickle

    data = taste_data()
    scorer = ItemKNNScorer(n=5).fit(data)
    users = np.arange(6)
    candidates = np.arange(0, data.n_items, 2)
    batch = scorer.score_users(users, candidates)  # many rows: the column-major path
    for user in users.tolist():  # one row: the row-major copy
        np.testing.assert_allclose(scorer.score(user, candidates), batch[user], atol=1e-12)
    assert "_similarity_rows" in vars(scorer)
    assert "_similarity_rows" not in vars(pickle.loads(pickle.dumps(scorer)))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 6))
def test_strongest_contributor_matches_a_brute_force_search_ties_included(
    seed: int, n_targets: int
) -> None:
    rng = np.random.default_rng(seed)
    n = 10
    # Few distinct values, so ties are common: a tie goes to the lowest history item.
    dense = np.where(rng.random((n, n)) < 0.5, rng.integers(-1, 3, (n, n)).astype(float), 0.0)
    history = np.sort(rng.choice(n, rng.integers(0, 6), replace=False))
    weights = rng.integers(0, 3, len(history)).astype(float)
    targets = rng.integers(0, n, n_targets)
    found = strongest_contributor(history, weights, sparse.csc_matrix(dense), targets)
    for target, got in zip(targets, found, strict=True):
        contributions = weights * dense[history, target]
        if len(history) == 0 or contributions.max() <= 0:
            assert got == -1
        else:
            assert got == history[np.argmax(contributions)]
