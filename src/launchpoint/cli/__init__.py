"""The ``launchpoint`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from launchpoint.cli import data, experiments, keys, models, segments, server
from launchpoint.cli.common import CliState

app = typer.Typer(
    help="Launchpoint: segments, ribbons and cards for every surface, with the reasons why.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(help="YAML settings file.")] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="sqlite:///path or postgresql://...; env LAUNCHPOINT_DATABASE_URL."),
    ] = None,
    workspace: Annotated[
        str | None, typer.Option(help="Workspace to act on; env LAUNCHPOINT_WORKSPACE.")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder of the embedded database; env LAUNCHPOINT_DATA_DIR.")
    ] = None,
) -> None:
    ctx.obj = CliState(config, database_url, workspace, data_dir)


app.command("init")(data.init)
app.command("import")(data.import_)
app.command("stats")(data.stats)
app.command("apply")(segments.apply)
app.command("ribbons")(segments.ribbons)
app.add_typer(segments.segments_app, name="segments")
app.command("serve")(server.serve)
app.command("demo")(server.demo)
app.add_typer(experiments.experiments_app, name="experiments")
app.add_typer(keys.keys_app, name="keys")
app.command("train")(models.train)
app.command("evaluate")(models.evaluate_command)
app.add_typer(models.models_app, name="models")
app.command("simulate")(experiments.simulate)


def main() -> None:
    app()
