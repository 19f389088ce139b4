"""Contract tests every recommender family runs (lenskit's ``lenskit.testing`` idea): a test
class for a family subclasses ``ScorerContract`` and says how to make its scorer."""

from __future__ import annotations

import pickle
from typing import Any, ClassVar

import numpy as np
import pytest

from launchpoint.errors import InvalidInput
from launchpoint.recommenders.base import NotFitted, Scorer
from launchpoint.recommenders.data import TrainingData
from tests.recommenders.tastes import ACTION, COLD_USER, ROMANCE, taste_data, unseen


class ScorerContract:
    """What every family must do. ``personal``: whether it must find each group's unseen
    items first (False for popularity, which is the same for everyone)."""

    personal: ClassVar[bool] = True

    def make(self, seed: int = 1) -> Scorer[Any]:
        raise NotImplementedError

    @pytest.fixture
    def data(self) -> TrainingData:
        return taste_data()

    @pytest.fixture
    def fitted(self, data: TrainingData) -> Scorer[Any]:
        return self.make().fit(data)

    def test_scores_are_finite_and_shaped_like_the_candidates(
        self, fitted: Scorer[Any], data: TrainingData
    ) -> None:
        for candidates in ([3, 0, 7], np.arange(data.n_items), []):
            scores = fitted.score(2, candidates)
            assert scores.shape == (len(candidates),)
            assert np.isfinite(scores).all()
        assert fitted.score(2).shape == (data.n_items,)

    def test_batch_scores_agree_with_one_user_at_a_time(self, fitted: Scorer[Any]) -> None:
        users = np.array([0, 5, 12, COLD_USER, 99])
        candidates = np.array([1, 4, 8, 11])
        batch = fitted.score_users(users, candidates)
        assert batch.shape == (len(users), len(candidates))
        for row, user in zip(batch, users, strict=True):
            np.testing.assert_allclose(row, fitted.score(int(user), candidates), rtol=1e-6)

    def test_the_same_seed_gives_the_same_scores(self, data: TrainingData) -> None:
        one = self.make(seed=3).fit(data).score_users(np.arange(data.n_users))
        two = self.make(seed=3).fit(data).score_users(np.arange(data.n_users))
        np.testing.assert_allclose(one, two, rtol=1e-6, atol=1e-9)

    def test_a_user_with_no_history_gets_popularity(
        self, fitted: Scorer[Any], data: TrainingData
    ) -> None:
        for user in (COLD_USER, data.n_users + 5, -1):
            scores = fitted.score(user)
            assert np.isfinite(scores).all()
            assert int(np.argmax(scores)) == 0  # the most liked item

    def test_a_fresh_history_is_scored_like_the_user_it_describes(
        self, fitted: Scorer[Any]
    ) -> None:
        scores = fitted.score_history([0, 1, 2], [3.0, 3.0, 3.0])
        assert np.isfinite(scores).all()
        empty = fitted.score_history([], [])
        np.testing.assert_allclose(empty, fitted.score(COLD_USER))
        if self.personal:
            candidates = np.array([3, 4, 5, 6, 7, 8])
            ranked = candidates[np.argsort(-fitted.score_history([0, 1, 2], None, candidates))]
            assert set(ranked[:3]) == {3, 4, 5}

    def test_each_group_gets_its_own_unseen_items_first(
        self, fitted: Scorer[Any], data: TrainingData
    ) -> None:
        if not self.personal:
            pytest.skip("not a personal model")
        for user in range(20):
            own = ACTION if user < 10 else ROMANCE
            candidates = unseen(data, user)
            scores = fitted.score(user, candidates)
            best = candidates[np.argmax(scores)]
            assert best in own, (user, best)

    def test_related_items_come_from_the_same_group(self, fitted: Scorer[Any]) -> None:
        candidates = np.array([1, 2, 7, 8])
        scores = fitted.score_for_item(3, candidates)
        assert scores.shape == (4,) and np.isfinite(scores).all()
        if self.personal:  # the related group first, on average and at the top
            assert scores[:2].mean() > scores[2:].mean()
            assert int(np.argmax(scores)) < 2

    def test_a_new_user_who_named_categories_gets_them_first(self, fitted: Scorer[Any]) -> None:
        scores = fitted.score_cold_user(["romance"])  # matched without regard to case
        assert np.isfinite(scores).all()
        assert scores[ROMANCE].mean() > scores[ACTION].mean()
        assert int(np.argmax(scores)) in ROMANCE

    def test_bad_indices_and_unfitted_use_are_clear_errors(
        self, fitted: Scorer[Any], data: TrainingData
    ) -> None:
        with pytest.raises(InvalidInput, match="outside"):
            fitted.score(0, [0, data.n_items])
        with pytest.raises(InvalidInput, match="outside"):
            fitted.score_for_item(data.n_items, [0])
        with pytest.raises(NotFitted, match="fit"):
            self.make().score(0, [0])

    def test_a_saved_scorer_scores_as_before(self, fitted: Scorer[Any]) -> None:
        loaded = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_allclose(
            loaded.score_users(np.arange(21)), fitted.score_users(np.arange(21))
        )
