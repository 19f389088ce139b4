from __future__ import annotations

import numpy as np
import pytest

from launchpoint.evaluation.runner import Evaluation, evaluate, recommend, segment_breakdown
from launchpoint.evaluation.splits import item_cold_start_split, leave_last_k
from launchpoint.recommenders.content import ContentScorer
from launchpoint.recommenders.neighbours import ItemKNNScorer
from launchpoint.recommenders.popularity import PopularityScorer
from tests.recommenders.tastes import taste_data, taste_log


def test_a_personal_model_beats_popularity_on_the_two_tastes() -> None:
    split = leave_last_k(taste_log(), 1, seed=0)
    knn = evaluate(ItemKNNScorer(n=5), split, k=3, cutoffs=(3,))
    pop = evaluate(PopularityScorer(), split, k=3, cutoffs=(3,))
    assert knn.summary["ndcg@3"] > pop.summary["ndcg@3"]
    assert knn.summary["coverage@3"] > pop.summary["coverage@3"]
    assert set(knn.per_user) >= {"ndcg@3", "recall@3", "diversity@3", "novelty@3"}
    assert len(knn.users) == 20 and knn.recommended.shape == (20, 3)


def test_recommendations_skip_what_the_user_already_liked() -> None:
    data = taste_data()
    scorer = ItemKNNScorer(n=5).fit(data)
    users = np.arange(20)
    recs = recommend(scorer, users, 4, exclude=data.positive)
    for user, row in zip(users, recs, strict=True):
        assert not set(row.tolist()) & set(data.positive[user].indices.tolist())
    limited = recommend(scorer, users, 2, candidates=np.array([6, 7]))
    assert set(limited.ravel().tolist()) <= {6, 7}


def test_item_cold_start_ranks_only_items_new_to_the_model() -> None:
    split = item_cold_start_split(taste_log(), 0.25, seed=2)
    result = evaluate(ContentScorer(), split, k=2, cutoffs=(2,))
    new = set(np.unique(split.log.items[split.test]).tolist())
    shown = set(result.recommended[result.recommended >= 0].tolist())
    assert shown <= new


def _evaluation() -> Evaluation:
    return Evaluation(
        "m",
        10,
        np.array([0, 1, 2, 3]),
        {"ndcg@10": np.array([1.0, 0.5, 0.0, np.nan])},
        {},
        np.zeros((4, 10), dtype=np.intp),
        0.0,
        0.0,
    )


def test_segment_breakdown_and_its_gap_by_hand() -> None:
    segments = {
        "a": np.array([True, True, False, False, False]),
        "b": np.array([False, False, True, True, True]),
        "tiny": np.array([False, True, False, False, False]),
    }
    audit = segment_breakdown(_evaluation(), segments, min_users=2)
    by_id = {row.segment: row for row in audit.rows}
    assert by_id["a"].metrics["ndcg@10"] == pytest.approx(0.75)
    assert by_id["b"].metrics["ndcg@10"] == pytest.approx(0.0)  # the NaN user is left out
    assert by_id["tiny"].users == 1
    assert audit.gaps["ndcg@10"] == ("a", "b", pytest.approx(0.75))
