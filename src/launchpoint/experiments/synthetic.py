"""Synthetic experiments for checking the statistics: users assigned by the real assignment
code, with Poisson page views and Binomial clicks around a per-user propensity, and an
optional true effect. A/A batches (no effect) measure the false-positive rate, A/B batches
the power, and a lossy exposure log (a share of one arm's users never logged) a broken split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from launchpoint.experiments.analysis import Analysis, analyse, predicted_power
from launchpoint.experiments.assignment import assign
from launchpoint.experiments.metrics import UserTable, table_from_arrays
from launchpoint.experiments.spec import ExperimentSpec, VariantSpec

CARDS_PER_PAGE = 10


@dataclass(frozen=True)
class Population:
    """How synthetic users behave: mean pages per user, and a Beta(a, b) click propensity per
    user (mean a / (a + b)), which makes clicks over-dispersed as real ones are."""

    users: int = 2000
    mean_pages: float = 3.0
    propensity_a: float = 2.0
    propensity_b: float = 38.0
    conversion_rate: float = 0.2  # per click
    negative_rate: float = 0.01  # per card


def ab_spec(run: int, weights: tuple[float, float] = (1.0, 1.0)) -> ExperimentSpec:
    return ExperimentSpec(
        id=f"synthetic-{run}",
        variants=[VariantSpec(id="A", weight=weights[0]), VariantSpec(id="B", weight=weights[1])],
    )


def synthetic_table(
    spec: ExperimentSpec,
    population: Population,
    seed: int,
    *,
    lift: float = 0.0,
    lose_control: float = 0.0,
) -> UserTable:
    """One experiment's users. Every non-control variant's click propensity is multiplied by
    ``1 + lift``; ``lose_control`` is the share of control users whose exposures were never
    logged (they vanish from the analysis, as with a logging bug)."""
    rng = np.random.default_rng([seed, 11])
    ids = [f"{spec.seed}-user-{n}" for n in range(population.users)]
    variant_ids = spec.variant_ids
    control = variant_ids.index(spec.control)
    variant = np.asarray([variant_ids.index(assign(spec, u) or spec.control) for u in ids])
    if lose_control > 0:
        lost = (variant == control) & (rng.random(len(ids)) < lose_control)
        variant = variant[~lost]
    n = len(variant)
    pages = 1 + rng.poisson(population.mean_pages - 1, n)
    impressions = pages * CARDS_PER_PAGE
    propensity = rng.beta(population.propensity_a, population.propensity_b, n)
    propensity = np.where(variant != control, propensity * (1 + lift), propensity)
    clicks = rng.binomial(impressions, np.clip(propensity, 0, 1))
    conversions = rng.binomial(clicks, population.conversion_rate)
    negative = rng.binomial(impressions, population.negative_rate)
    categories = pages * (3 + rng.binomial(4, 0.5, n))
    return table_from_arrays(
        variant_ids,
        variant.astype(np.int64),
        {
            "pages": pages,
            "impressions": impressions,
            "clicks": clicks,
            "conversions": conversions,
            "engagement": clicks + conversions,
            "negative": negative,
            "opted_out": rng.random(n) < 0.005,
            "categories_shown": categories,
        },
    )


def run_batch(
    runs: int,
    population: Population,
    *,
    lift: float = 0.0,
    lose_control: float = 0.0,
    first_seed: int = 0,
    metrics: tuple[str, ...] = ("ctr",),
    progress: Callable[[int], None] | None = None,
) -> list[Analysis]:
    """``runs`` independent experiments, each with its own assignment seed and outcomes."""
    out = []
    for run in range(first_seed, first_seed + runs):
        spec = ab_spec(run)
        table = synthetic_table(spec, population, run, lift=lift, lose_control=lose_control)
        out.append(analyse(table, spec.control, [1.0, 1.0], metrics=metrics))
        if progress is not None:
            progress(run - first_seed + 1)
    return out


def pilot_se(
    population: Population, *, lift: float = 0.0, pilot_users: int = 200_000, seed: int = 10**6
) -> float:
    """The standard error of the CTR difference at ``population.users`` users when the true
    lift is ``lift``, scaled from one large pilot (the delta-method variance falls as 1/n).
    The treatment arm's variance grows with its effect, so the pilot carries the effect too."""
    big = Population(**{**population.__dict__, "users": pilot_users})
    spec = ab_spec(seed)
    table = synthetic_table(spec, big, seed, lift=lift)
    analysis = analyse(table, spec.control, [1, 1], metrics=("ctr",))
    se = analysis.comparison("ctr", "B").difference_se
    return float(se * np.sqrt(pilot_users / population.users))


def base_ctr(population: Population) -> float:
    """The control's true CTR: the mean click propensity (clicks and cards are independent)."""
    return population.propensity_a / (population.propensity_a + population.propensity_b)


def predicted_ctr_power(population: Population, lift: float, alpha: float = 0.05) -> float:
    """The power the design predicts for a true relative CTR lift: the true difference over
    the standard error a pilot of the same design measures."""
    effect = base_ctr(population) * lift
    return predicted_power(effect, pilot_se(population, lift=lift), alpha)


def lift_for_power(population: Population, power: float = 0.8, alpha: float = 0.05) -> float:
    """The relative CTR lift the z-test detects with probability ``power`` (a few fixed-point
    steps, since the standard error grows with the lift)."""
    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    lift = 0.0
    for _ in range(3):
        lift = z * pilot_se(population, lift=lift) / base_ctr(population)
    return lift
