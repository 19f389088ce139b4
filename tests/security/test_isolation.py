"""For every route of the app: a key of workspace A neither reads nor changes workspace B, and
each scope reaches only its routes. Routes are found by walking ``app.routes``, so a route
added later is checked without anyone listing it here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from launchpoint.api import create_app
from launchpoint.api.auth import PUBLIC_ROUTES, ROUTE_SCOPES, route_scope
from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.domain.segments import SegmentSpec, SurfaceSpec
from launchpoint.engine import Launchpoint
from launchpoint.security import Scope, create_key, grants
from launchpoint.settings import Settings
from launchpoint.storage import tables as t
from launchpoint.storage.database import Database
from launchpoint.storage.keys import KeyStore
from tests.security.routes import B_IDS, B_SECRET, Call, Route, app_routes, build_call

AUTH_FILE = "src/launchpoint/api/auth.py"


@dataclass
class World:
    """Workspaces A and B in one database, B holding records marked with B_SECRET."""

    app: FastAPI
    client: TestClient
    lp: Launchpoint
    a: str
    b: str
    a_keys: dict[Scope, str]
    b_admin: str


def _seed(lp: Launchpoint, workspace: str) -> None:
    ws = lp.workspace(workspace)
    ws.add_items([ItemIn(id=B_IDS["item_id"], title=f"{B_SECRET} item", categories=["b"])])
    ws.add_users([UserIn(id=B_IDS["user_id"], attributes={"note": B_SECRET})])
    ws.add_events([EventIn(user_id=B_IDS["user_id"], item_id=B_IDS["item_id"], type="click")])
    ws.put_segment(
        SegmentSpec(id=B_IDS["segment_id"], name=f"{B_SECRET} segment", min_users=0, min_items=0)
    )
    ws.put_surface(B_IDS["surface_id"], SurfaceSpec(fallback_title=f"{B_SECRET} picks"))


@pytest.fixture
def world(backend_url: str, tmp_path: Path) -> Iterator[World]:
    suffix = uuid.uuid4().hex[:10]
    a, b = f"wa{suffix}", f"wb{suffix}"
    settings = Settings(
        database_url=backend_url,
        data_dir=tmp_path,
        workspace=a,
        auth="required",
        admin_key="",
        rate_limit_per_second=0,  # this file sends many requests with one key
    )
    lp = Launchpoint(settings)
    _seed(lp, b)
    store = KeyStore(lp.db)
    a_keys = {scope: create_key(store, a, [scope]).token for scope in Scope}
    b_admin = create_key(store, b, [Scope.ADMIN]).token
    app = create_app(settings, launchpoint=lp)
    with TestClient(app) as client:
        yield World(app, client, lp, a, b, a_keys, b_admin)
    lp.close()


def snapshot(db: Database, workspace: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that belongs to the workspace."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as conn:
        for table in t.metadata.sorted_tables:
            column = table.c.get("workspace_id")
            if column is None and table is t.workspaces:
                column = table.c.id
            if column is None:
                continue
            rows = conn.execute(select(table).where(column == workspace)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def send(client: TestClient, call: Call, key: str | None, **headers: str) -> httpx.Response:
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    kwargs: dict[str, Any] = {"params": call.params, "headers": sent}
    if call.json is not None:
        kwargs["json"] = call.json
    return client.request(call.method, call.url, **kwargs)


def guarded(app: FastAPI) -> list[Route]:
    routes = [r for r in app_routes(app) if (r.method, r.path) not in PUBLIC_ROUTES]
    assert len(routes) >= 20, routes  # the walk found the API, not nothing
    return routes


def reads_first(routes: list[Route]) -> list[Route]:
    """GETs before writes, so a write of A (say, PUT of a segment named like one of B's)
    cannot give a later read of A something to find."""
    return sorted(routes, key=lambda r: r.method != "GET")


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


# -- the table ------------------------------------------------------------------------------


def _app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(database_url=f"sqlite:///{tmp_path / 'routes.db'}"))


def test_every_route_is_classified_in_the_scope_table(tmp_path: Path) -> None:
    routes = app_routes(_app(tmp_path))
    missing = [
        r
        for r in routes
        if (r.method, r.path) not in ROUTE_SCOPES and (r.method, r.path) not in PUBLIC_ROUTES
    ]
    lines = "\n".join(f'    ("{r.method}", "{r.path}"): KeyScope.ADMIN,' for r in missing)
    assert not missing, (
        f"{len(missing)} route(s) need an API-key scope. Add to ROUTE_SCOPES in {AUTH_FILE} "
        f"(KeyScope.INGEST for data writes, KeyScope.SERVE for what a product shows, else "
        f"ADMIN), and to the table in docs/guides/security.md:\n{lines}"
    )


def test_the_scope_table_names_only_routes_that_exist(tmp_path: Path) -> None:
    existing = {(r.method, r.path) for r in app_routes(_app(tmp_path))}
    stale = sorted(set(ROUTE_SCOPES) - existing)
    assert not stale, f"remove from ROUTE_SCOPES in {AUTH_FILE} (no such route): {stale}"


def test_only_fastapi_routes_can_be_guarded_so_other_routes_must_be_public(
    tmp_path: Path,
) -> None:
    # The scope check is an app-wide FastAPI dependency: a plain Starlette route or a Mount
    # would let a key of any scope in.
    unguarded = [
        r
        for r in app_routes(_app(tmp_path))
        if not r.api_route and (r.method, r.path) not in PUBLIC_ROUTES
    ]
    assert not unguarded, (
        f"make these FastAPI routes (APIRouter) so their scope is checked: {unguarded}"
    )


def test_public_routes_are_exact_paths(tmp_path: Path) -> None:
    assert all("{" not in path for _, path in PUBLIC_ROUTES)
    existing = {(r.method, r.path) for r in app_routes(_app(tmp_path))}
    assert ("GET", "/healthz") in existing & PUBLIC_ROUTES


def test_a_route_missing_from_the_table_needs_admin() -> None:
    assert route_scope("DELETE", "/v1/not/in/the/table") is Scope.ADMIN
    assert route_scope("POST", "/v1/items") is Scope.INGEST
    assert route_scope("HEAD", "/healthz") is None


# -- workspace A against workspace B ---------------------------------------------------------


def test_a_key_of_workspace_a_naming_b_in_the_header_is_refused_on_every_route(
    world: World,
) -> None:
    before = snapshot(world.lp.db, world.b)
    for route in guarded(world.app):
        call = build_call(world.app, route)
        for scope, key in world.a_keys.items():
            response = send(world.client, call, key, x_workspace=world.b)
            assert response.status_code == 403, (route, scope, response.text)
            assert error(response)["code"] == "forbidden"
            assert B_SECRET not in response.text
    assert snapshot(world.lp.db, world.b) == before


def test_a_key_of_workspace_a_never_reads_or_changes_b_on_any_route(world: World) -> None:
    before = snapshot(world.lp.db, world.b)
    a_before = snapshot(world.lp.db, world.a)
    for route in reads_first(guarded(world.app)):
        call = build_call(world.app, route)
        response = send(world.client, call, world.a_keys[Scope.ADMIN])
        assert response.status_code != 422, (
            f"the sample request for {route.method} {route.path} is not valid "
            f"({response.text}); give it a minimal valid body in SAMPLE_BODIES in "
            "tests/security/routes.py"
        )
        # The key acts on A, where B's ids do not exist: found nothing, or acted on A.
        assert response.status_code < 300 or response.status_code == 404, (route, response.text)
        assert B_SECRET not in response.text, (route, response.text)
    assert snapshot(world.lp.db, world.b) == before
    assert snapshot(world.lp.db, world.a) != a_before  # the writes were real, and landed in A
    # B's own key still sees B's data as it was.
    b_item = world.client.get(
        f"/v1/items/{B_IDS['item_id']}", headers={"Authorization": f"Bearer {world.b_admin}"}
    )
    assert b_item.status_code == 200 and B_SECRET in b_item.json()["title"]


def test_b_ids_are_404_for_a_key_of_a(world: World) -> None:
    key = {"Authorization": f"Bearer {world.a_keys[Scope.ADMIN]}"}
    for path in (
        f"/v1/items/{B_IDS['item_id']}",
        f"/v1/users/{B_IDS['user_id']}",
        f"/v1/users/{B_IDS['user_id']}/ribbons",
        f"/v1/segments/{B_IDS['segment_id']}",
    ):
        response = world.client.get(path, headers=key)
        assert response.status_code == 404, (path, response.text)
        assert error(response)["code"] == "not_found"
    stats = world.client.get("/v1/stats", headers=key).json()
    assert stats["workspace"] == world.a and stats["items"] == 0


# -- scopes ---------------------------------------------------------------------------------


def test_each_scope_reaches_only_its_routes(world: World) -> None:
    reached: dict[Scope, set[tuple[str, str]]] = {scope: set() for scope in Scope}
    for route in reads_first(guarded(world.app)):
        call = build_call(world.app, route)
        needed = route_scope(route.method, route.path)
        assert needed is not None
        for scope, key in world.a_keys.items():
            response = send(world.client, call, key)
            if grants(frozenset({scope}), needed):
                assert response.status_code not in (401, 403), (route, scope, response.text)
                reached[scope].add((route.method, route.path))
            else:
                assert response.status_code == 403, (route, scope, response.text)
                err = error(response)
                assert err["code"] == "forbidden"
                assert needed.value in err["message"] and route.path in err["message"]
    assert reached[Scope.ADMIN] == {(r.method, r.path) for r in guarded(world.app)}
    assert reached[Scope.INGEST] == {k for k, v in ROUTE_SCOPES.items() if v is Scope.INGEST}
    assert reached[Scope.SERVE] == {k for k, v in ROUTE_SCOPES.items() if v is Scope.SERVE}
    assert ("POST", "/v1/events") in reached[Scope.INGEST]
    assert ("GET", "/v1/users/{user_id}/ribbons") in reached[Scope.SERVE]


def test_no_key_an_unknown_key_or_a_revoked_key_is_401_on_every_route(world: World) -> None:
    store = KeyStore(world.lp.db)
    revoked = create_key(store, world.a, [Scope.ADMIN])
    store.revoke(world.a, revoked.record.id, 1.0)
    unknown = "lp_0123456789ab_" + "x" * 43
    before = snapshot(world.lp.db, world.a)
    for route in guarded(world.app):
        call = build_call(world.app, route)
        for key in (None, unknown, "not-a-key", revoked.token):
            response = send(world.client, call, key)
            assert response.status_code == 401, (route, key, response.text)
            assert error(response)["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert snapshot(world.lp.db, world.a) == before


def test_public_routes_answer_without_a_key(world: World) -> None:
    for method, path in sorted(PUBLIC_ROUTES):
        if path == "/docs/oauth2-redirect":
            continue  # a page for the browser's OAuth flow; it answers, but needs a query
        response = world.client.request(method, path)
        assert response.status_code == 200, (path, response.text)
