from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.recommenders.base import Scorer, minmax_rows
from launchpoint.recommenders.data import TrainingData
from launchpoint.recommenders.hybrid import ComponentSpec, HybridScorer
from launchpoint.recommenders.neighbours import ItemKNNScorer
from tests.recommenders.contract import ScorerContract
from tests.recommenders.tastes import COLD_USER, taste_data, unseen


class TestHybridContract(ScorerContract):
    def make(self, seed: int = 1) -> Scorer[Any]:
        return HybridScorer(seed=seed, validation_k=1, validation_users=50)


class TestFixedWeightHybridContract(ScorerContract):
    def make(self, seed: int = 1) -> Scorer[Any]:
        components = (
            ComponentSpec(family="item_knn", params={"n": 5}, weight=1.0),
            ComponentSpec(family="popularity", weight=0.1),
        )
        return HybridScorer(seed=seed, components=components)


def test_weights_are_fitted_on_held_out_recent_items() -> None:
    hybrid = HybridScorer(validation_k=1, validation_users=50).fit(taste_data())
    assert hybrid.validation["users"] > 0
    assert set(hybrid.validation["weights"]) == set(hybrid.names)
    assert hybrid.validation["ndcg@10"] >= max(hybrid.validation["alone"].values()) - 1e-9
    assert (hybrid.weights >= 0).all() and hybrid.weights.any()


def test_the_blend_is_the_weighted_sum_of_rescaled_components() -> None:
    components = (
        ComponentSpec(family="item_knn", params={"n": 5}, weight=2.0),
        ComponentSpec(family="popularity", weight=0.5),
    )
    data = taste_data()
    hybrid = HybridScorer(components=components).fit(data)
    knn, pop = hybrid.components
    candidates = unseen(data, 3)

    def rescaled(x: np.ndarray) -> np.ndarray:
        return (x - x.min()) / (x.max() - x.min())

    expected = 2.0 * rescaled(knn.score(3, candidates)) + 0.5 * rescaled(pop.score(3, candidates))
    np.testing.assert_allclose(hybrid.score(3, candidates), expected)


finite_or_excluded = st.one_of(st.floats(-1e3, 1e3), st.just(-np.inf))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.3, 1.0, 2.5]), min_size=1, max_size=4).flatmap(
        lambda weights: st.tuples(
            st.just(weights),
            st.lists(
                st.lists(finite_or_excluded, min_size=len(weights), max_size=len(weights)),
                min_size=1,
                max_size=12,
            ),
        )
    )
)
def test_one_users_blend_is_the_weighted_sum_of_rescaled_rows(
    case: tuple[list[float], list[list[float]]],
) -> None:
    """The one-product blend of a user's raw scores (constant rows, excluded items and
    zero weights included) equals rescaling each component's row, then weighting."""
    weights, columns = case
    hybrid = HybridScorer(
        components=tuple(ComponentSpec(family="popularity", weight=w) for w in weights)
    )
    hybrid.weights = np.array(weights)
    active = [n for n, w in enumerate(weights) if w > 0]
    block = np.array(columns, dtype=np.float64).T[active]  # (active components, candidates)
    expected = (np.array(weights)[active][:, None] * minmax_rows(block)).sum(axis=0)
    np.testing.assert_allclose(hybrid._blend_block(block), expected, atol=1e-9)


def test_explain_names_the_strongest_component_and_the_item_behind_it() -> None:
    components = (
        ComponentSpec(family="item_knn", params={"n": 5}, weight=1.0),
        ComponentSpec(family="popularity", weight=0.01),
    )
    data = taste_data()
    hybrid = HybridScorer(components=components).fit(data)
    user = 0
    candidates = unseen(data, user)
    best = candidates[np.argmax(hybrid.score(user, candidates))]
    (signal,) = hybrid.explain(user, candidates, [best])
    assert signal.component == "item_knn"
    assert signal.because_item in data.positive[user].indices
    assert signal.score == pytest.approx(sum(signal.parts.values()))
    (cold,) = hybrid.explain(COLD_USER, candidates, [best])
    assert cold.component == "popularity" and cold.because_item is None


def test_explain_gives_each_card_its_parts_and_names_the_item_only_where_it_placed_it() -> None:
    data = taste_data()
    hybrid = three_part_hybrid(data)
    user = 4
    candidates = unseen(data, user)
    cards = candidates[np.argsort(-hybrid.score(user, candidates))[:5]]
    signals = hybrid.explain(user, candidates, cards)
    blended = hybrid.score(user, candidates)
    for signal in signals:
        assert set(signal.parts) == {"ease", "item_knn", "popularity"}
        assert signal.component == max(signal.parts, key=lambda name: signal.parts[name])
        assert signal.score == pytest.approx(blended[list(candidates).index(signal.item)])
        if signal.component == "popularity":  # no item of the user's behind it
            assert signal.because_item is None
        else:
            assert signal.because_item in data.positive[user].indices


