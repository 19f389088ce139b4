"""The serving GETs' fast path answers as the routes do, and leaves to the app every request
it could answer otherwise: odd query values, keys without the scope, workspaces not yet made."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from launchpoint.api.fast_path import ServingFastPath
from launchpoint.domain.records import UserIn
from launchpoint.engine import Launchpoint
from tests.api.test_auth import bearer, make, serving
from tests.api.test_error_shape import assert_envelope
from tests.api.test_surfaces import shop

__all__ = ["shop"]  # the fixture, imported for these tests


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each request, whether the fast path answered it (True) or left it to the app."""
    seen: list[bool] = []
    match = ServingFastPath._match

    def spy(self: ServingFastPath, scope: Any) -> Any:
        found = match(self, scope)
        seen.append(found is not None)
        return found

    monkeypatch.setattr(ServingFastPath, "_match", spy)
    return seen


def without_id(page: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in page.items() if k != "recommendation_id"}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/users/u1/ribbons", 200),
        ("/v1/users/u2/ribbons?layers=1&cards=3&surface=home", 200),
        ("/v1/users/u3/ribbons?cards=4&explain=full", 200),
        ("/v1/users/u4/ribbons?explain=shown&unknown=1", 200),  # undeclared: ignored by both
        ("/v1/users/no%2Fbody/ribbons", 404),  # an id with '/', unknown: the same 404
        ("/v1/items/jazz0/related?user=u5&cards=4", 200),
        ("/v1/items/rock1/related?explain=full", 200),
    ],
)
def test_the_fast_path_answers_as_the_route_does(
    shop: TestClient, taken: list[bool], monkeypatch: pytest.MonkeyPatch, path: str, status: int
) -> None:
    fast = shop.get(path)
    assert taken == [True], "the fast path should have answered"
    monkeypatch.setattr(ServingFastPath, "_match", lambda self, scope: None)
    routed = shop.get(path)
    assert fast.status_code == routed.status_code == status
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    assert without_id(fast.json()) == without_id(routed.json())
    if status == 200:
        assert fast.json()["recommendation_id"] != routed.json()["recommendation_id"]


@pytest.mark.parametrize(
    ("path", "status", "mentions"),
    [
        ("/v1/users/u1/ribbons?layers=0", 422, "layers"),
        ("/v1/users/u1/ribbons?layers=51", 422, "layers"),
        ("/v1/users/u1/ribbons?cards=%2B3", 200, None),  # '+3': pydantic's reading, not ours
        ("/v1/users/u1/ribbons?cards=201", 422, "cards"),
        ("/v1/users/u1/ribbons?cards=", 422, "cards"),
        ("/v1/users/u1/ribbons?explain=all", 422, "explain"),
        ("/v1/users/u1/ribbons?layers=1&layers=2", 200, None),
        ("/v1/users/u1/ribbons?surface=" + "s" * 129, 422, "surface"),
        ("/v1/items/jazz0/related?user=" + "u" * 257, 422, "user"),
        ("/v1/users/u1/segments", 200, None),  # another route
    ],
)
def test_what_it_cannot_read_as_the_route_would_goes_to_the_app(
    shop: TestClient, taken: list[bool], path: str, status: int, mentions: str | None
) -> None:
    response = shop.get(path)
    assert taken == [False]
    if mentions is None:
        assert response.status_code == status, response.text
    else:
        error = assert_envelope(response, status, "invalid_input")
        assert mentions in error["message"]


def test_errors_inside_are_the_apps_envelopes(
    shop: TestClient, taken: list[bool], caplog: pytest.LogCaptureFixture
) -> None:
    error = assert_envelope(shop.get("/v1/users/u1/ribbons?surface=nope"), 404, "not_found")
    assert "surface 'nope' is not configured" in error["message"]
    assert_envelope(shop.get("/v1/items/missing/related"), 404, "not_found")
    assert taken == [True, True]
    engine = shop.app.state.launchpoint.workspace()  # type: ignore[attr-defined]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    engine.ribbons_explained = broken
    error = assert_envelope(shop.get("/v1/users/u1/ribbons"), 500, "internal_error")
    assert "boom" not in error["message"]
    assert "unhandled error on GET /v1/users/u1/ribbons" in caplog.text


def test_a_workspace_this_process_has_not_made_goes_to_the_app_first(
    client: TestClient, taken: list[bool]
) -> None:
    # Its own id: a shared PostgreSQL database keeps the workspaces of earlier runs.
    headers = {"X-Workspace": f"another-{uuid.uuid4().hex[:12]}"}
    client.app.state.launchpoint._engines.clear()  # type: ignore[attr-defined]
    assert client.get("/v1/users/u1/ribbons", headers=headers).status_code == 404
    made = client.post("/v1/users", json={"id": "u1"}, headers=headers)
    assert made.status_code == 201, made.text
    assert client.get("/v1/users/u1/ribbons", headers=headers).status_code == 200
    assert client.get("/v1/users/u1/ribbons", headers=headers).status_code == 200
    bad = client.get("/v1/users/u1/ribbons", headers={"X-Workspace": "bad id!"})
    assert_envelope(bad, 422, "invalid_input")
    # The first made the workspace, the POST is not a serving GET, then both were answered here.
    assert taken == [False, False, True, True, False]


def test_keys_the_route_refuses_are_refused_by_the_route(
    backend_url: str, tmp_path: Path, taken: list[bool]
) -> None:
    with serving(backend_url, tmp_path) as (client, lp):
        serve, ingest, admin = make(lp, "serve"), make(lp, "ingest"), make(lp, "admin")
        lp.workspace().add_users([UserIn(id="u1")])  # and made, as a warm start would
        for key in (serve, admin):
            assert client.get("/v1/users/u1/ribbons", headers=bearer(key)).status_code == 200
        refused = client.get("/v1/items/i1/related", headers=bearer(ingest))
        error = assert_envelope(refused, 403, "forbidden")
        assert "GET /v1/items/{item_id}/related needs a key with serve or admin" in error["message"]
        assert_envelope(client.get("/v1/users/u1/ribbons"), 401, "unauthorized")
        # The key check refuses before either path; then serve and admin keys were answered
        # here, the ingest key by the route's check.
        assert taken == [True, True, False]


def test_the_fast_path_is_inside_the_key_check_and_the_body_limit(launchpoint: Launchpoint) -> None:
    from launchpoint.api import create_app

    app = create_app(launchpoint.settings, launchpoint=launchpoint)
    names = [m.cls.__name__ for m in app.user_middleware]  # type: ignore[attr-defined]
    # Outermost first; requests are counted from arrival (launchpoint.api.pacing).
    assert names == ["CountRequests", "ApiKeyMiddleware", "BodySizeLimit", "ServingFastPath"]
