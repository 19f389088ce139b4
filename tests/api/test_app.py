"""A server process readies the default workspace before it takes requests (warm_start)."""

from __future__ import annotations

import gc
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from launchpoint.api import create_app
from launchpoint.domain.records import EventIn, ItemIn
from launchpoint.engine import Launchpoint
from launchpoint.heap import NEVER
from launchpoint.settings import Settings
from tests.engine_helpers import wait_until


def _launchpoint(tmp_path: Path, **settings: object) -> Launchpoint:
    lp = Launchpoint(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'lp.db'}",
            data_dir=tmp_path,
            workspace=f"w{uuid.uuid4().hex[:8]}",
            **settings,
        )
    )
    engine = lp.workspace()
    engine.add_items([ItemIn(id="i1", title="One", categories=["a"])])
    engine.add_events([EventIn(user_id="u1", item_id="i1", type="purchase")])
    return lp


def test_a_server_builds_the_serving_state_before_its_first_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from launchpoint import engine as engine_module

    pages: list[str] = []
    compose = engine_module.home_page

    def recorded(*args: Any) -> Any:
        pages.append(args[3].user_id)
        return compose(*args)

    monkeypatch.setattr(engine_module, "home_page", recorded)
    lp = _launchpoint(tmp_path)
    engine = lp.workspace()
    assert engine._state is None
    with TestClient(create_app(lp.settings, launchpoint=lp)):
        state = engine._state
        assert state is not None and state.version == engine.store.data_version()
        assert engine._tools is not None and engine._tools.state is state
        # a home page was composed for a user with history, and no exposure logged for it
        assert pages == ["u1"]
        assert engine.exposures._thread is None
    lp.close()


def test_warm_start_readies_the_active_model_for_the_first_request(tmp_path: Path) -> None:
    from launchpoint.recommenders.data import training_data_from_state
    from launchpoint.recommenders.model import train_model

    lp = _launchpoint(tmp_path)
    engine = lp.workspace()
    engine.add_events(
        [EventIn(user_id=f"u{n}", item_id="i1", type="purchase") for n in range(2, 5)]
    )
    engine.add_items([ItemIn(id="i2", title="Two", categories=["a"])])
    engine.add_events([EventIn(user_id="u2", item_id="i2", type="purchase")])
    model = train_model(training_data_from_state(engine.state()), "item_knn", {})
    engine.models.save(model, activate=True)
    lp.close()
    lp = Launchpoint(lp.settings)  # a new server process: the model is loaded from disk
    engine = lp.workspace()
    with TestClient(create_app(lp.settings, launchpoint=lp)):
        active = engine.models.active()
        assert active is not None
        # item-kNN's row-major similarity, made on first use, is made before any request
        assert getattr(active.scorer, "_similarity_rows", None) is not None
    lp.close()


def test_without_warm_start_the_first_request_builds_it(tmp_path: Path) -> None:
    lp = _launchpoint(tmp_path, warm_start=False)
    engine = lp.workspace()
    with TestClient(create_app(lp.settings, launchpoint=lp)) as client:
        assert engine._state is None
        assert client.get("/v1/users/u1/ribbons").status_code == 200
        assert engine._state is not None
    lp.close()


def test_a_failed_warm_start_leaves_the_server_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    lp = _launchpoint(tmp_path)

    def broken() -> None:
        raise RuntimeError("database away")

    monkeypatch.setattr(lp, "warm", broken)
    with TestClient(create_app(lp.settings, launchpoint=lp)) as client:
        assert client.get("/v1/users/u1/ribbons").status_code == 200
    assert "warm start failed" in caplog.text
    lp.close()


def test_a_server_with_its_own_launchpoint_sets_its_warm_state_aside_from_collection(
    tmp_path: Path, thawed: None
) -> None:
    lp = _launchpoint(tmp_path)
    with TestClient(create_app(lp.settings, launchpoint=lp)):  # an embedding application
        assert gc.get_freeze_count() == 0
    lp.close()
    with TestClient(create_app(lp.settings)) as client:  # a server: `launchpoint serve`
        owned = client.app.state.launchpoint  # type: ignore[attr-defined]
        state = owned.workspace()._state
        assert state is not None
        frozen = gc.get_freeze_count()
        assert frozen > 0
        collectable = {id(o) for o in gc.get_objects()}  # frozen objects are not listed
        assert id(state.item_rows) not in collectable and id(state.segments) not in collectable
        assert client.get("/v1/users/u1/ribbons").status_code == 200


