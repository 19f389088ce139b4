"""An experiment's life over the store, guardrails that stop it, and its report."""

from __future__ import annotations

import pytest

from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.errors import Conflict, InvalidInput, NotFound
from launchpoint.experiments.report import render_html, render_markdown
from launchpoint.experiments.service import ExperimentService, memberships_from_state
from launchpoint.experiments.spec import ExperimentSpec, HoldoutSpec
from launchpoint.storage.experiments import ExperimentStore
from tests.experiments.helpers import run_traffic


def _service(ws: WorkspaceEngine, clock: list[float] | None = None) -> ExperimentService:
    ticks = clock if clock is not None else [1000.0]
    return ExperimentService(
        ExperimentStore(ws.store.db, ws.workspace_id),
        lambda users: memberships_from_state(ws.state())(users),
        clock=lambda: ticks[0],
    )


def _spec(**changes: object) -> ExperimentSpec:
    base: dict[str, object] = {
        "id": "ranker",
        "variants": [{"id": "control"}, {"id": "treatment", "overrides": {"layers": 3}}],
        "guardrails": [{"metric": "negative_feedback", "max_change": 0.1, "min_users": 50}],
    }
    return ExperimentSpec.model_validate({**base, **changes})


def test_life_of_an_experiment(workspace: WorkspaceEngine) -> None:
    clock = [1000.0]
    service = _service(workspace, clock)
    created = service.create(_spec(coverage=0.05))
    assert created.status == "draft" and service.get("ranker").status == "draft"
    with pytest.raises(Conflict, match="already exists"):
        service.create(_spec())
    with pytest.raises(Conflict, match="start it first"):
        service.ramp("ranker", 0.5)
    clock[0] = 2000.0
    started = service.start("ranker")
    assert (started.status, started.started_at) == ("running", 2000.0)
    assert [e.id for e in service.serving().experiments] == ["ranker"]
    with pytest.raises(Conflict, match="only a draft can start"):
        service.start("ranker")
    ramped = service.ramp("ranker", 0.5, note="beta went well")
    assert ramped.spec.coverage == 0.5
    assert [(s.coverage, s.note) for s in ramped.rollout] == [
        (0.05, "start"),
        (0.5, "beta went well"),
    ]
    with pytest.raises(Conflict, match="can only go up"):
        service.ramp("ranker", 0.2)
    with pytest.raises(InvalidInput):
        service.ramp("ranker", 2.0)
    stopped = service.stop("ranker", "enough data")
    assert (stopped.status, stopped.stop_reason) == ("stopped", "enough data")
    assert service.serving().experiments == ()
    with pytest.raises(Conflict, match="already stopped"):
        service.stop("ranker")
    with pytest.raises(NotFound):
        service.get("nope")


def test_experiments_that_could_share_users_cannot_run_together(workspace: WorkspaceEngine) -> None:
    service = _service(workspace)
    service.create(_spec(id="one"))
    service.create(_spec(id="two"))
    service.start("one")
    with pytest.raises(Conflict, match=r"running experiment\(s\) \['one'\]"):
        service.start("two")
    service.create(_spec(id="left", namespace="ns", buckets=(0, 500), surface="search"))
    service.create(_spec(id="right", namespace="ns", buckets=(500, 1000), surface="search"))
    service.start("left")
    assert service.start("right").status == "running"


def test_holdout_round_trips_and_serves_the_non_personalised_experience(
    workspace: WorkspaceEngine,
) -> None:
    service = _service(workspace)
    assert service.holdout() == HoldoutSpec()
    service.set_holdout(HoldoutSpec(share=0.5, seed="h"))
    serving = service.serving()
    assert serving.holdout.share == 0.5
    kinds = {serving.resolve(f"u{n}", "home").kind for n in range(50)}
    assert kinds == {"holdout", "default"}


def test_a_breached_guardrail_stops_the_experiment_instead_of_ramping(
    workspace: WorkspaceEngine,
) -> None:
    service = _service(workspace)
    spec = _spec(coverage=0.5)
    service.create(spec)
    service.start("ranker")
    run_traffic(workspace, spec, 2000, negative_in="treatment")
    report = service.report("ranker")
    alert = report.guardrails[0]
    assert alert.breached and alert.stop and alert.lift > 0.1
    assert service.get("ranker").status == "running"  # a report only reads
    with pytest.raises(Conflict, match="stopped instead of ramped"):
        service.ramp("ranker", 1.0)
    stopped = service.get("ranker")
    assert stopped.status == "stopped"
    assert stopped.stop_reason.startswith("guardrail negative_feedback: rose")


def test_report_figures_attribution_and_rendering(workspace: WorkspaceEngine) -> None:
    service = _service(workspace)
    spec = _spec()
    service.create(spec)
    service.start("ranker")
    run_traffic(workspace, spec, 300)
    report = service.check("ranker")
    assert report.experiment.status == "running"  # no guardrail breached
    assert not report.guardrails[0].breached
    assert report.analysis.users == 300
    assert report.attributed == {"recommendation_id": 300, "item_window": 15}
    ctr = report.analysis.comparison("ctr", "treatment")
    assert ctr.control_value == pytest.approx(0.25) and ctr.value == pytest.approx(0.25)
    variants = {v.variant: v for v in report.analysis.variants}
    assert variants["control"].metrics["diversity"].value == pytest.approx(3.0)
    data = report.as_dict()
    assert data["srm"]["flagged"] is False and data["comparisons"][0]["metric"] == "ctr"
    assert data["comparisons"][5]["lift"] is None  # opt-outs: none anywhere, lift undefined
    markdown = render_markdown(report)
    assert "| ctr | treatment |" in markdown and "Sample ratio: ok" in markdown
    html = render_html(report)
    assert html.count("data:image/png;base64,") == 2 and "<table>" in html


def test_the_scheduled_refresh_stops_a_breached_experiment(
    launchpoint: Launchpoint, workspace: WorkspaceEngine
) -> None:
    service = _service(workspace)
    spec = _spec(coverage=0.5)
    service.create(spec)
    service.start("ranker")
    run_traffic(workspace, spec, 2000, negative_in="treatment")
    assert service.get("ranker").status == "running"
    launchpoint.refresh()  # what a server runs every refresh_seconds
    stopped = service.get("ranker")
    assert stopped.status == "stopped"
    assert stopped.stop_reason.startswith("guardrail negative_feedback: rose")
