from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from launchpoint.errors import InvalidInput
from launchpoint.ranking.state import WorkspaceState, build_state
from launchpoint.recommenders.data import (
    InteractionLog,
    ItemMetadata,
    hold_out_last,
    recency_ranks,
    signal_weights,
    training_data_from_state,
)

DAY = 86_400.0


def _log(
    users: list[int], items: list[int], weights: list[float], times: list[float]
) -> InteractionLog:
    return InteractionLog(
        user_ids=("a", "b", "c"),
        item_ids=("x", "y", "z", "w"),
        users=np.array(users, dtype=np.intp),
        items=np.array(items, dtype=np.intp),
        weights=np.array(weights, dtype=np.float64),
        timestamps=np.array(times, dtype=np.float64),
        metadata=ItemMetadata.build(
            ["X", "Y", "Z", "W"], categories=[["p"], ["p", "q"], [], ["q"]]
        ),
    )


def test_signal_weights_follow_the_workspace_table_and_ratings() -> None:
    types = ("view", "purchase", "dismiss", "rate", "custom")
    codes = np.array([0, 1, 2, 3, 3, 3, 4], dtype=np.int16)
    values = np.array([np.nan, np.nan, np.nan, 5.0, 3.0, 2.0, np.nan])
    np.testing.assert_allclose(
        signal_weights(types, codes, values), [1.0, 5.0, -3.0, 2.5, 0.5, -0.5, 1.0]
    )
    np.testing.assert_allclose(
        signal_weights(types, codes, values, {"view": 0.5, "custom": 4.0}, rating_threshold=3.5),
        [0.5, 5.0, -3.0, 2.5, -0.5, -1.5, 4.0],
    )


def test_events_sum_per_pair_with_the_latest_time() -> None:
    log = _log([0, 0, 0, 1], [1, 1, 2, 1], [2.0, 3.0, -3.0, 1.0], [10.0, 30.0, 20.0, 5.0])
    data = log.training_data()
    assert data.interactions.toarray()[0].tolist() == [0.0, 5.0, -3.0, 0.0]
    assert data.times.toarray()[0, 1] == 30.0
    assert data.positive.toarray()[0].tolist() == [0.0, 5.0, 0.0, 0.0]
    assert data.popularity.tolist() == [0.0, 2.0, 0.0, 0.0]
    assert data.active_users.tolist() == [True, True, False]
    assert data.categories == ("p", "q")
    assert data.item_categories.toarray().tolist() == [[1, 0], [1, 1], [0, 0], [0, 1]]


def test_half_life_halves_a_weight_per_half_life() -> None:
    log = _log([0, 1], [0, 0], [4.0, 4.0], [0.0, 14 * DAY])
    data = log.training_data(half_life_days=7, now=14 * DAY)
    np.testing.assert_allclose(data.interactions.toarray()[:2, 0], [1.0, 4.0])
    with pytest.raises(InvalidInput, match="half_life_days"):
        log.training_data(half_life_days=0)


def test_recency_ranks_share_a_rank_for_one_moment() -> None:
    times = sparse.csr_matrix(np.array([[5.0, 9.0, 9.0, 1.0], [0.0, 0.0, 3.0, 0.0]]))
    np.testing.assert_array_equal(recency_ranks(times), [1, 0, 0, 2, 0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=12))
def test_recency_ranks_order_moments_latest_first(stamps: list[int]) -> None:
    row = sparse.csr_matrix(
        (np.array(stamps, float) + 1.0, (np.zeros(len(stamps), int), np.arange(len(stamps)))),
        shape=(1, len(stamps)),
    )
    ranks = recency_ranks(row)
    distinct = sorted(set(stamps), reverse=True)
    assert ranks.tolist() == [distinct.index(s) for s in stamps]


def test_holding_out_the_latest_liked_pairs_leaves_the_rest() -> None:
    rng = np.random.default_rng(1)
    users = np.repeat([0, 1, 2], 4)
    items = np.tile([0, 1, 2, 3], 3)
    weights = np.where(rng.random(12) < 0.9, 2.0, -1.0)
    weights[8:] = [2.0, 2.0, -1.0, -1.0]  # user 2: too few liked pairs to hold any out
    log = _log(users.tolist(), items.tolist(), weights.tolist(), list(range(12)))
    data = log.training_data()
    rest, held = hold_out_last(data, k=1, seed=0)
    assert held.toarray()[2].sum() == 0
    for user in (0, 1):
        liked = data.positive[user].indices
        if len(liked) >= 3:
            latest = liked[np.argmax(data.positive_times[user].data)]
            assert held[user].indices.tolist() == [latest]
    np.testing.assert_array_equal(
        (rest.interactions + data.interactions.multiply(held)).toarray(),
        data.interactions.toarray(),
    )


def _state() -> WorkspaceState:
    now = 1_700_000_000.0
    users = [{"id": u, "created_at": now, "attributes": {}} for u in ("ann", "bob")]
    items = [
        {
            "id": i,
            "title": f"Title {i}",
            "text": "",
            "categories": cats,
            "available": True,
            "created_at": now,
            "sensitive": [],
            "attributes": {"brand": "Acme"},
        }
        for i, cats in (("i1", ["tea"]), ("i2", ["tea", "cake"]), ("i3", []))
    ]
    events = [
        [
            ("ann", "i1", "purchase", None, now - 10),
            ("ann", "i2", "dismiss", None, now - 5),
            ("bob", "i2", "rate", 4.0, now - 3),
            ("bob", None, "search", None, now - 2),
            ("bob", "i3", "view", None, now - 1),
        ]
    ]
    return build_state(1, users, items, events, [], now=now)


def test_training_data_from_a_workspace_state() -> None:
    state = _state()
    data = training_data_from_state(state, weights={"view": 0.5}, rating_threshold=3.5)
    assert data.user_ids == ("ann", "bob") and data.item_ids == ("i1", "i2", "i3")
    assert data.interactions.toarray().tolist() == [[5.0, -3.0, 0.0], [0.0, 1.5, 0.5]]
    assert data.now == state.now
    assert data.metadata.texts[0] == "Acme"  # short string attributes describe the item
    decayed = training_data_from_state(state, half_life_days=1.0)
    assert decayed.interactions[0, 0] < 5.0
