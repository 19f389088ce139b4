"""train, evaluate, models: fitting recommenders, measuring them offline, and choosing the
version that serves."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from launchpoint.cli.common import console, reports_errors, state
from launchpoint.errors import InvalidInput
from launchpoint.evaluation.report import EvaluationReport
from launchpoint.evaluation.runner import Evaluation, SegmentAudit, evaluate, segment_breakdown
from launchpoint.evaluation.splits import SPLITS, make_split
from launchpoint.recommenders.data import log_from_state
from launchpoint.recommenders.families import DEFAULT_FAMILY, FAMILIES, make_scorer
from launchpoint.recommenders.model import train_model
from launchpoint.recommenders.registry import ModelManifest, ModelRegistry
from launchpoint.settings import Settings

models_app = typer.Typer(
    help="Trained model versions: list them, activate one, roll back.", no_args_is_help=True
)

FamilyOption = Annotated[
    str, typer.Option(help=f"Recommender family: {', '.join(sorted(FAMILIES))}.")
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", help="KEY=VALUE setting of the family (JSON value), repeatable."),
]
WeightOption = Annotated[
    list[str] | None,
    typer.Option("--weight", help="EVENT_TYPE=WEIGHT signal weight (e.g. click=2), repeatable."),
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(help="Explicit ratings at or above this count as liked, below as disliked."),
]
HalfLifeOption = Annotated[
    float | None, typer.Option(help="Halve an event's weight every this many days.")
]


def registry_for(settings: Settings, workspace: str) -> ModelRegistry:
    return ModelRegistry.for_workspace(settings.data_dir, workspace)


def parse_pairs(pairs: list[str] | None, what: str) -> dict[str, Any]:
    """KEY=VALUE options as a dict; values are JSON where they parse (3, 0.5, true, null)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{what} {pair!r} is not KEY=VALUE")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _weights(pairs: list[str] | None) -> dict[str, float]:
    weights = parse_pairs(pairs, "--weight")
    bad = [k for k, v in weights.items() if not isinstance(v, int | float)]
    if bad:
        raise InvalidInput(f"--weight {bad[0]}=... must be a number, e.g. --weight click=2")
    return {k: float(v) for k, v in weights.items()}


@reports_errors
def train(
    ctx: typer.Context,
    family: FamilyOption = DEFAULT_FAMILY,
    param: ParamOption = None,
    weight: WeightOption = None,
    rating_threshold: ThresholdOption = None,
    half_life_days: HalfLifeOption = None,
    activate: Annotated[
        bool, typer.Option(help="Serve the new version at once (--no-activate: only save it).")
    ] = True,
) -> None:
    """Train a recommender on the workspace's data and save it as a new model version. The
    default family is the hybrid that ribbons use; the version is activated unless
    --no-activate, and `launchpoint models rollback` returns to the previous one."""
    settings = state(ctx).settings()
    lp, ws = state(ctx).engine()
    try:
        weights = _weights(weight)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("building training data", total=None)
            workspace_state = ws.state()
            log = log_from_state(
                workspace_state, weights=weights, rating_threshold=rating_threshold
            )
            data = log.training_data(half_life_days=half_life_days, now=workspace_state.now)
            if data.positive.nnz == 0:
                raise InvalidInput(
                    f"workspace {ws.workspace_id!r} has no positive interactions to train on: "
                    "import events first (launchpoint import)"
                )
            bar.update(task, description=f"training {family}")
            signals = {"weights": weights, "rating_threshold": rating_threshold}
            model = train_model(
                data,
                family,
                parse_pairs(param, "--param"),
                signals=signals,
                progress=lambda message: bar.update(task, description=message),
            )
            bar.update(task, description="saving")
            manifest = registry_for(settings, ws.workspace_id).save(model, activate=activate)
    finally:
        lp.close()
    console.print(
        f"Saved model {manifest.version} ({manifest.family}) for workspace "
        f"{ws.workspace_id!r}: {data.n_users:,} users, {data.n_items:,} items, "
        f"{data.positive.nnz:,} liked pairs; trained in {manifest.training_seconds:.1f} s."
    )
    validation = manifest.metrics.get("validation")
    if validation:
        weights_text = ", ".join(f"{k} {v:g}" for k, v in validation["weights"].items())
        console.print(f"Blend weights (fitted on validation): {weights_text}")
    console.print(
        f"Active: {manifest.version}"
        if activate
        else f"Not active; serve it with: launchpoint models activate {manifest.version}"
    )


