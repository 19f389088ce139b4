"""Implicit interests: signed, decayed, scaled; removed and stated interests on top."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from launchpoint.profiles import interests
from launchpoint.profiles.interests import (
    STATED_INTEREST,
    SignalConfig,
    combine,
    decay,
    interest_matrix,
    scale_row,
    user_interest_row,
)

DAY = 86400.0
CATS = sparse.csr_matrix(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]))  # 3 items, 2 cats


def test_decay_halves_every_half_life_and_never_grows_for_future_events() -> None:
    ts = np.array([0.0, -90 * DAY, -180 * DAY, 10 * DAY])
    np.testing.assert_allclose(decay(ts, 0.0, 90.0), [1.0, 0.5, 0.25, 1.0])
    np.testing.assert_allclose(decay(ts, 0.0, 0.0), [1.0, 1.0, 1.0, 1.0])


def test_negative_signals_count_against_and_resets_forget_the_past() -> None:
    config = SignalConfig(half_life_days=0)
    user = np.array([0, 0, 0, 1], dtype=np.int32)
    item = np.array([0, 2, 1, 2], dtype=np.int32)
    weights = np.array([2.0, -3.0, 2.0, 1.0])
    ts = np.array([10.0, 20.0, 30.0, 30.0])  # user 1 reset at 35: its event is forgotten
    reset = np.array([-np.inf, 35.0])
    matrix = interest_matrix(user, item, weights, ts, CATS, 2, 100.0, config, reset)
    np.testing.assert_allclose(matrix.toarray(), [[3.0, -2.0], [0.0, 0.0]])
    row = user_interest_row(item[:3], weights[:3], ts[:3], CATS, 100.0, config, -np.inf)
    np.testing.assert_allclose(row, [3.0, -2.0])
    np.testing.assert_allclose(scale_row(row), [1.0, -2 / 3])


def test_removed_interests_are_zero_and_stated_ones_count_at_least_the_floor() -> None:
    scaled = np.array([1.0, 0.1, -0.5])
    out = combine(scaled, ["a", "b", "c"], frozenset({"a"}), frozenset({"b", "c"}))
    np.testing.assert_allclose(out, [0.0, STATED_INTEREST, STATED_INTEREST])


def test_the_matrix_made_in_ranges_of_users_is_the_one_pass_s_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(3)
    n = 5000
    user = rng.integers(0, 300, n).astype(np.int32)
    item = rng.integers(-1, 3, n).astype(np.int32)
    weights = rng.normal(size=n)
    ts = np.sort(rng.uniform(0, 200 * DAY, n))
    reset = np.where(rng.random(300) < 0.1, 100 * DAY, -np.inf)
    args = (user, item, weights, ts, CATS, 300, 200 * DAY, SignalConfig(), reset)
    whole = interest_matrix(*args)
    monkeypatch.setattr(interests, "EVENTS_PER_STEP", 400)
    steps: list[int] = []
    ranged = interest_matrix(*args, pace=lambda: steps.append(1))
    assert len(steps) >= 5  # ranges of users, each a step
    assert ranged.shape == whole.shape
    assert ranged.indptr.tolist() == whole.indptr.tolist()
    assert ranged.indices.tolist() == whole.indices.tolist()
    assert ranged.data.tobytes() == whole.data.tobytes()
