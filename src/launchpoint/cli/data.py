"""init, import, stats: getting data in and seeing what is there."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from launchpoint.cli.common import console, reports_errors, state
from launchpoint.errors import InvalidInput
from launchpoint.importing import ImportSource, detect_format, open_movielens, open_table
from launchpoint.importing.loader import ImportSummary, load_sources


@reports_errors
def init(ctx: typer.Context) -> None:
    """Create the database (or bring its schema up to date) and the workspace."""
    lp, ws = state(ctx).engine()
    console.print(f"Database ready: {lp.db.url} (schema {lp.db.schema_revision()})")
    console.print(f"Workspace: {ws.workspace_id}")


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field:
            raise InvalidInput(
                f"--map {pair!r} is not FIELD=COLUMN (e.g. --map id=movieId, or --map type==rate "
                "for a constant)"
            )
        mapping[field.strip()] = column.strip()
    return mapping


def _sources(
    path: Path, kind: str | None, fmt: str | None, mapping: dict[str, str], delimiter: str
) -> list[ImportSource]:
    chosen = fmt or detect_format(path)
    if chosen == "movielens":
        return open_movielens(path)
    if kind not in ("items", "users", "events"):
        raise InvalidInput(
            f"say what {path.name} holds: --kind items, --kind users or --kind events"
        )
    if chosen not in ("csv", "jsonl"):
        raise InvalidInput(f"unknown format {chosen!r}; use csv, jsonl or movielens")
    return [open_table(path, kind, chosen, mapping, delimiter)]  # type: ignore[arg-type]


@reports_errors
def import_(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A CSV/JSONL file, or a MovieLens folder.")],
    kind: Annotated[str | None, typer.Option(help="items, users or events (CSV/JSONL).")] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, jsonl or movielens; default: from the name."),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="FIELD=COLUMN, repeatable; FIELD==VALUE for a constant."),
    ] = None,
    delimiter: Annotated[str, typer.Option(help="CSV delimiter.")] = ",",
    strict: Annotated[
        bool, typer.Option(help="Stop at the first bad row and load nothing.")
    ] = False,
) -> None:
    """Load items, users or events from a file. Streams in bounded memory; importing the same
    file twice changes nothing. Bad rows are reported with file and line, and skipped unless
    --strict."""
    if map_ is None:
        map_ = []
    sources = _sources(path, kind, fmt, _mapping(map_), delimiter)
    lp, ws = state(ctx).engine()
    summary = ImportSummary()
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks = {id(s): bar.add_task(s.description, total=s.total_bytes) for s in sources}

        def progress(source: ImportSource, _rows: int) -> None:
            bar.update(tasks[id(source)], completed=source.bytes_read)

        if strict:
            bar.update(tasks[id(sources[0])], description="checking (strict)")
        summary = load_sources(ws, sources, strict=strict, progress=progress)
    records = [f"{summary.loaded[k]:,} {k}" for k in ("items", "users") if k in summary.loaded]
    if records:
        # Items and users are upserts: a row given again with the same data stays as it was.
        console.print(f"Wrote {' and '.join(records)} (new, or replaced by what the file says).")
    console.print(
        f"Stored {summary.loaded.get('events', 0):,} new events in workspace {ws.workspace_id!r}."
    )
    if summary.duplicates:
        console.print(f"{summary.duplicates:,} events were already stored (duplicates, unchanged).")
    if summary.skipped:
        console.print(f"[yellow]Skipped {summary.skipped:,} bad rows:[/]")
        for line in summary.errors[:20]:
            console.print(f"  {line}", highlight=False, markup=False)
        if summary.skipped > 20:
            console.print(f"  ... and {summary.skipped - 20:,} more")
    lp.close()


@reports_errors
def stats(ctx: typer.Context) -> None:
    """Counts of items, users and events in the workspace."""
    lp, ws = state(ctx).engine()
    data = ws.stats()
    table = Table(title=f"Workspace {ws.workspace_id}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in ("items", "users", "events", "segments"):
        table.add_row(key, f"{data[key]:,}")
    for kind, n in data["events_by_type"].items():
        table.add_row(f"  {kind} events", f"{n:,}")
    console.print(table)
    lp.close()
