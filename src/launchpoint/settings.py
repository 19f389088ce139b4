"""Settings, declared once: environment variables ``LAUNCHPOINT_*`` or an optional YAML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from launchpoint.errors import InvalidInput

DEFAULT_DATA_DIR = Path("launchpoint-data")
# Works as an admin key in development (with auth required) so the docs' examples run as they
# are; production refuses it, as it refuses any admin key short or common enough to guess.
DEV_ADMIN_KEY = "launchpoint-dev-admin-key"
MIN_ADMIN_KEY_LENGTH = 32
_WELL_KNOWN_SECRETS = frozenset(
    {DEV_ADMIN_KEY, "changeme", "changethis", "secret", "admin", "password", "launchpoint"}
)


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
    auth: Literal["auto", "required", "off"] = Field(
        "auto",
        description="API keys: required, off, or auto (off in development, required in "
        "production).",
    )
    admin_key: SecretStr = Field(
        SecretStr(DEV_ADMIN_KEY),
        description="Bootstrap admin key of the default workspace; empty disables it. "
        "Production refuses the default and keys under 32 characters.",
    )
    auth_cache_seconds: float = Field(
        1.0,
        ge=0,
        description="How long a verified key is trusted before its row is read again; a "
        "revoked key stops working within this time in every process.",
    )
    rate_limit_per_second: float = Field(
        100.0,
        ge=0,
        description="Requests per second a key may make when it sets no rate; 0 means no limit.",
    )
    rate_limit_burst_seconds: float = Field(
        1.0,
        gt=0,
        description="A key may send this many seconds' worth of its rate at once.",
    )
    request_threads: int = Field(
        1,
        ge=0,
        le=1000,
        description="Requests a server process works on at once (the others wait their turn); "
        "0: as many as the machine has cores. Serving is CPU work under one interpreter lock: "
        "use more processes (serve --workers N) for more cores.",
    )
    shortlist: int = Field(
        200,
        ge=0,
        description="On a ribbon with more than twice this many candidates, only the best this "
        "many (and what the guardrails may reach for) go through the guardrails; 0: all.",
    )
    ann_min_items: int = Field(
        200_000,
        ge=0,
        description="From this many candidates, a factor model's (ALS, BPR) best items are "
        "found by approximate nearest-neighbour search instead of scoring every one; 0: never.",
    )
    warm_start: bool = Field(
        True,
        description="A server process builds the default workspace's serving state and loads "
        "its active model before it takes requests, so no user waits for that (and each of "
        "`serve --workers N` takes requests only once ready).",
    )

    @model_validator(mode="after")
    def _production(self) -> Settings:
        if self.env != "production":
            return self
        if not self.database_url:
            raise ValueError(
                "LAUNCHPOINT_DATABASE_URL must be set in production; the embedded SQLite "
                "default is for development"
            )
        admin_key = self.admin_key.get_secret_value()
        if admin_key and (
            admin_key.lower() in _WELL_KNOWN_SECRETS or len(admin_key) < MIN_ADMIN_KEY_LENGTH
        ):
            raise ValueError(
                "LAUNCHPOINT_ADMIN_KEY is the development default or too easy to guess; in "
                f"production set it to at least {MIN_ADMIN_KEY_LENGTH} random characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))'), or to an "
                "empty value to have no bootstrap admin key"
            )
        return self

    @property
    def auth_required(self) -> bool:
        """Whether the API asks every non-public request for a key."""
        if self.auth == "auto":
            return self.env == "production"
        return self.auth == "required"

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
