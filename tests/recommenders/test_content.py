from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from launchpoint.recommenders.base import Scorer
from launchpoint.recommenders.content import ContentScorer
from launchpoint.recommenders.data import ItemMetadata
from tests.recommenders.contract import ScorerContract
from tests.recommenders.tastes import taste_data


class TestContentContract(ScorerContract):
    def make(self, seed: int = 1) -> Scorer[Any]:
        return ContentScorer(seed=seed)


def test_a_new_item_is_scored_from_its_text_alone() -> None:
    scorer = ContentScorer().fit(taste_data())
    new = ItemMetadata.build(
        ["A heist with car chases", "Letters of love"], categories=[["Action"], ["Romance"]]
    )
    action_fan, romance_fan = 0, 15
    assert np.argmax(scorer.score_new_items(action_fan, new)) == 0
    assert np.argmax(scorer.score_new_items(romance_fan, new)) == 1
    assert scorer.related_new_items(7, new)[1] > scorer.related_new_items(7, new)[0]


def test_a_catalogue_without_text_has_no_content_opinion() -> None:
    data = taste_data()
    blank = ItemMetadata.build([""] * 12)
    scorer = ContentScorer(popularity_prior=0.0).fit(replace(data, metadata=blank))
    assert np.allclose(scorer.score(0), 0.0)
