"""An experiment's life (create, start, ramp, stop) and its report, over the store. What the
API, the CLI and the serving path call; no HTTP here."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from launchpoint.errors import Conflict, InvalidInput
from launchpoint.experiments.analysis import Analysis, analyse, analyse_segments
from launchpoint.experiments.assignment import Resolution, overlaps, resolve_variant
from launchpoint.experiments.attribution import Exposure, Outcome, attribute
from launchpoint.experiments.guardrails import GuardrailAlert, evaluate_guardrails, stop_reason
from launchpoint.experiments.metrics import build_user_table
from launchpoint.experiments.spec import (
    Experiment,
    ExperimentSpec,
    ExperimentStatus,
    HoldoutSpec,
    RolloutStep,
)
from launchpoint.storage.experiments import ExperimentStore

if TYPE_CHECKING:
    from launchpoint.ranking.state import WorkspaceState

Memberships = Callable[[Sequence[str]], Mapping[str, Sequence[str]]]


@dataclass(frozen=True)
class ServingExperiments:
    """The running experiments and the holdout, as one request needs them."""

    experiments: tuple[Experiment, ...] = ()
    holdout: HoldoutSpec = field(default_factory=HoldoutSpec)

    def resolve(self, user_id: str, surface: str) -> Resolution:
        return resolve_variant(self.experiments, user_id, surface, self.holdout)


@dataclass(frozen=True)
class ExperimentReport:
    experiment: Experiment
    analysis: Analysis
    guardrails: list[GuardrailAlert]
    attributed: dict[str, int]  # outcomes per attribution rule
    generated_at: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN (an undefined figure) becomes null."""
        out: dict[str, Any] = _json_safe(
            {
                "experiment": self.experiment.model_dump(),
                "generated_at": self.generated_at,
                "users": self.analysis.users,
                "srm": asdict(self.analysis.srm),
                "variants": [_variant(v) for v in self.analysis.variants],
                "comparisons": [asdict(c) for c in self.analysis.comparisons],
                "segments": {
                    name: {
                        "users": seg.users,
                        "srm": asdict(seg.srm),
                        "variants": [_variant(v) for v in seg.variants],
                        "comparisons": [asdict(c) for c in seg.comparisons],
                    }
                    for name, seg in self.analysis.segments.items()
                },
                "guardrails": [asdict(a) for a in self.guardrails],
                "attributed": self.attributed,
            }
        )
        return out


