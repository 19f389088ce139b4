"""serve and demo: run the API, or build the demo workspace and run it."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated, TypeVar

import numpy as np
import typer
import uvicorn
from rich.progress import Progress

from launchpoint.api import create_app
from launchpoint.cli.common import console, reports_errors, state
from launchpoint.cli.models import train
from launchpoint.cli.segments import apply_file
from launchpoint.demo import generate_demo
from launchpoint.engine import IngestResult, Launchpoint, WorkspaceEngine

T = TypeVar("T")
DEMO_BATCH = 5000


def _batches(records: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(records)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _load(
    bar: Progress,
    label: str,
    records: Iterable[T],
    total: int,
    add: Callable[[list[T]], IngestResult],
) -> None:
    task = bar.add_task(f"loading {label}", total=total)
    for batch in _batches(records, DEMO_BATCH):
        add(batch)
        bar.advance(task, len(batch))


def _sample_user(ws: WorkspaceEngine) -> str:
    """A user worth showing: the first one with two ribbons, or else the first one."""
    state = ws.state()
    shown = [s.members for s in state.segments if s.qualification.qualifies]
    if shown:
        ribbons = np.sum(shown, axis=0)
        best = np.flatnonzero(ribbons >= min(2, int(ribbons.max())))
        if len(best):
            return state.user_ids[int(best[0])]
    return state.user_ids[0]


def run_server(lp: Launchpoint, host: str, port: int) -> None:
    app = create_app(lp.settings, launchpoint=lp, settle=True)  # this process is the server
    uvicorn.run(app, host=host, port=port, log_level="info")


@reports_errors
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to bind; default from settings.")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port; default from settings.")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes; each keeps its own state.")
    ] = 1,
) -> None:
    """Serve the REST API (docs at /docs). With several workers, each process serves from its
    own in-memory state and sees the others' writes through the database."""
    settings = state(ctx).settings()
    lp = Launchpoint(settings)  # migrates once, before any worker starts
    host, port = host or settings.host, port or settings.port
    console.print(f"Launchpoint API on http://{host}:{port}  (OpenAPI docs: /docs)")
    if workers == 1:
        run_server(lp, host, port)
        return
    lp.close()
    # Worker processes rebuild the app from the environment, so the settings travel there.
    for name, value in settings.model_dump(exclude_defaults=True).items():
        os.environ[f"LAUNCHPOINT_{name.upper()}"] = str(value)
    os.environ["LAUNCHPOINT_DATABASE_URL"] = settings.resolved_database_url
    uvicorn.run(
        "launchpoint.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


@reports_errors
def demo(
    ctx: typer.Context,
    users: Annotated[int, typer.Option(help="Customers to generate.")] = 2000,
    items: Annotated[int, typer.Option(help="Products to generate.")] = 400,
    events: Annotated[int, typer.Option(help="Events to generate.")] = 60_000,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same data.")] = 7,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API after.")
    ] = True,
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    train_model: Annotated[
        bool,
        typer.Option("--train/--no-train", help="Train the default model, which ribbons use."),
    ] = True,
) -> None:
    """Generate an investment platform's customers, products and events (seeded, with hidden
    tastes), load them, apply the demo segments, train the default model, and serve the
    API."""
    settings = state(ctx).settings()
    lp = Launchpoint(settings)
    ws = lp.workspace()
    data = generate_demo(n_users=users, n_items=items, n_events=events, seed=seed)
    with Progress(console=console) as bar:
        _load(bar, "products", data.items(), items, ws.add_items)
        _load(bar, "customers", data.users(), users, ws.add_users)
        _load(bar, "events", data.events(), events, ws.add_events)
    segments_file = resources.files("launchpoint.demo").joinpath("segments.yaml")
    with resources.as_file(segments_file) as path:
        apply_file(ws, Path(path))
    if train_model:
        train(ctx)  # the CLI's own command, as a user would run it next
    sample = _sample_user(ws)
    host, port = host or settings.host, port or settings.port
    console.print(f"\nDemo workspace {ws.workspace_id!r} is ready in {lp.db.url}")
    console.print(f"Try:  curl 'http://{host}:{port}/v1/users/{sample}/ribbons?layers=2&cards=5'")
    console.print(f"      launchpoint ribbons {sample}")
    if serve_api:
        console.print(f"Serving on http://{host}:{port}  (OpenAPI docs: /docs; Ctrl-C stops)")
        run_server(lp, host, port)
    else:
        lp.close()
