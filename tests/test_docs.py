"""The reference docs name every setting, CLI command and API route (datasette's test_docs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from launchpoint.api import create_app
from launchpoint.cli import app as cli_app
from launchpoint.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reference"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    text = (DOCS / "settings.md").read_text()
    assert f"LAUNCHPOINT_{name.upper()}" in text, f"document the {name} setting"


def _commands() -> list[str]:
    group = typer.main.get_group(cli_app)
    names = []
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        names += [f"{name} {s}" for s in sub] if sub else [name]
    return sorted(names)


@pytest.mark.parametrize("command", _commands())
def test_every_cli_command_is_documented(command: str) -> None:
    assert f"launchpoint {command}" in (DOCS / "cli.md").read_text()


def test_every_api_route_is_documented(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'docs.db'}"))
    routes = [f"{m.upper()} {p}" for p, ops in app.openapi()["paths"].items() for m in ops]
    text = (DOCS / "api.md").read_text()
    missing = [route for route in routes if f"`{route}`" not in text]
    assert not missing, f"undocumented routes: {missing}"
