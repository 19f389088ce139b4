from __future__ import annotations

from typing import Any

import numpy as np

from launchpoint.recommenders.base import Scorer
from launchpoint.recommenders.factorization import ALSScorer, BPRScorer
from tests.recommenders.contract import ScorerContract
from tests.recommenders.tastes import taste_data


class TestALSContract(ScorerContract):
    def make(self, seed: int = 1) -> Scorer[Any]:
        return ALSScorer(seed=seed, embedding_size=2, epochs=15, reg=0.1)


class TestBPRContract(ScorerContract):
    def make(self, seed: int = 1) -> Scorer[Any]:
        return BPRScorer(seed=seed, embedding_size=4, epochs=200, learning_rate=0.05)


def test_als_fold_in_recovers_a_trained_users_vector() -> None:
    data = taste_data()
    scorer = ALSScorer(embedding_size=4, epochs=15, reg=0.1).fit(data)
    user = 3
    folded = scorer.history_vector(data.positive[[user]])
    # One more least-squares step from converged item factors lands near the trained one.
    np.testing.assert_allclose(folded, scorer.user_factors[user], atol=0.05)
