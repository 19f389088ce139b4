"""Every HTTP request counts as served from its arrival to its answer, queueing included."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from launchpoint.api import create_app
from launchpoint.domain import ItemIn, UserIn
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


def test_pages_are_answered_while_a_write_waits_for_the_state_it_rebuilds(
    tmp_path: Path,
) -> None:
    """One request thread (the default): the writer's request lends it while its build runs
    beside the state serving, so a page is answered meanwhile."""
    lp = Launchpoint(Settings(database_url=f"sqlite:///{tmp_path / 'lp.db'}", data_dir=tmp_path))
    ws = lp.workspace()
    ws.add_items([ItemIn(id=f"i{n}", title=f"Item {n}", categories=["a"]) for n in range(5)])
    ws.add_users([UserIn(id="u1")])
    building, release = threading.Event(), threading.Event()
    prepare = ws._prepare

    def held(state: Any, surfaces: Any) -> None:
        building.set()
        assert release.wait(60)  # longer than the page is given below
        prepare(state, surfaces)

    segment = {"id": "all", "users": "id is not null", "items": "id is not null"}
    answered: list[int] = []
    with TestClient(create_app(lp.settings, launchpoint=lp)) as client:
        assert client.get("/v1/users/u1/ribbons").status_code == 200
        ws._prepare = held  # type: ignore[method-assign]
        writer = threading.Thread(target=lambda: client.put("/v1/segments/all", json=segment))
        writer.start()
        assert building.wait(10), "the write did not build beside"
        page = threading.Thread(
            target=lambda: answered.append(client.get("/v1/users/u1/ribbons").status_code)
        )
        page.start()
        page.join(20)  # without the lent thread it would wait for the release
        done_meanwhile = list(answered)
        release.set()
        writer.join(10)
        page.join(10)
    assert done_meanwhile == [200]  # answered while the writer's build was held
    assert [s.spec.id for s in ws.state().segments] == ["all"]
    lp.close()