def _collectable(state: Any) -> bool:
    listed = {id(o) for o in gc.get_objects()}  # frozen objects are not listed
    return id(state.item_rows) in listed or id(state.segments) in listed


def test_a_server_sets_each_later_state_aside_as_it_takes_over(
    tmp_path: Path, thawed: None
) -> None:
    """Built with full collections held, then frozen without a collection: no pause."""
    lp = _launchpoint(tmp_path)
    with TestClient(create_app(lp.settings, launchpoint=lp)):  # an embedding application
        assert lp.refresh()  # built beside
        assert _collectable(lp.workspace()._state) and gc.get_freeze_count() == 0
    lp.close()
    with TestClient(create_app(lp.settings)) as client:  # a server: `launchpoint serve`
        owned = client.app.state.launchpoint  # type: ignore[attr-defined]
        engine = owned.workspace()
        warm = engine._state
        assert owned.refresh()  # built beside
        assert engine._state is not warm and not _collectable(engine._state)
        engine.put_signals({"like": 7.0}, 10.0)
        assert not _collectable(engine.state())  # built on the request path, after a write
        assert gc.get_threshold()[2] < NEVER  # full collections no longer held


def test_launchpoint_serve_settles_the_heap_of_the_launchpoint_it_made(
    tmp_path: Path, thawed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`launchpoint serve` (and `demo`) make the Launchpoint, then hand it to the app: the
    process is still a server, so its state is set aside as the app makes its own."""
    from launchpoint.cli import server as cli_server

    frozen: list[int] = []

    def run(app: Any, **options: Any) -> None:
        with TestClient(app) as client:
            frozen.append(gc.get_freeze_count())
            assert client.get("/v1/users/u1/ribbons").status_code == 200

    monkeypatch.setattr(cli_server.uvicorn, "run", run)
    lp = _launchpoint(tmp_path)
    cli_server.run_server(lp, "127.0.0.1", 0)
    lp.close()
    assert frozen and frozen[0] > 0


def test_refresh_says_when_a_serving_state_was_built_since_it_last_looked(
    tmp_path: Path,
) -> None:
    lp = _launchpoint(tmp_path)
    engine = lp.workspace()
    lp.warm()
    assert lp.refresh() is False  # the warm state is still fresh
    engine.put_signals({"like": 7.0}, 10.0)
    engine.state()  # a request after the write rebuilds it
    assert lp.refresh() is True
    assert lp.refresh() is False
    engine.put_signals({"like": 6.0}, 10.0)
    assert lp.refresh() is True  # this time the refresh itself rebuilds it
    engine.add_items([ItemIn(id="i3", title="Three", categories=["a"])])
    assert lp.refresh() is False  # taken into the state: nothing was built
    lp.close()


def test_a_scheduled_refresh_builds_beside_while_requests_are_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one request thread, a refresh run among the requests answered nothing until the
    state was rebuilt; it now builds in a thread of its own, the old state serving."""
    lp = _launchpoint(tmp_path, refresh_seconds=0.2, request_threads=1)
    engine = lp.workspace()
    made, release, waited = threading.Event(), threading.Event(), threading.Event()
    prepare = engine._prepare

    def held(state: Any, surfaces: Any) -> None:
        made.set()
        try:
            assert release.wait(10)
        finally:
            waited.set()
        prepare(state, surfaces)

    monkeypatch.setattr(engine, "_prepare", held)
    try:
        with TestClient(create_app(lp.settings, launchpoint=lp)) as client:
            assert engine.scheduled
            assert made.wait(10), "the schedule did not build"
            serving = engine._state
            response = client.get("/v1/users/u1/ribbons")
            assert response.status_code == 200, response.text
            assert not waited.is_set()  # answered while the build was held
            assert engine._state is serving
            release.set()
            assert wait_until(lambda: engine._state is not serving)
        assert not engine.scheduled
    finally:
        release.set()
        lp.close()
