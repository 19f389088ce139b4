"""Every HTTP request counts as served from its arrival to its answer, queueing included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from launchpoint.api import create_app
from launchpoint.engine import Launchpoint
from launchpoint.settings import Settings


def test_a_request_counts_from_arrival_to_answer(tmp_path: Path) -> None:
    lp = Launchpoint(Settings(database_url=f"sqlite:///{tmp_path / 'lp.db'}", data_dir=tmp_path))
    app = create_app(lp.settings, launchpoint=lp)
    seen: list[int] = []

    @app.get("/counted")
    def counted() -> dict[str, Any]:
        seen.append(lp.pace.in_flight)  # a route outside the engine: the HTTP layer counts
        return {}

    with TestClient(app) as client:
        assert client.get("/counted").status_code == 200
        assert client.get("/healthz").status_code == 200
    assert seen == [1] and lp.pace.in_flight == 0
    assert lp.workspace().pace is lp.pace  # one count for the process's workspaces
    lp.close()
