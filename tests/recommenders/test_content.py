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


def test_one_request_scores_as_a_batch_of_users_does() -> None:
    # One user takes a dense-profile path of its own; many users (evaluation) a sparse one.
    data = taste_data()
    scorer = ContentScorer().fit(data)
    users = np.arange(data.n_users)
    batch = scorer.score_users(users)
    few = np.array([2, 7])  # few candidates: only their rows are read
    for user in users.tolist():
        np.testing.assert_allclose(scorer.score(user), batch[user], atol=1e-12)
        np.testing.assert_allclose(scorer.score(user, few), batch[user, few], atol=1e-12)
    history, weights = np.array([0, 3, 5]), np.array([2.0, 0.5, 1.0])
    rows = scorer._history_row(history, weights)
    np.testing.assert_allclose(
        scorer.score_history(history, weights),
        scorer._score_profiles(rows @ scorer.item_vectors, np.arange(data.n_items))[0],
        atol=1e-12,
    )
