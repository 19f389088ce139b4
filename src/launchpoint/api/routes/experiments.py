from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from launchpoint.api.deps import Workspace
from launchpoint.engine import WorkspaceEngine
from launchpoint.experiments.assignment import assign, in_holdout
from launchpoint.experiments.report import render_html, render_markdown
from launchpoint.experiments.service import ExperimentService, memberships_from_state
from launchpoint.experiments.spec import Experiment, ExperimentSpec, ExperimentStatus, HoldoutSpec
from launchpoint.storage.experiments import ExperimentStore

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])


class RampRequest(BaseModel):
    coverage: float = Field(..., ge=0, le=1, description="New share of eligible users, 0..1.")
    note: str = Field("", max_length=512)


class StopRequest(BaseModel):
    reason: str = Field("", max_length=1024)


def experiment_service(ws: WorkspaceEngine) -> ExperimentService:
    """The workspace's experiments; segment memberships are read (from the serving state)
    only when a report asks for them."""

    def memberships(user_ids: Sequence[str]) -> Any:
        return memberships_from_state(ws.state())(user_ids)

    return ExperimentService(ExperimentStore(ws.store.db, ws.workspace_id), memberships)


def public(experiment: Experiment) -> dict[str, Any]:
    return {"id": experiment.id, **experiment.model_dump()}


@router.post("", status_code=201, summary="Create an experiment (a draft)")
def create_experiment(spec: ExperimentSpec, ws: Workspace) -> dict[str, Any]:
    return public(experiment_service(ws).create(spec))


@router.get("", summary="All experiments, oldest first")
def list_experiments(
    ws: Workspace,
    status: Annotated[ExperimentStatus | None, Query(description="Only this status.")] = None,
) -> dict[str, Any]:
    return {"experiments": [public(e) for e in experiment_service(ws).all(status)]}


@router.get("/holdout", summary="The workspace's global holdout")
def get_holdout(ws: Workspace) -> dict[str, Any]:
    return experiment_service(ws).holdout().model_dump()


@router.put("/holdout", summary="Set the global holdout's share (non-personalised experience)")
def put_holdout(holdout: HoldoutSpec, ws: Workspace) -> dict[str, Any]:
    return experiment_service(ws).set_holdout(holdout).model_dump()


@router.get("/{experiment_id}", summary="One experiment: its spec, status and rollout")
def get_experiment(experiment_id: str, ws: Workspace) -> dict[str, Any]:
    return public(experiment_service(ws).get(experiment_id))


@router.post("/{experiment_id}/start", summary="Start a draft experiment")
def start_experiment(experiment_id: str, ws: Workspace) -> dict[str, Any]:
    return public(experiment_service(ws).start(experiment_id))


@router.post(
    "/{experiment_id}/ramp",
    summary="Raise a running experiment's coverage (guardrails are checked first)",
)
def ramp_experiment(
    experiment_id: str, ws: Workspace, body: RampRequest = Body(...)
) -> dict[str, Any]:
    return public(experiment_service(ws).ramp(experiment_id, body.coverage, body.note))


@router.post("/{experiment_id}/stop", summary="Stop an experiment, with a reason")
def stop_experiment(
    experiment_id: str, ws: Workspace, body: StopRequest | None = Body(None)
) -> dict[str, Any]:
    reason = body.reason if body is not None else ""
    return public(experiment_service(ws).stop(experiment_id, reason))


@router.post(
    "/{experiment_id}/check",
    summary="Evaluate guardrails now; a breached stopping guardrail stops the experiment",
)
def check_experiment(experiment_id: str, ws: Workspace) -> dict[str, Any]:
    return experiment_service(ws).check(experiment_id).as_dict()


@router.get(
    "/{experiment_id}/report",
    summary="Metrics per variant and segment, lifts with intervals, SRM and guardrails",
    response_model=None,
)
def experiment_report(
    experiment_id: str,
    ws: Workspace,
    format: Annotated[
        Literal["json", "markdown", "html"], Query(description="json, markdown or html.")
    ] = "json",
    segments: Annotated[bool, Query(description="Break the figures down by segment.")] = True,
) -> dict[str, Any] | Response:
    report = experiment_service(ws).report(experiment_id, by_segment=segments)
    if format == "markdown":
        return PlainTextResponse(render_markdown(report), media_type="text/markdown")
    if format == "html":
        return HTMLResponse(render_html(report))
    return report.as_dict()


@router.get(
    "/{experiment_id}/assignments/{user_id:path}",
    summary="Which variant a user gets in this experiment, and why (holdout, coverage)",
)
def get_assignment(experiment_id: str, user_id: str, ws: Workspace) -> dict[str, Any]:
    service = experiment_service(ws)
    experiment = service.get(experiment_id)
    held_out = in_holdout(service.holdout(), user_id)
    variant = None if held_out else assign(experiment.spec, user_id)
    return {
        "experiment_id": experiment_id,
        "user_id": user_id,
        "status": experiment.status,
        "holdout": held_out,
        "variant": variant,
        "served": variant is not None and experiment.status == "running",
    }
