"""The delta method against a brute-force bootstrap, the tests, SRM and power."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from launchpoint.experiments.analysis import (
    analyse,
    analyse_segments,
    compare,
    predicted_power,
    ratio_estimate,
    sample_ratio_check,
)
from launchpoint.experiments.synthetic import Population, ab_spec, synthetic_table


def _sample(seed: int, n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cards = (1 + rng.poisson(4, n)) * 10
    clicks = rng.binomial(cards, rng.beta(2, 2 / rate - 2, n))
    return clicks.astype(float), cards.astype(float)


def test_delta_method_matches_a_bootstrap_on_a_fixed_sample() -> None:
    y_t, x_t = _sample(1, 3000, 0.055)
    y_c, x_c = _sample(2, 3000, 0.05)
    rng = np.random.default_rng(3)
    ratios, lifts = [], []
    for _ in range(2000):
        a = rng.integers(0, len(y_t), len(y_t))
        b = rng.integers(0, len(y_c), len(y_c))
        rt, rc = y_t[a].sum() / x_t[a].sum(), y_c[b].sum() / x_c[b].sum()
        ratios.append(rt)
        lifts.append(rt / rc - 1)
    treated, control = ratio_estimate(y_t, x_t), ratio_estimate(y_c, x_c)
    assert treated.se == pytest.approx(np.std(ratios), rel=0.08)
    assert compare(treated, control).se == pytest.approx(np.std(lifts), rel=0.08)
    # The naive binomial error (clicks / cards as if cards were independent) is far smaller:
    naive = np.sqrt(treated.value * (1 - treated.value) / x_t.sum())
    assert naive < 0.7 * np.std(ratios)


def test_a_per_user_metric_reduces_to_the_standard_error_of_the_mean() -> None:
    values = np.arange(10, dtype=float)
    estimate = ratio_estimate(values, np.ones(10))
    assert estimate.value == 4.5 and estimate.se == pytest.approx(values.std(ddof=1) / np.sqrt(10))


def test_undefined_figures_are_nan_not_errors() -> None:
    empty = ratio_estimate(np.zeros(0), np.zeros(0))
    assert np.isnan(empty.value)
    c = compare(ratio_estimate(np.ones(5), np.ones(5)), empty)
    assert np.isnan(c.lift) and not c.significant


@given(shift=st.floats(-0.5, 0.5), seed=st.integers(0, 50))
def test_the_interval_is_centred_on_the_lift_and_the_test_agrees_with_z(
    shift: float, seed: int
) -> None:
    y_c, x_c = _sample(seed, 400, 0.05)
    y_t = np.round(y_c * (1 + shift))
    c = compare(ratio_estimate(y_t, x_c), ratio_estimate(y_c, x_c), alpha=0.05)
    assert c.ci_low <= c.lift <= c.ci_high
    assert c.significant == (abs(c.z) > 1.959964)
    assert c.always_valid_p >= c.p_value or not np.isfinite(c.p_value)


def test_sample_ratio_mismatch_is_flagged_only_for_a_broken_split() -> None:
    assert sample_ratio_check([1100, 900], [1, 1]).flagged  # 55/45 declared 50/50
    assert not sample_ratio_check([1010, 990], [1, 1]).flagged
    assert not sample_ratio_check([667, 1333], [1, 2]).flagged  # 1:2 as declared
    assert sample_ratio_check([1000, 1000], [1, 2]).flagged
    assert not sample_ratio_check([0, 0], [1, 1]).flagged


def test_a_lossy_exposure_log_is_caught_by_the_sample_ratio_check() -> None:
    spec = ab_spec(1)
    broken = synthetic_table(spec, Population(users=10_000), 1, lose_control=0.18)
    analysis = analyse(broken, "A", [1, 1])
    assert analysis.srm.flagged and analysis.srm.p_value < 1e-6
    fine = analyse(synthetic_table(spec, Population(users=10_000), 1), "A", [1, 1])
    assert not fine.srm.flagged


def test_predicted_power_is_alpha_at_no_effect_and_grows_with_it() -> None:
    assert predicted_power(0.0, 1.0) == pytest.approx(0.05)
    assert predicted_power(2.8, 1.0) == pytest.approx(0.8, abs=0.002)


def test_small_a_a_batch_rejects_about_alpha() -> None:
    # Fixed seeds: 250 A/A experiments of 400 users; the share rejected at 0.05 must sit in a
    # binomial band around 5% (2.9 standard errors wide on each side).
    population = Population(users=400)
    rejections = 0
    for run in range(250):
        spec = ab_spec(run)
        table = synthetic_table(spec, population, run)
        rejections += (
            analyse(table, "A", [1, 1], metrics=("ctr",)).comparison("ctr", "B").significant
        )
    assert 0.01 <= rejections / 250 <= 0.09


def test_segments_get_their_own_analysis() -> None:
    spec = ab_spec(5)
    table = synthetic_table(spec, Population(users=400), 5)
    members = {u: (["even"] if n % 2 == 0 else ["odd"]) for n, u in enumerate(table.user_ids)}
    members[table.user_ids[0]] = ["even", "first"]
    by_segment = analyse_segments(table, members, "A", [1, 1])
    assert sorted(by_segment) == ["even", "first", "odd"]
    assert by_segment["even"].users + by_segment["odd"].users == len(table)
    assert by_segment["first"].users == 1
