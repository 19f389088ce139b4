"""The scoring stage reads a factor model's scores of every item once per request, and the
user's affinity for every item once per request; each ribbon gathers its candidates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from launchpoint.ranking.pipeline import user_signals
from launchpoint.ranking.relevance import WHOLE_CATALOGUE_FROM, Relevance
from tests.ranking.guardrails.worlds import NOW
from tests.ranking.test_retrieval import N_ITEMS, als_model, taste_state


def test_a_pages_ribbons_read_one_product_of_every_item(monkeypatch: pytest.MonkeyPatch) -> None:
    state = taste_state()
    scorer = als_model().for_state(state)
    products: list[int] = []
    score_all = scorer.score_all

    def counted(user: int) -> Any:
        products.append(user)
        return score_all(user)

    monkeypatch.setattr(scorer, "score_all", counted)
    relevance = Relevance(state, scorer)
    segment = state.segments[0]
    user = user_signals(state, "u004", NOW, personal=True)
    large = np.flatnonzero(segment.eligible)
    small = large[: max(1, int(WHOLE_CATALOGUE_FROM * N_ITEMS) - 1)]
    assert relevance._model_scores(user, small, segment) is not None
    assert products == []  # a small ribbon first: its candidates alone
    for items in (large, small, large[::3]):  # then one product serves every ribbon
        np.testing.assert_allclose(
            relevance._model_scores(user, items, segment),
            scorer.score(user.index, items),
            atol=1e-5,
        )
    assert products == [user.index]
    other = user_signals(state, "u005", NOW, personal=True)  # the next request: its own
    relevance._model_scores(other, large, segment)
    assert products == [user.index, other.index]


def test_affinity_for_every_item_is_the_category_product() -> None:
    state = taste_state()
    relevance = Relevance(state)
    user = user_signals(state, "u004", NOW, personal=True)
    items = np.arange(N_ITEMS)
    expected = state.item_categories @ user.affinity
    np.testing.assert_allclose(relevance.item_affinity(user, items), expected, atol=1e-12)
    assert relevance.item_affinity(user, items[5:9]).tolist() == expected[5:9].tolist()
