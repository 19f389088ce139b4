from __future__ import annotations

import numpy as np
import pytest

from launchpoint.recommenders.ann import BackgroundIndex, VectorIndex


def clustered(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    """Item vectors around 20 centres: what factor models learn (tastes), not white noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, dim))
    return centres[rng.integers(0, 20, n)] + 0.3 * rng.standard_normal((n, dim))


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray) -> set[int]:
    scores = np.where(allowed, vectors @ query, -np.inf)
    return set(np.argsort(-scores)[:k].tolist())


def test_search_finds_the_best_allowed_items() -> None:
    vectors = clustered(5_000)
    index = VectorIndex(vectors)
    rng = np.random.default_rng(1)
    recalls = []
    for _ in range(20):
        query = vectors[rng.integers(0, len(vectors))]
        allowed = rng.random(len(vectors)) < 0.4
        found = index.search(query, 50, allowed)
        assert len(found) == 50
        assert allowed[found].all()  # the filter is a promise, not a preference
        scores = vectors[found] @ query
        assert (np.diff(scores) <= 1e-5).all()  # best first
        recalls.append(len(set(found.tolist()) & exact_top(vectors, query, 50, allowed)) / 50)
    assert np.mean(recalls) >= 0.9


def test_search_never_returns_more_than_the_allowed_items() -> None:
    vectors = clustered(500)
    index = VectorIndex(vectors)
    allowed = np.zeros(500, dtype=bool)
    allowed[[3, 77, 420]] = True
    found = index.search(vectors[0], 10, allowed)
    assert set(found.tolist()) <= {3, 77, 420}
    assert index.search(vectors[0], 0).size == 0


def test_a_filter_of_the_wrong_size_is_refused() -> None:
    index = VectorIndex(clustered(100))
    with pytest.raises(ValueError, match="allowed has 99 entries for 100 items"):
        index.search(np.zeros(16), 5, np.ones(99, dtype=bool))


def test_background_index_is_built_once_and_waited_for_on_request() -> None:
    calls = []

    def vectors() -> np.ndarray:
        calls.append(1)
        return clustered(300)

    holder = BackgroundIndex(vectors)
    index = holder.get(wait=True)
    assert index is not None and index.size == 300
    assert holder.get() is index
    assert len(calls) == 1


def test_a_failed_build_leaves_exact_scoring_and_says_why() -> None:
    holder = BackgroundIndex(lambda: np.zeros((0, 4)))
    assert holder.get(wait=True) is None
    assert holder.error is not None and "non-empty" in holder.error
    assert holder.get() is None
