"""Shared fixtures. ``backend_url`` runs a test once per storage backend: SQLite always,
PostgreSQL when LAUNCHPOINT_TEST_POSTGRES_URL is set (CI sets it)."""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from launchpoint.api import create_app
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.settings import Settings

POSTGRES_URL = os.environ.get("LAUNCHPOINT_TEST_POSTGRES_URL", "")
MOVIELENS_SMALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-latest-small"

_backends = [pytest.param("sqlite", id="sqlite")]
_backends.append(
    pytest.param(
        "postgres",
        id="postgres",
        marks=pytest.mark.skipif(
            not POSTGRES_URL, reason="set LAUNCHPOINT_TEST_POSTGRES_URL to run against PostgreSQL"
        ),
    )
)


@pytest.fixture(params=_backends)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'launchpoint.db'}"


@pytest.fixture
def launchpoint(backend_url: str, tmp_path: Path) -> Iterator[Launchpoint]:
    # Every test gets its own workspace, so tests sharing one PostgreSQL database never meet.
    settings = Settings(
        database_url=backend_url, data_dir=tmp_path, workspace=f"t{uuid.uuid4().hex[:12]}"
    )
    lp = Launchpoint(settings)
    yield lp
    lp.close()


@pytest.fixture
def workspace(launchpoint: Launchpoint) -> WorkspaceEngine:
    return launchpoint.workspace()


@pytest.fixture
def client(launchpoint: Launchpoint) -> Iterator[TestClient]:
    with TestClient(create_app(launchpoint.settings, launchpoint=launchpoint)) as c:
        yield c


@pytest.fixture
def movielens_small() -> Path:
    if not (MOVIELENS_SMALL / "ratings.csv").is_file():
        pytest.skip(f"real data absent: {MOVIELENS_SMALL} (MovieLens ml-latest-small) not found")
    return MOVIELENS_SMALL


@pytest.fixture
def thawed() -> Iterator[None]:
    """Tests of the heap: nothing frozen before, nothing left frozen after."""
    gc.unfreeze()
    yield
    gc.unfreeze()
