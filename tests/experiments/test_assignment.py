"""Assignment: pinned by golden cases, sticky through ramps, exclusive within a namespace."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from launchpoint.experiments.assignment import (
    assign,
    in_holdout,
    namespace_bucket,
    overlaps,
    resolve_variant,
    unit_hash,
)
from launchpoint.experiments.spec import Experiment, ExperimentSpec, HoldoutSpec, VariantSpec

GOLDEN = json.loads((Path(__file__).parent / "golden_assignment.json").read_text())
user_ids = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), min_size=1, max_size=40)
seeds = st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=20)


def _spec(**changes: object) -> ExperimentSpec:
    base: dict[str, object] = {"id": "exp", "variants": [{"id": "a"}, {"id": "b"}]}
    return ExperimentSpec.model_validate({**base, **changes})


def test_golden_assignments_never_change() -> None:
    for case in GOLDEN["experiments"]:
        spec = ExperimentSpec.model_validate(case["experiment"])
        got = {user: assign(spec, user) for user in case["assignments"]}
        assert got == case["assignments"], spec.id


def test_golden_holdout_hashes_and_buckets_never_change() -> None:
    holdout = HoldoutSpec.model_validate(GOLDEN["holdout"]["spec"])
    users = GOLDEN["experiments"][0]["assignments"]
    assert sorted(u for u in users if in_holdout(holdout, u)) == GOLDEN["holdout"]["held_out"]
    for case in GOLDEN["unit_hash"]:
        assert unit_hash(case["stream"], case["salt"], case["user"]) == case["value"]
    for user, bucket in GOLDEN["namespace_bucket"].items():
        assert namespace_bucket("home-layout", user) == bucket


@given(
    seed=seeds,
    user=user_ids,
    low=st.floats(0, 1),
    high=st.floats(0, 1),
    weights=st.lists(st.floats(0.1, 10), min_size=2, max_size=4),
)
def test_raising_coverage_never_moves_an_assigned_user(
    seed: str, user: str, low: float, high: float, weights: list[float]
) -> None:
    low, high = min(low, high), max(low, high)
    spec = _spec(seed=seed, variants=[{"id": f"v{n}", "weight": w} for n, w in enumerate(weights)])
    before = assign(spec, user, coverage=low)
    after = assign(spec, user, coverage=high)
    if before is not None:
        assert after == before
    assert assign(spec, user, coverage=0.0) is None
    assert assign(spec, user, coverage=1.0) is not None


def test_rollout_5_50_100_keeps_everyone_in_with_their_variant() -> None:
    spec = _spec(seed="ramp")
    users = [f"user-{n}" for n in range(5000)]
    stages = [{u: assign(spec, u, coverage=c) for u in users} for c in (0.05, 0.5, 1.0)]
    for earlier, later in itertools.pairwise(stages):
        assert all(later[u] == v for u, v in earlier.items() if v is not None)
    shares = [sum(v is not None for v in stage.values()) / len(users) for stage in stages]
    assert abs(shares[0] - 0.05) < 0.01 and abs(shares[1] - 0.5) < 0.03 and shares[2] == 1.0


def test_realised_shares_follow_the_weights() -> None:
    spec = _spec(variants=[{"id": "a", "weight": 1}, {"id": "b", "weight": 2}, {"id": "c"}])
    got = [assign(spec, f"u{n}") for n in range(20_000)]
    for variant, share in (("a", 0.25), ("b", 0.5), ("c", 0.25)):
        assert abs(got.count(variant) / len(got) - share) < 0.015


@given(user=user_ids)
def test_one_namespace_never_shares_a_user(user: str) -> None:
    left = _spec(id="left", namespace="layout", buckets=(0, 400))
    right = _spec(id="right", namespace="layout", buckets=(400, 1000))
    assert (assign(left, user) is None) != (assign(right, user) is None)


@given(user=user_ids, low=st.floats(0, 0.5), high=st.floats(0, 0.5))
def test_raising_the_holdout_keeps_held_out_users_held_out(
    user: str, low: float, high: float
) -> None:
    low, high = min(low, high), max(low, high)
    if in_holdout(HoldoutSpec(share=low), user):
        assert in_holdout(HoldoutSpec(share=high), user)


def test_resolve_serves_the_holdout_first_then_a_running_experiment() -> None:
    spec = _spec(variants=[{"id": "a", "overrides": {"layers": 3}}, {"id": "b", "weight": 1e-9}])
    running = Experiment(spec=spec, status="running")
    held = next(u for u in (f"u{n}" for n in range(1000)) if in_holdout(HoldoutSpec(share=0.2), u))
    free = next(
        u for u in (f"u{n}" for n in range(1000)) if not in_holdout(HoldoutSpec(share=0.2), u)
    )
    holdout = HoldoutSpec(share=0.2)
    first = resolve_variant([running], held, "home", holdout)
    assert (first.kind, first.personalised, first.exposure_variant) == ("holdout", False, "holdout")
    served = resolve_variant([running], free, "home", holdout)
    assert (served.kind, served.experiment_id, served.variant_id) == ("experiment", "exp", "a")
    assert served.overrides == {"layers": 3} and served.personalised
    assert resolve_variant([running], free, "search", holdout).kind == "default"
    for status in ("draft", "stopped"):
        idle = Experiment(spec=spec, status=status)  # type: ignore[arg-type]
        assert resolve_variant([idle], free, "home").kind == "default"


def test_a_non_personalised_variant_says_so() -> None:
    spec = _spec(
        variants=[{"id": "a", "overrides": {"personalisation": False}}, {"id": "b", "weight": 1e-9}]
    )
    resolved = resolve_variant([Experiment(spec=spec, status="running")], "u1", "home")
    assert resolved.kind == "experiment" and not resolved.personalised


def test_overlaps_name_experiments_that_could_share_users() -> None:
    def running(**changes: object) -> Experiment:
        return Experiment(spec=_spec(**changes), status="running")

    candidate = _spec(id="new", namespace="ns", buckets=(0, 500))
    assert overlaps(candidate, [running(id="other")]) == ["other"]  # its own namespace
    assert overlaps(candidate, [running(id="o", namespace="ns", buckets=(500, 1000))]) == []
    assert overlaps(candidate, [running(id="o", namespace="ns", buckets=(499, 1000))]) == ["o"]
    assert overlaps(candidate, [running(id="o", surface="search")]) == []
    idle = Experiment(spec=_spec(id="idle"), status="draft")
    assert overlaps(candidate, [idle]) == []


def test_variant_spec_builds_with_defaults() -> None:
    assert VariantSpec(id="x").weight == 1.0