@reports_errors
def evaluate_command(
    ctx: typer.Context,
    family: Annotated[
        list[str] | None,
        typer.Option(
            "--family", help="Family to evaluate, repeatable (default: popularity and hybrid)."
        ),
    ] = None,
    split: Annotated[str, typer.Option(help=f"Split: {', '.join(SPLITS)}.")] = "leave_last_k",
    k: Annotated[int, typer.Option(min=1, help="Cut-off of the headline metrics.")] = 10,
    test_k: Annotated[
        int, typer.Option(min=1, help="Liked events held out per user (leave_last_k).")
    ] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the split and the models.")] = 0,
    weight: WeightOption = None,
    rating_threshold: ThresholdOption = None,
    half_life_days: HalfLifeOption = None,
    report: Annotated[
        Path | None, typer.Option(help="Write a report: .html (plots inside) or .md.")
    ] = None,
    segments: Annotated[
        bool, typer.Option(help="Break metrics down by segment (the equity audit).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Measure recommenders offline on the workspace's own data: split it, fit each family
    on the training part, and report NDCG, precision, recall, MAP, hit rate, coverage,
    diversity, novelty and popularity bias, per segment too."""
    families = family or ["popularity", DEFAULT_FAMILY]
    lp, ws = state(ctx).engine()
    try:
        workspace_state = ws.state()
        log = log_from_state(
            workspace_state, weights=_weights(weight), rating_threshold=rating_threshold
        )
        if len(log) == 0:
            raise InvalidInput(f"workspace {ws.workspace_id!r} has no item events to evaluate")
        chosen = make_split(log, split, seed=seed, k=test_k)
        masks = {s.spec.id: s.members for s in workspace_state.segments} if segments else {}
    finally:
        lp.close()
    results: list[Evaluation] = []
    audits: list[SegmentAudit] = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("evaluating", total=None)
        for name in families:
            scorer = make_scorer(name, seed=seed)
            result = evaluate(
                scorer,
                chosen,
                name=name,
                k=k,
                cutoffs=(k, 2 * k),
                half_life_days=half_life_days,
                progress=lambda m: bar.update(task, description=m),
            )
            results.append(result)
            if masks:
                audits.append(segment_breakdown(result, masks, min_users=5))
    protocol = {
        "split": f"{split} (seed {seed}"
        + (f", last {test_k} liked per user)" if split == "leave_last_k" else ")"),
        "test users": f"{int(results[0].summary['users']):,}",
        "relevant": "test events whose summed signal weight is positive",
        "excluded": "items the user liked in training",
    }
    report_object = EvaluationReport(
        f"Offline evaluation: {ws.workspace_id}", results, audits, protocol
    )
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "protocol": protocol,
                    "models": {r.name: r.summary for r in results},
                    "segments": {
                        a.model: {
                            "rows": [
                                {"segment": row.segment, "users": row.users, **row.metrics}
                                for row in a.rows
                            ],
                            "gaps": {
                                m: {"best": b, "worst": w, "gap": g}
                                for m, (b, w, g) in a.gaps.items()
                            },
                        }
                        for a in audits
                    },
                },
                default=float,
                allow_nan=True,
            ).replace("NaN", "null")
        )
    else:
        _print_results(report_object, audits, k)
    if report is not None:
        written = report_object.write(report)
        console.print(f"Report written: {', '.join(str(p) for p in written)}")


def _print_results(report: EvaluationReport, audits: list[SegmentAudit], k: int) -> None:
    headers, rows = report.rows()
    table = Table(title=report.title)
    for n, header in enumerate(headers):
        table.add_column(header, justify="left" if n == 0 else "right", no_wrap=n == 0)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    metric = f"ndcg@{k}"
    for audit in audits:
        gap = audit.gaps.get(metric)
        if gap is not None:
            best, worst, size = gap
            console.print(
                f"{audit.model}: {metric} gap between segments {size:.4f} "
                f"({best} best, {worst} worst)"
            )


def _manifest_row(manifest: ModelManifest, active: str | None) -> list[str]:
    validation = manifest.metrics.get("validation") or {}
    ndcg = next((v for k, v in validation.items() if k.startswith("ndcg@")), None)
    return [
        manifest.version + (" *" if manifest.version == active else ""),
        manifest.family,
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(manifest.created_at)),
        f"{manifest.training_seconds:.1f}",
        f"{manifest.data.get('users', 0):,}",
        f"{manifest.data.get('items', 0):,}",
        f"{ndcg:.4f}" if isinstance(ndcg, float) else "-",
    ]


@models_app.command("list")
@reports_errors
def list_versions(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Every saved model version of the workspace, oldest first; * marks the active one."""
    settings = state(ctx).settings()
    registry = registry_for(settings, settings.workspace)
    versions, active = registry.versions(), registry.active_version()
    if as_json:
        listed = [m.model_dump(mode="json") for m in versions]
        console.print_json(json.dumps({"active": active, "versions": listed}))
        return
    if not versions:
        console.print(
            f"No model versions in workspace {settings.workspace!r}: run launchpoint train."
        )
        return
    table = Table(title=f"Models of workspace {settings.workspace}")
    for header in ("version", "family", "created (UTC)", "train s", "users", "items", "val NDCG"):
        table.add_column(header, justify="left" if header in ("version", "family") else "right")
    for manifest in versions:
        table.add_row(*_manifest_row(manifest, active))
    console.print(table)


@models_app.command("show")
@reports_errors
def show(
    ctx: typer.Context, version: Annotated[str, typer.Argument(help="Version, e.g. v0003.")]
) -> None:
    """Print one version's manifest: parameters, data window, training time, metrics."""
    settings = state(ctx).settings()
    console.print_json(
        registry_for(settings, settings.workspace).manifest(version).model_dump_json()
    )


@models_app.command("activate")
@reports_errors
def activate_version(
    ctx: typer.Context, version: Annotated[str, typer.Argument(help="Version, e.g. v0003.")]
) -> None:
    """Serve this version from now on; running servers pick it up without a restart."""
    settings = state(ctx).settings()
    registry_for(settings, settings.workspace).activate(version)
    console.print(f"Active: {version}")


@models_app.command("rollback")
@reports_errors
def rollback(ctx: typer.Context) -> None:
    """Serve the version that was active before the current one."""
    settings = state(ctx).settings()
    version = registry_for(settings, settings.workspace).rollback()
    console.print(f"Rolled back. Active: {version}")
