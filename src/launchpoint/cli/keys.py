"""keys create, list, revoke: the API keys of a workspace."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from launchpoint.cli.common import console, err_console, reports_errors, state
from launchpoint.domain.timeutil import to_iso
from launchpoint.security import create_key, key_id_of
from launchpoint.storage.keys import KeyRecord, KeyStore

keys_app = typer.Typer(
    help="API keys of the workspace: create, list, revoke.", no_args_is_help=True
)


def _rate(record: KeyRecord) -> str:
    return "default" if record.rate_per_second is None else f"{record.rate_per_second:g}/s"


def _public(record: KeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "workspace": record.workspace_id,
        "name": record.name,
        "scopes": list(record.scopes),
        "rate_per_second": record.rate_per_second,
        "created_at": to_iso(record.created_at),
        "revoked_at": to_iso(record.revoked_at),
    }


@keys_app.command("create")
@reports_errors
def create(
    ctx: typer.Context,
    scope: Annotated[
        list[str],
        typer.Option("--scope", "-s", help="admin, ingest or serve; repeat for several."),
    ],
    name: Annotated[str, typer.Option(help="What the key is for, to tell keys apart.")] = "",
    rate: Annotated[
        float | None,
        typer.Option(help="Requests a second; default: the rate_limit_per_second setting."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the key, for scripts.")
    ] = False,
) -> None:
    """Create a key in the workspace and print it. The key is shown once: only its hash is
    stored, so a lost key cannot be recovered, only revoked and replaced."""
    lp, ws = state(ctx).engine()
    try:
        key = create_key(KeyStore(lp.db), ws.workspace_id, scope, name=name, rate_per_second=rate)
    finally:
        lp.close()
    if not quiet:
        record = key.record
        err_console.print(
            f"Created key {record.id} in workspace {record.workspace_id!r} "
            f"(scopes: {', '.join(record.scopes)}; rate: {_rate(record)}). "
            "It is shown only now: store it where the client reads it.",
            highlight=False,
        )
    # Plain stdout, one line, so `KEY=$(launchpoint keys create ...)` captures the key alone.
    typer.echo(key.token)


@keys_app.command("list")
@reports_errors
def list_keys(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The workspace's keys (ids, never secrets), revoked ones included."""
    lp, ws = state(ctx).engine()
    try:
        records = KeyStore(lp.db).for_workspace(ws.workspace_id)
    finally:
        lp.close()
    if as_json:
        console.print_json(json.dumps([_public(r) for r in records]))
        return
    if not records:
        console.print(
            f"No keys in workspace {ws.workspace_id!r}; create one with "
            "`launchpoint keys create --scope admin`.",
            highlight=False,
        )
        return
    table = Table(title=f"API keys of {ws.workspace_id}")
    for column in ("id", "name", "scopes", "rate", "created", "status"):
        table.add_column(column, no_wrap=column in ("id", "created"))
    for r in records:
        status = "[green]active[/]" if r.revoked_at is None else f"revoked {to_iso(r.revoked_at)}"
        table.add_row(
            r.id, r.name, ", ".join(r.scopes), _rate(r), to_iso(r.created_at) or "", status
        )
    console.print(table)


@keys_app.command("revoke")
@reports_errors
def revoke(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The key's id (or the whole key).")],
) -> None:
    """Revoke a key of the workspace. Running servers refuse it within auth_cache_seconds."""
    lp, ws = state(ctx).engine()
    try:
        record = KeyStore(lp.db).revoke(ws.workspace_id, key_id_of(key), time.time())
    finally:
        lp.close()
    console.print(
        f"Revoked key {record.id} of workspace {record.workspace_id!r} "
        f"at {to_iso(record.revoked_at)}.",
        highlight=False,
    )