def _variant(summary: Any) -> dict[str, Any]:
    return {
        "variant": summary.variant,
        "users": summary.users,
        "pages": summary.pages,
        "impressions": summary.impressions,
        "metrics": {m: {"value": e.value, "se": e.se} for m, e in summary.metrics.items()},
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def memberships_from_state(state: WorkspaceState) -> Memberships:
    """Segment memberships as they are in a serving state, for the per-segment breakdown."""

    def lookup(user_ids: Sequence[str]) -> dict[str, list[str]]:
        found = [(u, state.user_index[u]) for u in user_ids if u in state.user_index]
        rows = np.asarray([i for _, i in found], dtype=np.intp)
        out: dict[str, list[str]] = {u: [] for u, _ in found}
        for segment in state.segments:
            member = segment.members[rows] if len(rows) else np.zeros(0, dtype=bool)
            for (user, _), inside in zip(found, member.tolist(), strict=True):
                if inside:
                    out[user].append(segment.spec.id)
        return out

    return lookup


class ExperimentService:
    def __init__(
        self,
        store: ExperimentStore,
        memberships: Memberships | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.memberships = memberships
        self.clock = clock

    # -- reading -------------------------------------------------------------------------
    def get(self, experiment_id: str) -> Experiment:
        row = self.store.get(experiment_id)
        return _experiment(row)

    def all(self, status: ExperimentStatus | None = None) -> list[Experiment]:
        return [_experiment(row) for row in self.store.all(status)]

    def holdout(self) -> HoldoutSpec:
        stored = self.store.holdout()
        return HoldoutSpec.model_validate(stored) if stored else HoldoutSpec()

    def serving(self) -> ServingExperiments:
        return ServingExperiments(tuple(self.all("running")), self.holdout())

    # -- life ----------------------------------------------------------------------------
    def create(self, spec: ExperimentSpec) -> Experiment:
        experiment = Experiment(spec=spec, status="draft")
        created = self.store.create(spec.id, "draft", experiment.model_dump())
        return experiment.model_copy(update={"created_at": created})

    def start(self, experiment_id: str) -> Experiment:
        experiment = self.get(experiment_id)
        if experiment.status != "draft":
            raise Conflict(
                f"experiment {experiment_id!r} is {experiment.status}; only a draft can start "
                "(a stopped experiment stays stopped: create a new one to run again)"
            )
        clash = overlaps(experiment.spec, self.all("running"))
        if clash:
            raise Conflict(
                f"experiment {experiment_id!r} could share users with running experiment(s) "
                f"{clash} on surface {experiment.spec.surface!r}: put them in one namespace "
                "with disjoint buckets, or stop them first"
            )
        now = self.clock()
        step = RolloutStep(at=now, coverage=experiment.spec.coverage, note="start")
        return self._save(
            experiment.model_copy(
                update={"status": "running", "started_at": now, "rollout": [step]}
            )
        )

    def ramp(self, experiment_id: str, coverage: float, note: str = "") -> Experiment:
        """Raise a running experiment's coverage. Guardrails are checked first: a breached
        one stops the experiment instead, and the ramp is refused."""
        if not 0 <= coverage <= 1:
            raise InvalidInput(f"coverage must be between 0 and 1, got {coverage}")
        experiment = self.get(experiment_id)
        if experiment.status != "running":
            raise Conflict(f"experiment {experiment_id!r} is {experiment.status}; start it first")
        if coverage < experiment.spec.coverage:
            raise Conflict(
                f"coverage can only go up while an experiment runs ({experiment.spec.coverage} "
                f"now, {coverage} asked): lowering it would drop users mid-experiment; stop it"
            )
        report = self.check(experiment_id)
        if report.experiment.status == "stopped":
            raise Conflict(
                f"experiment {experiment_id!r} was stopped instead of ramped: "
                f"{report.experiment.stop_reason}"
            )
        spec = experiment.spec.model_copy(update={"coverage": coverage})
        step = RolloutStep(at=self.clock(), coverage=coverage, note=note)
        return self._save(
            experiment.model_copy(update={"spec": spec, "rollout": [*experiment.rollout, step]})
        )

    def stop(self, experiment_id: str, reason: str = "") -> Experiment:
        experiment = self.get(experiment_id)
        if experiment.status == "stopped":
            raise Conflict(f"experiment {experiment_id!r} is already stopped")
        return self._save(
            experiment.model_copy(
                update={
                    "status": "stopped",
                    "stopped_at": self.clock(),
                    "stop_reason": reason or "stopped by hand",
                }
            )
        )

    def set_holdout(self, holdout: HoldoutSpec) -> HoldoutSpec:
        self.store.save_holdout(holdout.model_dump())
        return holdout

    def _save(self, experiment: Experiment) -> Experiment:
        self.store.save(experiment.id, experiment.status, experiment.model_dump())
        return experiment

    # -- measuring -----------------------------------------------------------------------
    def report(self, experiment_id: str, *, by_segment: bool = True) -> ExperimentReport:
        """Everything the experiment's exposures and their attributed outcomes show, as of
        now. Reads only."""
        experiment = self.get(experiment_id)
        spec = experiment.spec
        exposures = [Exposure.from_row(row) for row in self.store.exposures(experiment_id)]
        since = min((e.created_at for e in exposures), default=None)
        until = max((e.created_at for e in exposures), default=0.0) + spec.window_seconds
        rows = self.store.exposed_events(experiment_id, since, until) if exposures else []
        attributed = attribute(exposures, (Outcome.from_row(r) for r in rows), spec.window_seconds)
        shown = {item for e in exposures for item in e.items}
        categories = self.store.item_categories(sorted(shown))
        table = build_user_table(exposures, attributed, spec.variant_ids, spec.events, categories)
        weights = [v.weight for v in spec.variants]
        analysis = analyse(table, spec.control, weights, alpha=spec.alpha, tau=spec.sequential_tau)
        if by_segment and self.memberships is not None and len(table):
            segments = analyse_segments(
                table, self.memberships(table.user_ids), spec.control, weights,
                alpha=spec.alpha, tau=spec.sequential_tau,
            )  # fmt: skip
            analysis = Analysis(
                analysis.users, analysis.variants, analysis.comparisons, analysis.srm, segments
            )
        rules: dict[str, int] = {}
        for a in attributed:
            rules[a.rule] = rules.get(a.rule, 0) + 1
        alerts = evaluate_guardrails(spec, analysis)
        return ExperimentReport(experiment, analysis, alerts, rules, self.clock())

    def check(self, experiment_id: str) -> ExperimentReport:
        """The report, and a running experiment stopped when a stopping guardrail is breached
        (the reason recorded)."""
        report = self.report(experiment_id, by_segment=False)
        reason = stop_reason(report.guardrails)
        if reason is None or report.experiment.status != "running":
            return report
        stopped = self.stop(experiment_id, reason)
        return ExperimentReport(
            stopped, report.analysis, report.guardrails, report.attributed, report.generated_at
        )


def _experiment(row: Mapping[str, Any]) -> Experiment:
    experiment = Experiment.model_validate(row["definition"])
    return experiment.model_copy(update={"status": row["status"], "created_at": row["created_at"]})
