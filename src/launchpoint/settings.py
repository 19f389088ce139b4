"""Settings, declared once: environment variables ``LAUNCHPOINT_*`` or an optional YAML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from launchpoint.errors import InvalidInput

DEFAULT_DATA_DIR = Path("launchpoint-data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAUNCHPOINT_", extra="forbid")

    env: Literal["development", "production"] = Field(
        "development", description="production refuses unsafe defaults."
    )
    data_dir: Path = Field(
        DEFAULT_DATA_DIR, description="Folder for the embedded SQLite database and artefacts."
    )
    database_url: str = Field(
        "", description="sqlite:///path or postgresql://user@host/db; default SQLite in data_dir."
    )
    workspace: str = Field("default", description="Workspace used when a request names none.")
    host: str = Field("127.0.0.1", description="Address `launchpoint serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `launchpoint serve` listens on.")
    refresh_seconds: float = Field(
        300.0, gt=0, description="Rebuild serving state at least this often, so windows slide."
    )
    version_check_seconds: float = Field(
        1.0,
        ge=0,
        description="How often a server re-reads the workspace's data version to see writes "
        "made by other processes; its own writes are seen at once.",
    )
    max_body_bytes: int = Field(
        10_000_000, gt=0, description="Largest request body the API accepts."
    )

    @model_validator(mode="after")
    def _production(self) -> Settings:
        if self.env == "production" and not self.database_url:
            raise ValueError(
                "LAUNCHPOINT_DATABASE_URL must be set in production; the embedded SQLite "
                "default is for development"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'launchpoint.db').resolve()}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, then a YAML file's keys, then explicit overrides."""
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = yaml.safe_load(config_file.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidInput(f"cannot read settings file {config_file}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise InvalidInput(f"settings file {config_file} must hold a mapping of settings")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValueError as exc:
        raise InvalidInput(f"invalid settings: {exc}") from exc
