"""Always-valid inference, so a team may look at a running experiment as often as it likes.

The method is the mixture sequential probability ratio test (mSPRT) with a normal mixing
distribution: Robbins (1970), "Statistical methods related to the law of the iterated
logarithm"; in the form used for A/B tests by Johari, Koomen, Pekelis and Walsh (2017),
"Peeking at A/B Tests: Why it matters, and what to do about it" (KDD), and read as a
confidence sequence by Howard, Ramdas, McAuliffe and Sekhon (2021), "Time-uniform,
nonparametric, nonasymptotic confidence sequences" (Annals of Statistics), eq. (14).

For an estimate ``theta_hat`` that is approximately N(theta, V), with the effect under the
alternative drawn from N(0, tau^2), the mixture likelihood ratio against theta = 0 is

    Lambda = sqrt(V / (V + tau^2)) * exp(theta_hat^2 * tau^2 / (2 V (V + tau^2)))

Under the null, Lambda is a nonnegative martingale with mean 1 as the sample grows, so by
Ville's inequality P(Lambda ever reaches 1/alpha) <= alpha: the p-value min(1, 1/Lambda)
stays valid however many times it is read, and so does the interval it inverts to. With the
variance estimated from the data this holds asymptotically (as for the fixed-horizon z-test).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


def mixture_likelihood_ratio(estimate: float, variance: float, tau: float) -> float:
    """Lambda above; ``inf`` when it overflows (overwhelming evidence)."""
    if not (variance > 0 and math.isfinite(estimate)):
        return 1.0
    t2 = tau * tau
    exponent = estimate * estimate * t2 / (2.0 * variance * (variance + t2))
    log_ratio = 0.5 * math.log(variance / (variance + t2)) + exponent
    return math.exp(log_ratio) if log_ratio < 700 else math.inf


def always_valid_p(estimate: float, variance: float, tau: float) -> float:
    """The always-valid p-value at one look: min(1, 1/Lambda). Over a series of looks, the
    running minimum of these (``running_p``) is the sharper, still valid, p-value."""
    if not (variance > 0 and math.isfinite(estimate)):
        return math.nan
    return min(1.0, 1.0 / mixture_likelihood_ratio(estimate, variance, tau))


def running_p(looks: Iterable[tuple[float, float]], tau: float) -> float:
    """The always-valid p-value after a series of (estimate, variance) looks."""
    best = 1.0
    for estimate, variance in looks:
        p = always_valid_p(estimate, variance, tau)
        if math.isfinite(p):
            best = min(best, p)
    return best


@dataclass(frozen=True)
class ConfidenceSequence:
    low: float
    high: float
    radius: float


def confidence_sequence(
    estimate: float, variance: float, tau: float, alpha: float
) -> ConfidenceSequence:
    """The values of theta the mSPRT would not reject at level ``alpha``: the interval
    theta_hat +- sqrt((2 V (V + tau^2) / tau^2) * (log(1/alpha) + log((V + tau^2) / V) / 2)).
    It covers the true theta at every look at once with probability >= 1 - alpha."""
    if not (variance > 0 and math.isfinite(estimate)):
        return ConfidenceSequence(math.nan, math.nan, math.nan)
    t2 = tau * tau
    radius = math.sqrt(
        (2.0 * variance * (variance + t2) / t2)
        * (math.log(1.0 / alpha) + 0.5 * math.log((variance + t2) / variance))
    )
    return ConfidenceSequence(estimate - radius, estimate + radius, radius)
