from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from launchpoint.errors import InvalidInput
from launchpoint.recommenders.base import Scorer
from launchpoint.recommenders.data import InteractionLog, ItemMetadata
from launchpoint.recommenders.ease import EASEScorer, spd_inverse
from tests.recommenders.contract import ScorerContract
from tests.recommenders.tastes import taste_data


class TestEASEContract(ScorerContract):
    def make(self, seed: int = 1) -> Scorer[Any]:
        return EASEScorer(seed=seed, reg=5.0)


def test_weights_solve_the_closed_form() -> None:
    data = taste_data()
    scorer = EASEScorer(reg=5.0).fit(data)
    x = data.positive[:, scorer.items].toarray()
    x[x > 0] = 1.0
    p = np.linalg.inv(x.T @ x + 5.0 * np.eye(x.shape[1]))
    expected = -p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(scorer.weights, expected, atol=1e-5)


def test_spd_inverse_matches_numpy() -> None:
    a = np.random.default_rng(0).random((1030, 40))  # past one 1024-row mirroring block
    gram = a @ a.T + 3.0 * np.eye(1030)
    np.testing.assert_allclose(spd_inverse(gram.astype(np.float32)), np.linalg.inv(gram), atol=1e-5)


def test_too_many_items_is_refused_with_a_way_out() -> None:
    data = taste_data()
    with pytest.raises(InvalidInput, match=r"max_items=5.*subset='top_popular'"):
        EASEScorer(max_items=5).fit(data)


def test_top_popular_subset_ranks_the_other_items_last() -> None:
    data = taste_data()
    scorer = EASEScorer(max_items=6, subset="top_popular", reg=5.0).fit(data)
    assert len(scorer.items) == 6 and 0 in scorer.items
    scores = scorer.score(12)
    outside = np.setdiff1d(np.arange(12), scorer.items)
    assert scores[outside].max() < scores[scorer.items].min()
    assert EASEScorer(max_items=6, subset="top_popular").fit(data).score_for_item(
        int(outside[0]), [0, 1]
    ).tolist() == [0.0, 0.0]


def fitted_on_random_likes(seed: int, n_users: int, n_items: int, density: float) -> EASEScorer:
    """EASE fitted on users who each like a random share ``density`` of the items."""
    rng = np.random.default_rng(seed)
    liked = (rng.random((n_users, n_items)) < density).astype(float)
    users, items = np.nonzero(liked)
    log = InteractionLog(
        tuple(f"u{k}" for k in range(n_users)),
        tuple(f"i{k}" for k in range(n_items)),
        users.astype(np.intp),
        items.astype(np.intp),
        np.ones(len(users)),
        np.arange(len(users), dtype=float),
        ItemMetadata.build([""] * n_items),
    )
    return EASEScorer(reg=2.0).fit(log.training_data())


def test_every_scoring_path_gives_the_same_scores() -> None:
    scorer = fitted_on_random_likes(seed=4, n_users=60, n_items=40, density=0.15)
    everything = scorer.score_users(np.arange(60))  # all candidates, many histories
    few = np.array([3, 17, 29])
    np.testing.assert_allclose(
        scorer.score_users(np.arange(60), few), everything[:, few], rtol=1e-5, atol=1e-6
    )
    for user in (0, 7):  # one short history, few candidates: the per-request path
        np.testing.assert_allclose(
            scorer.score(user, few), everything[user, few], rtol=1e-5, atol=1e-6
        )
    many = np.arange(5, 40)  # one short history, most items: the history's rows of B only
    for user in (0, 7):
        np.testing.assert_allclose(
            scorer.score(user, many), everything[user, many], rtol=1e-5, atol=1e-6
        )


def test_one_request_from_a_long_history_reads_its_heaviest_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from launchpoint.recommenders import ease

    scorer = fitted_on_random_likes(seed=5, n_users=30, n_items=20, density=0.3)
    monkeypatch.setattr(ease, "REQUEST_HISTORY", 2)
    history, weights = np.array([1, 4, 9, 12]), np.array([0.5, 3.0, 0.2, 2.0])
    got = scorer.score_history(history, weights)
    pos = scorer.position
    b = scorer.weights
    expected = 3.0 * b[pos[4]] + 2.0 * b[pos[12]]  # the two heaviest of the four
    np.testing.assert_allclose(got[scorer.items], expected[pos[scorer.items]], rtol=1e-5, atol=1e-6)


def test_weights_are_row_major_and_an_older_column_major_model_loads_row_major() -> None:
    # A request gathers B's rows for the user's history: 8x slower from a column-major array.
    scorer = fitted_on_random_likes(seed=6, n_users=40, n_items=30, density=0.2)
    assert scorer.weights.flags.c_contiguous
    expected = scorer.score_users(np.arange(40))
    scorer.weights = np.asfortranarray(scorer.weights)  # as models saved before were
    loaded = pickle.loads(pickle.dumps(scorer))
    assert loaded.weights.flags.c_contiguous
    np.testing.assert_array_equal(loaded.weights, scorer.weights)
    np.testing.assert_allclose(loaded.score_users(np.arange(40)), expected, rtol=1e-6)


def test_because_names_the_history_item_with_the_heaviest_weight_toward_each_item() -> None:
    scorer = EASEScorer(max_items=8, subset="top_popular", reg=5.0).fit(taste_data())
    user = 3
    history = scorer.user_history(user)
    targets = np.arange(scorer.n_items)
    found = scorer.because(user, targets)
    for target, got in zip(targets.tolist(), found.tolist(), strict=True):
        at, column = scorer.position[history.items], scorer.position[target]
        inside = at >= 0
        if column < 0 or not inside.any():  # outside the trained subset: nothing behind it
            assert got == -1
            continue
        contributions = history.weights[inside] * scorer.weights[at[inside], column]
        best = history.items[inside][np.argmax(contributions)]
        assert got == (best if contributions.max() > 0 else -1)
    assert (scorer.because(scorer.n_users + 2, targets) == -1).all()
