"""On MovieLens ml-latest-small (leave-last-5 of ratings >= 3.5), the default hybrid beats
popularity on NDCG@10. benchmarks/quality.py measures it against the peers."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchpoint.evaluation.datasets import movielens_log
from launchpoint.evaluation.runner import evaluate
from launchpoint.evaluation.splits import leave_last_k
from launchpoint.recommenders.hybrid import HybridScorer
from launchpoint.recommenders.popularity import PopularityScorer


@pytest.mark.realdata
def test_the_default_hybrid_beats_popularity_on_movielens(movielens_small: Path) -> None:
    log = movielens_log(movielens_small)
    split = leave_last_k(log, 5, seed=0)
    data = log.subset(split.train).training_data()
    popularity = evaluate(PopularityScorer(), split, data=data)
    # Default components and weight fitting; after the weights are chosen the components
    # only take in the full histories instead of being refitted: half the time.
    hybrid = evaluate(HybridScorer(refit="history"), split, data=data)
    assert hybrid.summary["users"] == popularity.summary["users"] > 500
    assert hybrid.summary["ndcg@10"] > 1.5 * popularity.summary["ndcg@10"]
    assert hybrid.summary["coverage@10"] > popularity.summary["coverage@10"]
