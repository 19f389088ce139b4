"""``launchpoint experiments ...`` and ``launchpoint simulate``, on an app that registers them
as the root CLI will."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from launchpoint.cli import main_options
from launchpoint.cli.experiments import experiments_app, simulate
from launchpoint.engine import Launchpoint
from launchpoint.experiments.spec import ExperimentSpec
from tests.experiments.helpers import run_traffic

runner = CliRunner()
ENV = {"COLUMNS": "400", "LINES": "200"}
cli = typer.Typer()
cli.callback()(main_options)
cli.add_typer(experiments_app, name="experiments")
cli.command("simulate")(simulate)

SPEC = """
id: layout
variants:
  - id: two
    overrides: {layers: 2}
  - id: four
    overrides: {layers: 4}
coverage: 0.05
"""


@pytest.fixture
def run(launchpoint: Launchpoint) -> Callable[..., str]:
    workspace = f"c{uuid.uuid4().hex[:10]}"

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(
            cli,
            ["--database-url", launchpoint.settings.database_url, "--workspace", workspace, *args],
            env=ENV,
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, (args, result.output)
        return result.output

    invoke.workspace = workspace  # type: ignore[attr-defined]  # read back by the tests
    return invoke


def test_create_start_ramp_stop_and_report(
    run: Callable[..., str], launchpoint: Launchpoint, tmp_path: Path
) -> None:
    spec_file = tmp_path / "layout.yaml"
    spec_file.write_text(SPEC)
    assert "layout draft" in run("experiments", "create", str(spec_file))
    assert "layout running" in run("experiments", "start", "layout")
    assert "coverage 50%" in run("experiments", "ramp", "layout", "--coverage", "0.5")
    assert "can only go up" in run("experiments", "ramp", "layout", "--coverage", "0.1", code=2)
    assert "layout" in run("experiments", "list")
    assert "10.0% of users" in run("experiments", "holdout", "--share", "0.1")
    ws = launchpoint.workspace(run.workspace)  # type: ignore[attr-defined]
    spec = ExperimentSpec.model_validate(
        {"id": "layout", "coverage": 0.5, "variants": [{"id": "two"}, {"id": "four"}]}
    )
    run_traffic(ws, spec, 400)
    assert "layout running" in run("experiments", "check", "layout")  # no guardrail to breach
    markdown = run("experiments", "report", "layout")
    assert "# Experiment layout" in markdown and "| ctr | four |" in markdown
    html_file = tmp_path / "report.html"
    run("experiments", "report", "layout", "--format", "html", "--output", str(html_file))
    assert "data:image/png;base64," in html_file.read_text()
    as_json = json.loads(run("experiments", "report", "layout", "--format", "json"))
    assert as_json["experiment"]["spec"]["id"] == "layout"
    assert "stopped: done" in run("experiments", "stop", "layout", "--reason", "done")


def test_a_bad_file_says_where(run: Callable[..., str], tmp_path: Path) -> None:
    spec_file = tmp_path / "bad.yaml"
    spec_file.write_text("id: x\nvariants:\n  - id: a\n    overrides: {shape: round}\n  - id: b\n")
    output = run("experiments", "create", str(spec_file), code=2)
    assert "variants.0.overrides" in output and "'shape'" in output


def test_simulate_prints_the_comparison_and_writes_a_report(
    run: Callable[..., str], tmp_path: Path
) -> None:
    report = tmp_path / "simulation.md"
    output = run(
        "simulate", "--users", "60", "--items", "60", "--days", "2", "--output", str(report)
    )
    assert "Personalised ribbons against the non-personalised control" in output
    assert "engagement" in output and "retention" in output
    assert "## Lift against the control" in report.read_text()
