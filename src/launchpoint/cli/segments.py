"""apply, segments report, ribbons: defining segments and seeing what users get."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from launchpoint.cli.common import console, read_document, reports_errors, state
from launchpoint.domain.segments import WorkspaceConfig
from launchpoint.engine import WorkspaceEngine
from launchpoint.ranking.ribbons import RibbonRequest
from launchpoint.segments.plan import ApplyPlan
from launchpoint.segments.qualification import QualificationRow

segments_app = typer.Typer(help="Inspect segments: the qualification report.", no_args_is_help=True)


def read_config(path: Path) -> WorkspaceConfig:
    """A YAML (or JSON) file of segments and surfaces, with errors that say where."""
    return read_document(path, WorkspaceConfig, "'segments:' and/or 'surfaces:'")


def print_report(rows: list[QualificationRow]) -> None:
    table = Table(title="Segment qualification")
    for name, justify in (
        ("#", "right"),
        ("segment", "left"),
        ("members", "right"),
        ("items", "right"),
        ("users test", "left"),
        ("items test", "left"),
        ("7 days ago", "right"),
        ("shown", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name == "segment")  # type: ignore[arg-type]
    for r in rows:
        shown = "[green]Y[/]" if r.qualifies else "[red]N[/]"
        if r.at_risk:
            shown += " [yellow](at risk)[/]"
        if r.status != "active":
            shown += f" ({r.status})"
        before = (
            f"{r.members_before:,} / {r.items_before:,}"
            if r.members_before is not None and r.items_before is not None
            else "-"
        )
        table.add_row(
            str(r.priority),
            r.segment_id,
            f"{r.members:,}",
            f"{r.items:,}",
            r.users_test,
            r.items_test,
            before,
            shown,
        )
    console.print(table)


def print_plan(plan: ApplyPlan) -> None:
    table = Table(title="Changes")
    for name, justify in (
        ("segment", "left"),
        ("change", "left"),
        ("fields", "left"),
        ("members", "right"),
        ("enter", "right"),
        ("leave", "right"),
        ("shown", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name in ("segment", "change", "members"))  # type: ignore[arg-type]
    for c in plan.segments:
        after = c.qualification_after
        shown_after = "archived" if after is None else ("Y" if after.qualifies else "N")
        shown_before = "Y" if c.qualifies_before else "N"
        table.add_row(
            c.segment_id,
            c.action,
            ", ".join(f.field for f in c.fields) or "-",
            f"{c.members_before:,} -> {c.members_after:,}",
            f"+{c.entering:,}",
            f"-{c.leaving:,}",
            shown_after if c.action == "create" else f"{shown_before} -> {shown_after}",
        )
    console.print(table)
    for surface_id, action in plan.surfaces.items():
        console.print(f"surface {surface_id}: {action}")


def apply_file(ws: WorkspaceEngine, path: Path, *, dry_run: bool = False) -> None:
    result = ws.apply(read_config(path), actor="cli", dry_run=dry_run)
    print_plan(result.plan)
    if dry_run:
        console.print("Dry run: nothing was written. Run without --dry-run to apply.")
        return
    for label, ids in (
        ("created", result.created),
        ("updated", result.updated),
        ("unchanged", result.unchanged),
    ):
        if ids:
            console.print(f"{label}: {', '.join(ids)}")
    if result.surfaces:
        console.print(f"surfaces: {', '.join(result.surfaces)}")
    print_report(result.report)


@reports_errors
def apply(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="YAML file with segments: and surfaces:.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
) -> None:
    """Apply segments and surfaces from a YAML file. Every rule is validated first; nothing is
    stored if any is invalid. Shows what changes (fields, users entering and leaving each
    segment), then the qualification report. With --dry-run, only shows the changes."""
    lp, ws = state(ctx).engine()
    apply_file(ws, path, dry_run=dry_run)
    lp.close()


@segments_app.command("report")
@reports_errors
def report(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per segment: members and items against the thresholds, Y/N with the reason."""
    lp, ws = state(ctx).engine()
    rows = ws.report()
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in rows]))
    else:
        print_report(rows)
    lp.close()


@reports_errors
def ribbons(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="User id.")],
    surface: Annotated[str, typer.Option(help="Surface id.")] = "home",
    layers: Annotated[int | None, typer.Option(help="Ribbons at most.")] = None,
    cards: Annotated[int | None, typer.Option(help="Cards per ribbon.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the ribbons and cards a user sees, each card with its reason."""
    lp, ws = state(ctx).engine()
    page = ws.ribbons(RibbonRequest(user, surface, layers, cards))
    if as_json:
        from launchpoint.api.schemas import RibbonPagePublic

        console.print_json(RibbonPagePublic.of(page).model_dump_json())
        lp.close()
        return
    console.print(f"[bold]{user}[/] on {surface} (recommendation {page.recommendation_id})")
    if not page.ribbons:
        console.print(
            "No ribbon: no qualifying segment of this user has cards left for them, "
            "and the surface has no fallback (or nothing for it to show)."
        )
    for ribbon in page.ribbons:
        table = Table(title=f"{ribbon.title}  [dim]({ribbon.segment_id or ribbon.kind})[/]")
        table.add_column("#", justify="right")
        table.add_column("item")
        table.add_column("title")
        table.add_column("why")
        for n, card in enumerate(ribbon.cards, 1):
            table.add_row(str(n), card.item_id, card.title, card.reason)
        console.print(table)
    lp.close()


@segments_app.command("members")
@reports_errors
def members(
    ctx: typer.Context,
    segment: Annotated[str, typer.Argument(help="Segment id.")],
    offset: Annotated[int, typer.Option(min=0, help="Members to skip.")] = 0,
    limit: Annotated[int, typer.Option(min=1, help="Members to show.")] = 50,
) -> None:
    """The users in a segment, in id order, a page at a time."""
    lp, ws = state(ctx).engine()
    total, ids = ws.segment_members(segment, offset, limit)
    console.print(f"{segment}: {total:,} members; showing {len(ids)} from {offset}")
    for user_id in ids:
        console.print(user_id, highlight=False, markup=False)
    lp.close()


@segments_app.command("why")
@reports_errors
def why(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="User id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every segment from this user's side: member or not, and for each clause of its user rule
    whether it held and the values it read."""
    lp, ws = state(ctx).engine()
    memberships = ws.user_segments(user)
    if as_json:
        console.print_json(json.dumps([asdict(m) for m in memberships], default=str))
        lp.close()
        return
    for m in memberships:
        verdict = "[green]member[/]" if m.member else "[dim]not a member[/]"
        shown = "shown" if m.qualifies else "not shown (does not qualify)"
        console.print(f"[bold]{m.segment_id}[/] ({m.name}): {verdict}; segment {shown}")
        for clause in m.why.clauses:
            mark = "[green]yes[/]" if clause.matched else "[red]no[/]"
            values = ", ".join(f"{k} = {v!r}" for k, v in clause.values.items())
            console.print(f"  {mark}  {clause.text}", highlight=False)
            if values:
                console.print(f"         [dim]{values}[/]", highlight=False)
    lp.close()
