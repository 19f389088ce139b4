"""The experiments routes, on an app that includes the router (as the lead will wire it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from launchpoint.api import create_app
from launchpoint.api.routes.experiments import router
from launchpoint.engine import Launchpoint
from launchpoint.experiments.spec import ExperimentSpec
from tests.experiments.helpers import run_traffic

SPEC: dict[str, Any] = {
    "id": "ranker",
    "surface": "home",
    "coverage": 0.05,
    "variants": [{"id": "control"}, {"id": "blend", "overrides": {"blend_weights": {"pop": 0.2}}}],
    "guardrails": [{"metric": "negative_feedback", "max_change": 0.2}],
}


@pytest.fixture
def api(launchpoint: Launchpoint) -> Iterator[TestClient]:
    app = create_app(launchpoint.settings, launchpoint=launchpoint)
    if not any(getattr(r, "path", "").startswith("/v1/experiments") for r in app.routes):
        app.include_router(router)
    with TestClient(app) as client:
        yield client


def test_life_of_an_experiment_over_http(api: TestClient) -> None:
    created = api.post("/v1/experiments", json=SPEC)
    assert created.status_code == 201, created.text
    assert (created.json()["id"], created.json()["status"]) == ("ranker", "draft")
    assert api.post("/v1/experiments", json=SPEC).status_code == 409
    started = api.post("/v1/experiments/ranker/start").json()
    assert started["status"] == "running" and started["rollout"][0]["coverage"] == 0.05
    ramped = api.post("/v1/experiments/ranker/ramp", json={"coverage": 0.5, "note": "beta ok"})
    assert ramped.status_code == 200 and ramped.json()["spec"]["coverage"] == 0.5
    lowered = api.post("/v1/experiments/ranker/ramp", json={"coverage": 0.1})
    assert lowered.status_code == 409 and "only go up" in lowered.json()["error"]["message"]
    listed = api.get("/v1/experiments", params={"status": "running"}).json()["experiments"]
    assert [e["id"] for e in listed] == ["ranker"]
    assert api.get("/v1/experiments/ranker").json()["spec"]["variants"][1]["id"] == "blend"
    stopped = api.post("/v1/experiments/ranker/stop", json={"reason": "done"}).json()
    assert (stopped["status"], stopped["stop_reason"]) == ("stopped", "done")
    assert api.get("/v1/experiments/nope").status_code == 404


def test_invalid_experiments_get_the_error_envelope(api: TestClient) -> None:
    bad = {**SPEC, "variants": [{"id": "a", "overrides": {"colour": "red"}}, {"id": "b"}]}
    response = api.post("/v1/experiments", json=bad)
    assert response.status_code == 422
    assert "'colour'" in response.text and "layers" in response.text
    assert "error" in response.json()


def test_holdout_and_assignment_lookup(api: TestClient) -> None:
    assert api.get("/v1/experiments/holdout").json() == {"share": 0.0, "seed": "holdout"}
    assert api.put("/v1/experiments/holdout", json={"share": 0.6}).status_code == 422
    assert api.put("/v1/experiments/holdout", json={"share": 0.1}).json()["share"] == 0.1
    api.post("/v1/experiments", json={**SPEC, "coverage": 1.0})
    answer = api.get("/v1/experiments/ranker/assignments/some/user").json()
    assert answer["user_id"] == "some/user" and answer["served"] is False  # a draft
    assert answer["variant"] in ("control", "blend") or answer["holdout"]


def test_report_in_three_formats(api: TestClient, launchpoint: Launchpoint) -> None:
    api.post("/v1/experiments", json={**SPEC, "coverage": 1.0})
    api.post("/v1/experiments/ranker/start")
    run_traffic(
        launchpoint.workspace(), ExperimentSpec.model_validate({**SPEC, "coverage": 1.0}), 200
    )
    report = api.get("/v1/experiments/ranker/report").json()
    assert report["users"] == 200 and report["srm"]["flagged"] is False
    assert {c["metric"] for c in report["comparisons"]} >= {"ctr", "diversity", "opt_out"}
    markdown = api.get("/v1/experiments/ranker/report", params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "## Lift against the control" in markdown.text
    html = api.get("/v1/experiments/ranker/report", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "data:image/png;base64," in html.text
    checked = api.post("/v1/experiments/ranker/check").json()
    assert checked["experiment"]["status"] == "running"
