from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from launchpoint.recommenders.base import Scorer
from tests.recommenders.contract import ScorerContract
from tests.recommenders.tastes import taste_data

pytest.importorskip("torch", reason="two_tower needs PyTorch: pip install 'launchpoint[torch]'")

from launchpoint.recommenders.two_tower import TwoTowerScorer


class TestTwoTowerContract(ScorerContract):
    def make(self, seed: int = 1) -> Scorer[Any]:
        return TwoTowerScorer(seed=seed, embedding_size=8, epochs=60, batch_size=8)


def test_serving_needs_no_torch_objects() -> None:
    scorer = TwoTowerScorer(embedding_size=8, epochs=5, batch_size=8).fit(taste_data())
    arrays = [v for v in vars(scorer).values() if type(v).__module__.startswith("torch")]
    assert arrays == []
    assert isinstance(scorer.item_vectors, np.ndarray)


def test_a_new_item_gets_a_vector_from_its_categories() -> None:
    data = taste_data()
    scorer = TwoTowerScorer(embedding_size=8, epochs=60, batch_size=8).fit(data)
    vectors = scorer.new_item_vectors(data.item_categories[[0, 7]])
    action_fan = scorer._user_vectors(scorer.history[[2]])[0]
    assert vectors[0] @ action_fan > vectors[1] @ action_fan
