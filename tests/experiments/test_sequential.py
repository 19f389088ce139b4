"""Always-valid inference: valid under continuous peeking, where the fixed-horizon test is not."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from launchpoint.experiments.sequential import (
    always_valid_p,
    confidence_sequence,
    mixture_likelihood_ratio,
    running_p,
)


@given(
    estimate=st.floats(-5, 5),
    variance=st.floats(1e-4, 4),
    tau=st.floats(0.01, 3),
    alpha=st.floats(0.001, 0.2),
)
def test_the_confidence_sequence_is_the_set_the_test_does_not_reject(
    estimate: float, variance: float, tau: float, alpha: float
) -> None:
    cs = confidence_sequence(estimate, variance, tau, alpha)
    p = always_valid_p(estimate, variance, tau)
    if abs(p - alpha) > 1e-9:
        assert (cs.low <= 0 <= cs.high) == (p > alpha)
    fixed = 1.959964 * math.sqrt(variance)
    assert cs.radius >= fixed or alpha > 0.05


def test_the_ratio_is_one_without_information_and_grows_with_evidence() -> None:
    assert mixture_likelihood_ratio(1.0, 0.0, 1.0) == 1.0
    assert mixture_likelihood_ratio(3.0, 0.01, 1.0) > mixture_likelihood_ratio(0.3, 0.01, 1.0)
    assert math.isinf(mixture_likelihood_ratio(100.0, 1e-6, 1.0))
    assert running_p([(0.0, 1.0), (3.0, 0.01), (0.0, 0.01)], 1.0) < 0.001


def test_peeking_at_an_a_a_batch_keeps_the_error_rate_for_the_always_valid_test() -> None:
    # 400 A/A experiments, each looked at after every 100 users per arm, 20 looks.
    rng = np.random.default_rng(2024)
    runs, looks, step = 400, 20, 100
    always = fixed = 0
    for _ in range(runs):
        a = rng.binomial(1, 0.1, looks * step).astype(float)
        b = rng.binomial(1, 0.1, looks * step).astype(float)
        rejected_always = rejected_fixed = False
        for k in range(1, looks + 1):
            n = k * step
            diff = b[:n].mean() - a[:n].mean()
            var = (a[:n].var(ddof=1) + b[:n].var(ddof=1)) / n
            rejected_always |= always_valid_p(diff, var, tau=0.02) < 0.05
            rejected_fixed |= abs(diff) / math.sqrt(var) > 1.959964
        always += rejected_always
        fixed += rejected_fixed
    assert always / runs <= 0.06  # valid: at most alpha, up to sampling noise
    assert fixed / runs > 0.12  # peeking at the fixed-horizon test inflates it well past 5%
