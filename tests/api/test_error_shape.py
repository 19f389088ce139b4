"""Every error the API returns has one shape: ``{"error": {"code", "message", "details"}}``.

Modelled on datasette's tests/test_error_shape.py: besides the named cases, every /v1 route
found by walking ``app.routes`` is sent bad input and must answer with the envelope.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from launchpoint.api import create_app
from launchpoint.engine import Launchpoint
from launchpoint.settings import Settings

BAD_WORKSPACES = ["bad ws!", "a/b", "../etc", "semi;colon", "x" * 129, "tab\there"]


def assert_envelope(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """The one error shape, and nothing else in the body; returns the inner error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and re.fullmatch(r"[a-z_]+", error["code"]), error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert isinstance(error["details"], list), error
    for detail in error["details"]:
        assert isinstance(detail, dict) and {"loc", "message"} <= set(detail), detail
    if code is not None:
        assert error["code"] == code, error
    return error


# -- walking the app's routes -----------------------------------------------------------------


def _walk(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        methods = getattr(route, "methods", None)
        path = getattr(route, "path", None)
        if methods and path is not None:
            for method in sorted(methods - {"HEAD", "OPTIONS"}):
                yield method, prefix + path
        elif getattr(route, "original_router", None) is not None:
            # FastAPI keeps an included router as one node holding the original router.
            context = getattr(route, "include_context", None)
            inner_prefix = getattr(context, "prefix", "") or ""
            yield from _walk(route.original_router.routes, prefix + inner_prefix)
        elif getattr(route, "routes", None) is not None:  # a starlette Mount
            yield from _walk(route.routes, prefix + (path or ""))


def v1_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every /v1 operation, paths as the schema writes them: a parameter's
    convertor (``{item_id:path}``) dropped."""
    return sorted(
        {
            (m, re.sub(r"\{(\w+):\w+\}", r"{\1}", p))
            for m, p in _walk(app.routes)
            if p.startswith("/v1")
        }
    )


def _concrete(path: str) -> str:
    """A path template with every parameter filled by an id that exists nowhere."""
    return re.sub(r"\{[^}]+\}", f"missing-{uuid.uuid4().hex[:8]}", path)


def _operation(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    return app.openapi()["paths"][path][method.lower()]  # type: ignore[no-any-return]


def test_the_route_walk_finds_every_v1_operation_in_the_schema(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    walked = v1_routes(app)
    documented = sorted(
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/v1")
        for method in operations
    )
    assert walked == documented
    # The ones this suite relies on are there, so the walk cannot silently find nothing.
    assert {
        ("POST", "/v1/items"),
        ("POST", "/v1/items/batch"),
        ("GET", "/v1/items/{item_id}"),
        ("POST", "/v1/users"),
        ("POST", "/v1/users/batch"),
        ("GET", "/v1/users/{user_id}"),
        ("GET", "/v1/users/{user_id}/ribbons"),
        ("POST", "/v1/events"),
        ("POST", "/v1/events/batch"),
        ("GET", "/v1/segments"),
        ("POST", "/v1/segments"),
        ("GET", "/v1/segments/report"),
        ("GET", "/v1/segments/{segment_id}"),
        ("PUT", "/v1/segments/{segment_id}"),
        ("POST", "/v1/apply"),
        ("GET", "/v1/stats"),
        ("GET", "/v1/surfaces"),
        ("PUT", "/v1/surfaces/{surface_id}"),
    } <= set(walked)


def test_every_v1_route_refuses_an_invalid_workspace_header_with_the_envelope(
    client: TestClient,
) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    routes = v1_routes(app)
    assert routes
    for method, path in routes:
        for bad in ("bad ws!", "x" * 129):
            kwargs: dict[str, Any] = {"headers": {"X-Workspace": bad}}
            if method in ("POST", "PUT"):
                kwargs["json"] = {}
            response = client.request(method, _concrete(path), **kwargs)
            error = assert_envelope(response, 422, "invalid_input")
            assert "workspace" in error["message"], (method, path, error)


def test_every_v1_route_with_a_body_refuses_a_body_of_the_wrong_type(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    with_body = [(m, p) for m, p in v1_routes(app) if "requestBody" in _operation(app, m, p)]
    assert len(with_body) >= 9  # items, users, events (one and batch), segments x2, apply, surface
    for method, path in with_body:
        response = client.request(method, _concrete(path), json=[1, 2, 3])
        error = assert_envelope(response, 422, "invalid_input")
        assert error["details"], (method, path, error)
        assert all(d["loc"].startswith("body") for d in error["details"]), (method, path, error)
        assert error["message"].startswith("body"), (method, path, error)


def test_every_v1_route_with_a_body_refuses_malformed_json(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    for method, path in v1_routes(app):
        if "requestBody" not in _operation(app, method, path):
            continue
        response = client.request(
            method,
            _concrete(path),
            content=b'{"id": "x",',
            headers={"content-type": "application/json"},
        )
        error = assert_envelope(response, 422, "invalid_input")
        assert "json" in error["message"].lower(), (method, path, error)
        assert error["details"][0]["loc"].startswith("body"), error


def test_every_v1_get_route_with_an_id_answers_404_for_an_unknown_id(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    routes = [(m, p) for m, p in v1_routes(app) if m == "GET" and "{" in p]
    assert len(routes) >= 4  # item, user, user's ribbons, segment
    for method, path in routes:
        missing = _concrete(path)
        error = assert_envelope(client.request(method, missing), 404, "not_found")
        assert "missing-" in error["message"], (path, error)  # names the id it did not find


def _matches(template: str, path: str) -> bool:
    """Whether a route template fits a path; user and item ids may hold '/' (``:path``)."""
    pattern = re.escape(template)
    pattern = re.sub(r"\\\{(user_id|item_id)\\\}", ".+", pattern)
    return re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern), path) is not None


def test_every_v1_path_answers_405_in_the_envelope_for_a_method_it_lacks(
    client: TestClient,
) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    routes = v1_routes(app)
    checked = 0
    for template in sorted({p for _, p in routes}):
        path = _concrete(template)
        # /v1/segments/report is also /v1/segments/{segment_id}: count every template it fits.
        methods = {m for m, p in routes if _matches(p, path)}
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            if method in methods:
                continue
            response = client.request(method, path)
            assert_envelope(response, 405, "method_not_allowed")
            # Starlette's Allow header names the first route matching the path, not all.
            allow = set(response.headers["allow"].replace(" ", "").split(","))
            assert allow and allow <= methods, (method, path, allow)
            checked += 1
    assert checked >= 30


# -- named cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/v1/nope", "/v1/nope/a/b", "/v2/stats"])
def test_unknown_route_is_a_404_envelope_naming_the_path(client: TestClient, path: str) -> None:
    error = assert_envelope(client.get(path), 404, "not_found")
    assert path in error["message"]
    assert error["details"] == []


def test_wrong_method_is_a_405_envelope(client: TestClient) -> None:
    response = client.delete("/v1/stats")
    assert_envelope(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


def test_wrong_method_message_says_which_methods_are_allowed(client: TestClient) -> None:
    error = assert_envelope(client.delete("/v1/stats"), 405)
    assert "DELETE" in error["message"] and "/v1/stats" in error["message"]
    assert "GET" in error["message"]


def test_405_names_every_method_the_path_allows(client: TestClient) -> None:
    response = client.delete("/v1/segments")
    error = assert_envelope(response, 405, "method_not_allowed")
    assert "GET" in error["message"] and "POST" in error["message"]
    assert {"GET", "POST"} <= set(response.headers["allow"].replace(" ", "").split(","))


def test_malformed_json_body_is_a_422_envelope(client: TestClient) -> None:
    response = client.post(
        "/v1/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    error = assert_envelope(response, 422, "invalid_input")
    assert error["details"][0]["type"] == "json_invalid"
    assert "JSON" in error["message"]


def test_missing_field_is_named_in_the_message(client: TestClient) -> None:
    error = assert_envelope(client.post("/v1/items", json={"title": "no id"}), 422, "invalid_input")
    assert error["message"].startswith("body.id")
    assert error["details"] == [{"loc": "body.id", "message": "Field required", "type": "missing"}]


def test_invalid_event_type_is_named_in_the_message(client: TestClient) -> None:
    response = client.post("/v1/events", json={"user_id": "u1", "type": "Not A Word"})
    error = assert_envelope(response, 422, "invalid_input")
    assert error["message"].startswith("body.type")
    assert "lowercase word" in error["message"]
    assert [d["loc"] for d in error["details"]] == ["body.type"]


def test_every_problem_is_reported_and_counted_in_the_message(client: TestClient) -> None:
    response = client.post(
        "/v1/events/batch",
        json={"events": [{"type": "view"}, {"user_id": "u", "type": "click", "timestamp": "soon"}]},
    )
    error = assert_envelope(response, 422, "invalid_input")
    locs = [d["loc"] for d in error["details"]]
    assert "body.events[0].user_id" in locs
    assert "body.events[1].timestamp" in locs
    assert f"(and {len(locs) - 1} more)" in error["message"]


def test_query_parameter_validation_names_the_parameter(client: TestClient) -> None:
    client.post("/v1/users", json={"id": "u1"})
    for params, loc in (({"layers": 0}, "query.layers"), ({"cards": "many"}, "query.cards")):
        response = client.get("/v1/users/u1/ribbons", params=params)
        error = assert_envelope(response, 422, "invalid_input")
        assert error["message"].startswith(loc), error


@pytest.mark.parametrize(
    "path",
    [
        "/v1/items/nothing-here",
        "/v1/users/nothing-here",
        "/v1/segments/nothing-here",
        "/v1/users/nothing-here/ribbons",
    ],
)
def test_unknown_ids_are_404_envelopes_that_name_the_id(client: TestClient, path: str) -> None:
    error = assert_envelope(client.get(path), 404, "not_found")
    assert "'nothing-here'" in error["message"]


def test_unknown_surface_is_a_404_listing_the_known_ones(client: TestClient) -> None:
    client.post("/v1/users", json={"id": "u1"})
    client.put("/v1/surfaces/email", json={"layers": 1})
    error = assert_envelope(
        client.get("/v1/users/u1/ribbons", params={"surface": "sidebar"}), 404, "not_found"
    )
    assert "'sidebar'" in error["message"]
    assert "email" in error["message"] and "home" in error["message"]


def _load_rule_fields(client: TestClient) -> None:
    users = {"users": [{"id": "u1", "attributes": {"region": "eu", "age": 30}}]}
    assert client.post("/v1/users/batch", json=users).status_code == 201
    items = {"items": [{"id": "i1", "categories": ["a"], "attributes": {"shelf": "x"}}]}
    assert client.post("/v1/items/batch", json=items).status_code == 201


def test_misspelt_field_in_a_rule_points_at_line_and_column_with_a_suggestion(
    client: TestClient,
) -> None:
    _load_rule_fields(client)
    rule = "region = 'eu' and\n  agee > 3"
    response = client.post("/v1/segments", json={"id": "s1", "users": rule})
    error = assert_envelope(response, 422, "invalid_rule")
    (detail,) = error["details"]
    assert detail["line"] == 2 and detail["column"] == 3
    assert detail["rule"] == "users" and detail["segment"] == "s1"
    assert "did you mean 'age'?" in detail["message"]
    assert "users:2:3" in detail["loc"]
    assert "did you mean 'age'?" in error["message"]


def test_misspelt_item_field_gets_a_suggestion_too(client: TestClient) -> None:
    _load_rule_fields(client)
    response = client.post("/v1/segments", json={"id": "s1", "items": "shelff = 'x'"})
    error = assert_envelope(response, 422, "invalid_rule")
    (detail,) = error["details"]
    assert detail["rule"] == "items" and (detail["line"], detail["column"]) == (1, 1)
    assert "did you mean 'shelf'?" in detail["message"]


def test_rule_syntax_error_points_at_the_token_and_says_what_was_expected(
    client: TestClient,
) -> None:
    response = client.post("/v1/segments", json={"id": "s1", "users": "region = = 'eu'"})
    error = assert_envelope(response, 422, "invalid_rule")
    (detail,) = error["details"]
    assert (detail["line"], detail["column"]) == (1, 10)
    assert "unexpected '='" in detail["message"] and "expected" in detail["message"]


@pytest.mark.parametrize("bad", BAD_WORKSPACES)
def test_invalid_workspace_header_is_a_422_envelope(client: TestClient, bad: str) -> None:
    error = assert_envelope(client.get("/v1/stats", headers={"X-Workspace": bad}), 422)
    assert error["code"] == "invalid_input"
    assert "workspace id" in error["message"] and "letters, digits" in error["message"]


def test_unexpected_errors_are_a_500_envelope_without_internals(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=tmp_path)
    lp = Launchpoint(settings)
    try:
        app = create_app(settings, launchpoint=lp)

        @app.get("/v1/boom")
        def boom() -> None:
            raise RuntimeError("secret internal detail")

        with TestClient(app, raise_server_exceptions=False) as c:
            response = c.get("/v1/boom")
        error = assert_envelope(response, 500, "internal_error")
        assert "server log" in error["message"]
        assert "secret" not in response.text
        assert "Traceback" not in response.text
    finally:
        lp.close()


def test_a_body_over_max_body_bytes_is_a_413_envelope(backend_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=backend_url,
        data_dir=tmp_path,
        workspace=f"t{uuid.uuid4().hex[:12]}",
        max_body_bytes=1000,
    )
    lp = Launchpoint(settings)
    try:
        with TestClient(create_app(settings, launchpoint=lp)) as c:
            small = c.post("/v1/items", json={"id": "small", "text": "x" * 500})
            assert small.status_code == 201, small.text
            big = c.post("/v1/items", json={"id": "big", "text": "x" * 5000})
            error = assert_envelope(big, 413, "payload_too_large")
            assert "1,000 bytes" in error["message"]

            def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted
                yield b'{"id": "streamed", "text": "'
                for _ in range(10):
                    yield b"y" * 500
                yield b'"}'

            streamed = c.post(
                "/v1/items", content=chunks(), headers={"content-type": "application/json"}
            )
            assert_envelope(streamed, 413, "payload_too_large")
            assert c.get("/v1/stats").json()["items"] == 1  # only 'small' was stored
    finally:
        lp.close()
