"""What every command shares: settings from global options, the console, error reporting."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
import yaml
from pydantic import BaseModel, ValidationError
from rich.console import Console

from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.errors import ErrorDetail, InvalidInput, LaunchpointError
from launchpoint.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class CliState:
    config: Path | None = None
    database_url: str | None = None
    workspace: str | None = None
    data_dir: Path | None = None

    def settings(self) -> Settings:
        return load_settings(
            self.config,
            database_url=self.database_url,
            workspace=self.workspace,
            data_dir=self.data_dir,
        )

    def engine(self) -> tuple[Launchpoint, WorkspaceEngine]:
        lp = Launchpoint(self.settings())
        return lp, lp.workspace()


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print a LaunchpointError as a person would want to read it, and exit with status 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except LaunchpointError as exc:
            err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False)
            for detail in exc.details[:20]:
                err_console.print(f"  {detail.loc}: {detail.message}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def kv(pairs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs.items())


M = TypeVar("M", bound=BaseModel)


def read_document(path: Path, model: type[M], expected: str) -> M:
    """A YAML (or JSON) file as ``model``, with errors that say where; ``expected`` names
    the top-level keys for the message about a file that is not a mapping."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a mapping with {expected}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            ErrorDetail(".".join(str(p) for p in e["loc"]) or "(top level)", e["msg"])
            for e in exc.errors()
        ]
        first = details[0]
        raise InvalidInput(f"{path}: {first.loc}: {first.message}", details) from None