def test_a_hybrid_whose_weights_are_all_zero_explains_cards_by_popularity() -> None:
    components = (
        ComponentSpec(family="item_knn", params={"n": 5}, weight=0.0),
        ComponentSpec(family="popularity", weight=0.0),
    )
    hybrid = HybridScorer(components=components).fit(taste_data())
    (signal,) = hybrid.explain(0, np.arange(12), [3])
    assert (signal.component, signal.score, signal.parts) == ("popularity", 0.0, {})
    assert signal.because_item is None


def test_segment_popularity_replaces_overall_popularity() -> None:
    components = (ComponentSpec(family="popularity", weight=1.0),)
    data = taste_data()
    hybrid = HybridScorer(components=components).fit(data)
    candidates = np.arange(12)
    within = np.zeros(12)
    within[9] = 50.0
    assert np.argmax(hybrid.score_in_segment(3, candidates, within)) == 9
    assert np.argmax(hybrid.score(3, candidates)) == 0


def three_part_hybrid(data: TrainingData) -> HybridScorer:
    """EASE and item-kNN (which read the user) with popularity (which does not)."""
    components = (
        ComponentSpec(family="ease", weight=1.0),
        ComponentSpec(family="item_knn", params={"n": 5}, weight=0.5),
        ComponentSpec(family="popularity", weight=0.2),
    )
    return HybridScorer(components=components).fit(data)


def test_a_requests_memo_gives_every_ribbon_the_scores_it_would_get_alone() -> None:
    data = taste_data()
    hybrid = three_part_hybrid(data)
    rng = np.random.default_rng(2)
    memo: dict[int, np.ndarray] = {}
    for _ in range(3):  # three ribbons of one page, each with its own candidates
        candidates = np.sort(rng.choice(data.n_items, 9, replace=False))
        within = rng.random(9) * 10
        alone = hybrid.score_in_segment(4, candidates, within)
        shared = hybrid.score_in_segment(4, candidates, within, memo)
        np.testing.assert_allclose(shared, alone, atol=1e-9)
    assert len(memo) == 2  # the components that read the user, not popularity


def test_a_hybrid_inside_a_hybrid_is_refused() -> None:
    with pytest.raises(ValueError, match="hybrid cannot contain a hybrid"):
        HybridScorer(components=(ComponentSpec(family="hybrid", weight=1.0),)).fit(taste_data())


def test_refresh_takes_in_new_behaviour_without_retraining() -> None:
    data = taste_data()
    scorer = ItemKNNScorer(n=5).fit(data)
    similarity = scorer.similarity
    empty = replace(
        data,
        interactions=data.interactions.multiply(0).tocsr(),
        times=data.times.multiply(0).tocsr(),
    )
    assert scorer.refresh(empty).similarity is similarity
    np.testing.assert_allclose(scorer.score(3), scorer.score(COLD_USER))  # everyone is cold


def test_history_refit_keeps_the_fitted_weights() -> None:
    hybrid = HybridScorer(validation_k=1, validation_users=50, refit="history").fit(taste_data())
    assert hybrid.validation["users"] > 0
    data = taste_data()
    for user in range(20):
        candidates = unseen(data, user)
        best = candidates[np.argmax(hybrid.score(user, candidates))]
        assert (best < 6) == (user < 10)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=12), st.booleans())
def test_rescaled_rows_span_zero_to_one_and_keep_order(values: list[float], mask: bool) -> None:
    row = np.array([values])
    if mask:
        row[0, 0] = -np.inf  # an excluded item stays excluded
    out = minmax_rows(row)[0]
    finite = np.isfinite(row[0])
    assert np.array_equal(np.isfinite(out), finite)
    kept = out[finite]
    if len(kept):
        assert kept.min() >= 0 and kept.max() <= 1 + 1e-12
        order = np.argsort(row[0][finite], kind="stable")
        assert (np.diff(kept[order]) >= -1e-12).all()


def test_explain_reads_the_requests_memo_and_says_the_same() -> None:
    data = taste_data()
    hybrid = three_part_hybrid(data)
    candidates = unseen(data, 4)
    cards = candidates[np.argsort(-hybrid.score(4, candidates))[:3]]
    memo: dict[int, np.ndarray] = {}
    hybrid.score_in_segment(4, candidates, np.ones(len(candidates)), memo)
    alone = hybrid.explain(4, cards, cards)
    assert hybrid.explain(4, cards, cards, memo) == alone
    assert len(memo) == 3  # explain added popularity, which ranking read from the segment
    assert hybrid.explain(4, cards, cards, {}) == alone  # an empty memo is filled as it goes
    (cold,) = hybrid.explain(COLD_USER, cards, cards[:1], {})
    assert cold.component == "popularity"
