from __future__ import annotations

from typing import Any

import numpy as np

from launchpoint.recommenders.base import Scorer
from launchpoint.recommenders.data import InteractionLog, ItemMetadata
from launchpoint.recommenders.popularity import PopularityScorer, TrendingScorer
from tests.recommenders.contract import ScorerContract
from tests.recommenders.tastes import taste_data


class TestPopularityContract(ScorerContract):
    personal = False

    def make(self, seed: int = 1) -> Scorer[Any]:
        return PopularityScorer(seed=seed)


class TestTrendingContract(ScorerContract):
    personal = False

    def make(self, seed: int = 1) -> Scorer[Any]:
        return TrendingScorer(seed=seed, half_life_days=30)


def test_popularity_counts_users_who_liked_each_item() -> None:
    data = taste_data()
    scorer = PopularityScorer(log=False).fit(data)
    np.testing.assert_array_equal(scorer.score(0), data.popularity)
    assert scorer.score(0)[0] == 12  # ten action fans and two romance fans


def test_segment_popularity_counts_only_members() -> None:
    data = taste_data()
    scorer = PopularityScorer(log=False).fit(data)
    romance_fans = np.zeros(data.n_users, dtype=bool)
    romance_fans[10:20] = True
    within = scorer.segment_popularity(romance_fans)
    assert within[0] == 2  # only users 10 and 11 of the segment liked item 0
    assert within[:6].sum() == 2
    ranked = np.argsort(-scorer.score_in_segment(within, np.arange(12)))
    assert ranked[0] >= 6  # the segment's own favourite, not the overall hit


def _log(times: list[float], items: list[int]) -> InteractionLog:
    n = len(times)
    return InteractionLog(
        user_ids=tuple(f"u{k}" for k in range(n)),
        item_ids=("old", "new"),
        users=np.arange(n, dtype=np.intp),
        items=np.array(items, dtype=np.intp),
        weights=np.ones(n),
        timestamps=np.array(times),
        metadata=ItemMetadata.build(["old", "new"]),
    )


def test_trending_prefers_what_is_liked_lately() -> None:
    day = 86_400.0
    # "old" has three likes a year ago, "new" two likes this week.
    log = _log([0.0, 1.0, 2.0, 365 * day, 366 * day], [0, 0, 0, 1, 1])
    trending = TrendingScorer(half_life_days=7).fit(log.training_data())
    assert trending.score(0)[1] > trending.score(0)[0]
    popular = PopularityScorer().fit(log.training_data())
    assert popular.score(0)[0] > popular.score(0)[1]
