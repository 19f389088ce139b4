"""Who sees which variant: deterministic, sticky hashing of (seed, user id).

Three independent hash streams decide it, so no knob moves a user it should not:

- ``bucket``: hash(namespace, user) picks one of ``NAMESPACE_BUCKETS`` buckets. Experiments in
  one namespace take disjoint bucket ranges, so they never share a user.
- ``coverage``: hash(seed, user) in [0, 1); the user takes part while it is below the
  experiment's coverage. Raising coverage (5% -> 50% -> 100%) only adds users.
- ``variant``: hash(seed, user) in [0, 1), placed on the cumulative allocation weights. It does
  not depend on coverage, so a user keeps their variant through every ramp.

The hash is BLAKE2b (stable across processes and Python versions, unlike ``hash()``). The
values these functions give must never change: tests/experiments/golden_assignment.json pins
them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from launchpoint.experiments.spec import NAMESPACE_BUCKETS, Experiment, ExperimentSpec, HoldoutSpec

_SEP = "\x1f"  # cannot appear in a seed, a namespace or a stream name
_SCALE = float(2**64)


def unit_hash(stream: str, salt: str, user_id: str) -> float:
    """A uniform number in [0, 1) that depends only on its three arguments."""
    key = f"{stream}{_SEP}{salt}{_SEP}{user_id}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def namespace_bucket(namespace: str, user_id: str) -> int:
    return min(
        int(unit_hash("bucket", namespace, user_id) * NAMESPACE_BUCKETS), NAMESPACE_BUCKETS - 1
    )


def in_holdout(holdout: HoldoutSpec | None, user_id: str) -> bool:
    if holdout is None or holdout.share <= 0:
        return False
    return unit_hash("holdout", holdout.seed, user_id) < holdout.share


def pick_variant(spec: ExperimentSpec, user_id: str) -> str:
    """The variant a user gets whenever they take part, whatever the coverage."""
    u = unit_hash("variant", spec.seed, user_id)
    total = sum(v.weight for v in spec.variants)
    edge = 0.0
    for v in spec.variants:
        edge += v.weight / total
        if u < edge:
            return v.id
    return spec.variants[-1].id  # u within rounding of 1.0


def assign(spec: ExperimentSpec, user_id: str, coverage: float | None = None) -> str | None:
    """The user's variant, or None when the user is outside the experiment's buckets or its
    coverage. ``coverage`` overrides the spec's (to ask what a ramp would do)."""
    start, end = spec.buckets
    if not start <= namespace_bucket(spec.namespace, user_id) < end:
        return None
    share = spec.coverage if coverage is None else coverage
    if unit_hash("coverage", spec.seed, user_id) >= share:
        return None
    return pick_variant(spec, user_id)


@dataclass(frozen=True)
class Resolution:
    """What one request should serve. ``kind``: ``holdout`` (the global holdout: the
    non-personalised experience, no experiment), ``experiment`` (a variant's overrides), or
    ``default`` (the surface as configured)."""

    kind: Literal["holdout", "experiment", "default"]
    experiment_id: str | None = None
    variant_id: str | None = None
    overrides: Mapping[str, object] = field(default_factory=dict)

    @property
    def personalised(self) -> bool:
        return self.kind != "holdout" and self.overrides.get("personalisation", True) is not False

    @property
    def exposure_variant(self) -> str | None:
        """The value for the exposure log's ``variant`` column."""
        return "holdout" if self.kind == "holdout" else self.variant_id


DEFAULT = Resolution("default")
HOLDOUT = Resolution("holdout", overrides={"personalisation": False})


def resolve_variant(
    experiments: Iterable[Experiment],
    user_id: str,
    surface: str,
    holdout: HoldoutSpec | None = None,
) -> Resolution:
    """What the ribbons pipeline serves this user on this surface: the holdout first, then the
    first running experiment on the surface that takes the user. Running experiments on one
    surface never overlap (``overlaps`` is checked when one starts), so at most one does."""
    if in_holdout(holdout, user_id):
        return HOLDOUT
    for experiment in experiments:
        spec = experiment.spec
        if experiment.status != "running" or spec.surface != surface:
            continue
        variant = assign(spec, user_id)
        if variant is not None:
            return Resolution("experiment", spec.id, variant, spec.variant(variant).overrides)
    return DEFAULT


def overlaps(candidate: ExperimentSpec, running: Iterable[Experiment]) -> list[str]:
    """Running experiments on the candidate's surface that could share a user with it: those in
    another namespace, or in the same one with an overlapping bucket range."""
    found = []
    for other in running:
        spec = other.spec
        if (
            other.status != "running"
            or spec.id == candidate.id
            or spec.surface != candidate.surface
        ):
            continue
        if spec.namespace != candidate.namespace:
            found.append(spec.id)
            continue
        (a, b), (c, d) = candidate.buckets, spec.buckets
        if a < d and c < b:
            found.append(spec.id)
    return found
