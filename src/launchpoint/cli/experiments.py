"""experiments create|list|start|ramp|stop|check|report|holdout, and simulate."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from rich.progress import Progress
from rich.table import Table

from launchpoint.cli.common import console, read_document, reports_errors, state
from launchpoint.engine import WorkspaceEngine
from launchpoint.errors import InvalidInput
from launchpoint.experiments.analysis import Comparison
from launchpoint.experiments.report import render_html, render_markdown
from launchpoint.experiments.service import (
    ExperimentReport,
    ExperimentService,
    memberships_from_state,
)
from launchpoint.experiments.simulator import SimulationConfig, SimulationResult, run_simulation
from launchpoint.experiments.spec import Experiment, ExperimentSpec, HoldoutSpec
from launchpoint.storage.experiments import ExperimentStore

experiments_app = typer.Typer(
    help="Experiments: create, start, ramp, stop, and report with lifts and intervals.",
    no_args_is_help=True,
)
ReportFormat = Literal["markdown", "html", "json"]


def _service(ws: WorkspaceEngine) -> ExperimentService:
    return ExperimentService(
        ExperimentStore(ws.store.db, ws.workspace_id),
        lambda users: memberships_from_state(ws.state())(users),
    )


def read_spec(path: Path) -> ExperimentSpec:
    """An experiment from a YAML or JSON file, with errors that say where."""
    return read_document(path, ExperimentSpec, "id:, variants: ...")


def _print(experiment: Experiment) -> None:
    spec = experiment.spec
    variants = ", ".join(f"{v.id} ({v.weight:g})" for v in spec.variants)
    console.print(
        f"[bold]{spec.id}[/] {experiment.status} on surface {spec.surface}: coverage "
        f"{spec.coverage:.0%}, variants {variants}, control {spec.control}"
    )
    if experiment.stop_reason:
        console.print(f"stopped: {experiment.stop_reason}")


@experiments_app.command("create")
@reports_errors
def create(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="YAML or JSON file with the experiment.")],
    start: Annotated[bool, typer.Option("--start", help="Start it at once.")] = False,
) -> None:
    """Create an experiment (a draft) from a file; --start starts it too."""
    lp, ws = state(ctx).engine()
    service = _service(ws)
    experiment = service.create(read_spec(path))
    if start:
        experiment = service.start(experiment.id)
    _print(experiment)
    lp.close()


@experiments_app.command("list")
@reports_errors
def list_(ctx: typer.Context) -> None:
    """Every experiment with its status, coverage and variants."""
    lp, ws = state(ctx).engine()
    table = Table(title="Experiments")
    for name in ("id", "status", "surface", "coverage", "variants", "stop reason"):
        table.add_column(name)
    for e in _service(ws).all():
        table.add_row(
            e.id,
            e.status,
            e.spec.surface,
            f"{e.spec.coverage:.0%}",
            ", ".join(e.spec.variant_ids),
            e.stop_reason,
        )
    console.print(table)
    lp.close()


@experiments_app.command("start")
@reports_errors
def start(
    ctx: typer.Context, experiment_id: Annotated[str, typer.Argument(help="The experiment's id.")]
) -> None:
    """Start a draft experiment: users are assigned from now on."""
    lp, ws = state(ctx).engine()
    _print(_service(ws).start(experiment_id))
    lp.close()


@experiments_app.command("ramp")
@reports_errors
def ramp(
    ctx: typer.Context,
    experiment_id: Annotated[str, typer.Argument(help="The experiment's id.")],
    coverage: Annotated[float, typer.Option(help="New share of eligible users, 0..1.")],
    note: Annotated[str, typer.Option(help="Why, for the rollout history.")] = "",
) -> None:
    """Raise coverage (5% -> 50% -> 100%); users already in keep their variant. Guardrails
    are checked first, and a breach stops the experiment instead."""
    lp, ws = state(ctx).engine()
    _print(_service(ws).ramp(experiment_id, coverage, note))
    lp.close()


@experiments_app.command("stop")
@reports_errors
def stop(
    ctx: typer.Context,
    experiment_id: Annotated[str, typer.Argument(help="The experiment's id.")],
    reason: Annotated[str, typer.Option(help="Recorded with the experiment.")] = "",
) -> None:
    """Stop an experiment; everyone gets the surface as configured again."""
    lp, ws = state(ctx).engine()
    _print(_service(ws).stop(experiment_id, reason))
    lp.close()


@experiments_app.command("check")
@reports_errors
def check(
    ctx: typer.Context, experiment_id: Annotated[str, typer.Argument(help="The experiment's id.")]
) -> None:
    """Evaluate guardrails now; a breached stopping guardrail stops the experiment."""
    lp, ws = state(ctx).engine()
    report = _service(ws).check(experiment_id)
    for alert in report.guardrails:
        console.print(("[red]" if alert.breached else "") + alert.message, highlight=False)
    _print(report.experiment)
    lp.close()


@experiments_app.command("holdout")
@reports_errors
def holdout(
    ctx: typer.Context,
    share: Annotated[float | None, typer.Option(help="Share held out, 0..0.5.")] = None,
    seed: Annotated[str | None, typer.Option(help="Hash seed of the holdout.")] = None,
) -> None:
    """Show or set the global holdout (the non-personalised experience, no experiments)."""
    lp, ws = state(ctx).engine()
    service = _service(ws)
    current = service.holdout()
    if share is not None or seed is not None:
        current = service.set_holdout(
            HoldoutSpec(
                share=current.share if share is None else share,
                seed=current.seed if seed is None else seed,
            )
        )
    console.print(f"holdout: {current.share:.1%} of users (seed {current.seed!r})")
    lp.close()


def write_report(report: ExperimentReport, fmt: ReportFormat, output: Path | None) -> None:
    if fmt == "json":
        text = json.dumps(report.as_dict(), indent=2)
    else:
        text = render_markdown(report) if fmt == "markdown" else render_html(report)
    if output is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        output.write_text(text)
        console.print(f"report written to {output}")


@experiments_app.command("report")
@reports_errors
def report(
    ctx: typer.Context,
    experiment_id: Annotated[str, typer.Argument(help="The experiment's id.")],
    fmt: Annotated[str, typer.Option("--format", help="markdown, html or json.")] = "markdown",
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
    segments: Annotated[bool, typer.Option(help="Break figures down by segment.")] = True,
) -> None:
    """Metrics per variant and segment, lifts with confidence intervals, the sample-ratio
    check and guardrails, as Markdown, HTML (with charts) or JSON."""
    if fmt not in ("markdown", "html", "json"):
        raise InvalidInput(f"--format {fmt!r} is not known; use markdown, html or json")
    lp, ws = state(ctx).engine()
    write_report(
        _service(ws).report(experiment_id, by_segment=segments), cast(ReportFormat, fmt), output
    )
    lp.close()


def _lift(c: Comparison) -> str:
    if not math.isfinite(c.lift):
        return "n/a"
    return f"{c.lift:+.1%} [{c.ci_low:+.1%}, {c.ci_high:+.1%}] p={c.p_value:.3g}"


def print_simulation(result: SimulationResult) -> None:
    table = Table(title="Personalised ribbons against the non-personalised control")
    for name in ("metric", "control", "personalised", "lift [95% CI]"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    for c in [*result.analysis.comparisons, result.retention]:
        table.add_row(c.metric, f"{c.control_value:.4f}", f"{c.value:.4f}", _lift(c))
    console.print(table)
    for arm, totals in result.totals.items():
        console.print(
            f"{arm}: {totals['users']:.0f} users, {totals['visits']:.0f} visits, "
            f"{totals['clicks']:.0f} clicks, {totals['churned']:.0f} churned"
        )
    srm = result.analysis.srm
    console.print(f"sample ratio: {srm.counts} (p = {srm.p_value:.3g})")
    console.print(f"{result.requests} ribbon requests in {result.seconds:.1f} s")


@reports_errors
def simulate(
    users: Annotated[int, typer.Option(help="Synthetic users.")] = 300,
    items: Annotated[int, typer.Option(help="Items in the catalogue.")] = 150,
    categories: Annotated[int, typer.Option(help="Item categories (at most 12).")] = 8,
    days: Annotated[int, typer.Option(help="Simulated days.")] = 7,
    seed: Annotated[int, typer.Option(help="Seed of the world and of every choice.")] = 7,
    output: Annotated[Path | None, typer.Option(help="Write a report (.md or .html).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Closed-loop simulation: synthetic users with hidden tastes answer the ribbons the API
    serves them, day after day, in a temporary database; personalised ribbons are compared
    with the non-personalised control."""
    import warnings

    with warnings.catch_warnings():
        # Starlette now suggests httpx2 for its in-process client; httpx is what we ship.
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient

    from launchpoint.api import create_app
    from launchpoint.engine import Launchpoint
    from launchpoint.settings import Settings

    config = SimulationConfig(users=users, items=items, categories=categories, days=days, seed=seed)
    with tempfile.TemporaryDirectory(prefix="launchpoint-simulation-") as folder:
        settings = Settings(
            database_url=f"sqlite:///{Path(folder) / 'simulation.db'}",
            data_dir=Path(folder),
            workspace="simulation",
        )
        lp = Launchpoint(settings)
        try:
            with (
                TestClient(create_app(settings, launchpoint=lp)) as client,
                Progress(console=console, transient=True) as bar,
            ):
                task = bar.add_task("simulating days", total=days)
                result = run_simulation(
                    client, config, progress=lambda done, _: bar.update(task, completed=done)
                )
        finally:
            lp.close()
    if as_json:
        figures = {
            c.metric: {
                "control": c.control_value,
                "personalised": c.value,
                "lift": c.lift,
                "ci": [c.ci_low, c.ci_high],
                "p": c.p_value,
            }
            for c in [*result.analysis.comparisons, result.retention]
        }
        console.print_json(json.dumps(_finite(figures)))
    else:
        print_simulation(result)
    if output is not None:
        report = ExperimentReport(
            Experiment(spec=result.experiment, status="stopped", stop_reason="simulation"),
            result.analysis,
            [],
            {},
            0.0,
        )
        html = output.suffix.lower() in (".html", ".htm")
        output.write_text(render_html(report) if html else render_markdown(report))
        console.print(f"report written to {output}")


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
