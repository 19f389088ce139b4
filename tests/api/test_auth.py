"""API keys on the wire: 401, 403, 429 with Retry-After, revocation, the X-Workspace header,
the bootstrap admin key, and the production defaults."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from launchpoint.api import create_app
from launchpoint.engine import Launchpoint
from launchpoint.errors import InvalidInput
from launchpoint.security import NewKey, create_key
from launchpoint.settings import DEV_ADMIN_KEY, Settings, load_settings
from launchpoint.storage.keys import KeyStore
from tests.api.test_error_shape import assert_envelope

STRONG_KEY = "k" * 16 + "Q9x_2mZ-7vLp4rT8"  # 32 characters, none of them a known default


@contextmanager
def serving(
    backend_url: str, tmp_path: Path, **changes: Any
) -> Iterator[tuple[TestClient, Launchpoint]]:
    values: dict[str, Any] = {
        "database_url": backend_url,
        "data_dir": tmp_path,
        "workspace": f"t{uuid.uuid4().hex[:12]}",
        "auth": "required",
        **changes,
    }
    lp = Launchpoint(Settings(**values))
    try:
        with TestClient(create_app(lp.settings, launchpoint=lp)) as client:
            yield client, lp
    finally:
        lp.close()


@pytest.fixture
def api(backend_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Launchpoint]]:
    with serving(backend_url, tmp_path, auth_cache_seconds=0) as pair:
        yield pair


def bearer(key: NewKey | str) -> dict[str, str]:
    token = key.token if isinstance(key, NewKey) else key
    return {"Authorization": f"Bearer {token}"}


def make(lp: Launchpoint, *scopes: str, workspace: str | None = None, **options: Any) -> NewKey:
    return create_key(
        KeyStore(lp.db), workspace or lp.settings.workspace, list(scopes) or ["admin"], **options
    )


# -- 401 -----------------------------------------------------------------------------------


def test_a_request_without_a_key_is_a_401_that_says_how_to_send_one(
    api: tuple[TestClient, Launchpoint],
) -> None:
    client, _ = api
    response = client.get("/v1/stats")
    error = assert_envelope(response, 401, "unauthorized")
    assert "Authorization: Bearer" in error["message"]
    assert "launchpoint keys create" in error["message"]
    assert response.headers["www-authenticate"] == 'Bearer realm="launchpoint"'


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer nope", "Token abc", "Basic !!!not-base64", "lp_0123456789ab_" + "x" * 43],
)
def test_a_malformed_or_unsupported_authorization_is_a_401(
    api: tuple[TestClient, Launchpoint], header: str
) -> None:
    client, _ = api
    assert_envelope(client.get("/v1/stats", headers={"Authorization": header}), 401)


def test_a_body_is_not_read_before_the_key_is_checked(api: tuple[TestClient, Launchpoint]) -> None:
    client, _ = api
    response = client.post(
        "/v1/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_envelope(response, 401, "unauthorized")


def test_a_revoked_key_is_refused_at_once_with_no_cache(
    api: tuple[TestClient, Launchpoint],
) -> None:
    client, lp = api
    key = make(lp, "admin")
    assert client.get("/v1/stats", headers=bearer(key)).status_code == 200
    KeyStore(lp.db).revoke(lp.settings.workspace, key.record.id, at=1.0)
    error = assert_envelope(client.get("/v1/stats", headers=bearer(key)), 401, "unauthorized")
    assert "revoked" in error["message"]


def test_a_revoked_key_is_refused_once_the_cache_expires(backend_url: str, tmp_path: Path) -> None:
    with serving(backend_url, tmp_path, auth_cache_seconds=1.0) as (client, lp):
        key = make(lp, "admin")
        assert client.get("/v1/stats", headers=bearer(key)).status_code == 200
        KeyStore(lp.db).revoke(lp.settings.workspace, key.record.id, at=1.0)
        guard = client.app.state.key_guard  # type: ignore[attr-defined]
        guard.authenticator.clock = lambda: float("inf")  # as if the entry had expired
        assert_envelope(client.get("/v1/stats", headers=bearer(key)), 401, "unauthorized")


# -- 403 -----------------------------------------------------------------------------------


def test_a_key_of_too_narrow_a_scope_is_a_403_naming_the_scope_it_needs(
    api: tuple[TestClient, Launchpoint],
) -> None:
    client, lp = api
    serve = make(lp, "serve")
    error = assert_envelope(
        client.post("/v1/items", json={"id": "i1"}, headers=bearer(serve)), 403, "forbidden"
    )
    assert "POST /v1/items needs a key with ingest or admin" in error["message"]
    assert "this key's scopes: serve" in error["message"]
    assert error["details"] == [{"loc": "scope", "message": "needs ingest", "needed": "ingest"}]
    error = assert_envelope(client.get("/v1/stats", headers=bearer(serve)), 403)
    assert "needs an admin key" in error["message"]


def test_a_key_with_several_scopes_reaches_the_routes_of_each(
    api: tuple[TestClient, Launchpoint],
) -> None:
    client, lp = api
    both = make(lp, "ingest", "serve")
    assert client.post("/v1/users", json={"id": "u1"}, headers=bearer(both)).status_code == 201
    assert client.get("/v1/users/u1/ribbons", headers=bearer(both)).status_code == 200
    assert client.get("/v1/users/u1", headers=bearer(both)).status_code == 403


def test_the_workspace_comes_from_the_key(api: tuple[TestClient, Launchpoint]) -> None:
    client, lp = api
    other = f"o{uuid.uuid4().hex[:12]}"
    key = make(lp, "admin", workspace=other)
    assert client.post("/v1/items", json={"id": "i1"}, headers=bearer(key)).status_code == 201
    assert client.get("/v1/stats", headers=bearer(key)).json()["workspace"] == other
    assert lp.workspace(other).stats()["items"] == 1
    assert lp.workspace().stats()["items"] == 0  # not the default workspace
    # Naming the key's own workspace is fine; naming another is refused.
    same = client.get("/v1/stats", headers={**bearer(key), "X-Workspace": other})
    assert same.status_code == 200
    error = assert_envelope(
        client.get("/v1/stats", headers={**bearer(key), "X-Workspace": lp.settings.workspace}),
        403,
        "forbidden",
    )
    assert f"belongs to workspace {other!r}" in error["message"]
    assert lp.settings.workspace not in error["message"]  # says nothing of the other one


# -- 429 -----------------------------------------------------------------------------------


def test_a_key_over_its_rate_gets_a_429_with_retry_after_and_nothing_is_written(
    api: tuple[TestClient, Launchpoint],
) -> None:
    client, lp = api
    # One request per 1000 s: the bucket holds one token, and the second request cannot
    # have earned another however slow the machine is.
    slow = make(lp, "admin", rate_per_second=0.001)
    assert client.post("/v1/items", json={"id": "i1"}, headers=bearer(slow)).status_code == 201
    response = client.post("/v1/items", json={"id": "i2"}, headers=bearer(slow))
    error = assert_envelope(response, 429, "rate_limited")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 1000
    assert f"retry in {retry_after} s" in error["message"]
    assert slow.record.id in error["message"]
    other = make(lp, "admin")  # buckets are per key
    assert client.get("/v1/stats", headers=bearer(other)).json()["items"] == 1


def test_the_default_rate_applies_to_keys_that_set_none(backend_url: str, tmp_path: Path) -> None:
    with serving(backend_url, tmp_path, rate_limit_per_second=0.001) as (client, lp):
        key = make(lp, "admin")
        assert client.get("/v1/stats", headers=bearer(key)).status_code == 200
        response = client.get("/v1/stats", headers=bearer(key))
        assert_envelope(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
        assert client.get("/healthz").status_code == 200  # public routes are not counted


# -- the Segment libraries' Basic auth, the bootstrap key -------------------------------------


def test_basic_auth_with_the_key_as_user_name_works_for_segment_libraries(
    api: tuple[TestClient, Launchpoint],
) -> None:
    client, lp = api
    key = make(lp, "ingest")
    basic = base64.b64encode(f"{key.token}:".encode()).decode()
    body = {"userId": "u1", "event": "Product Viewed"}
    response = client.post("/v1/track", json=body, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1


def test_the_development_admin_key_works_when_auth_is_required_in_development(
    backend_url: str, tmp_path: Path
) -> None:
    with serving(backend_url, tmp_path) as (client, lp):
        response = client.get("/v1/stats", headers=bearer(DEV_ADMIN_KEY))
        assert response.status_code == 200
        assert response.json()["workspace"] == lp.settings.workspace


def test_an_empty_admin_key_setting_disables_the_bootstrap_key(
    backend_url: str, tmp_path: Path
) -> None:
    with serving(backend_url, tmp_path, admin_key="") as (client, _):
        assert_envelope(client.get("/v1/stats", headers=bearer(DEV_ADMIN_KEY)), 401)
        assert_envelope(client.get("/v1/stats", headers=bearer("")), 401)


# -- modes and production -------------------------------------------------------------------


def test_auth_is_off_by_default_in_development(client: TestClient) -> None:
    assert client.get("/v1/stats").status_code == 200
    assert client.get("/v1/stats", headers=bearer("not a key at all")).status_code == 200


def test_auth_auto_means_off_in_development_and_required_in_production() -> None:
    assert not Settings().auth_required
    production = Settings(env="production", database_url="sqlite:///x.db", admin_key=STRONG_KEY)
    assert production.auth_required
    assert not production.model_copy(update={"auth": "off"}).auth_required
    assert Settings(auth="required").auth_required


@pytest.mark.parametrize("admin_key", [DEV_ADMIN_KEY, "changethis", "Secret", "short-but-random-7"])
def test_production_refuses_a_default_or_short_admin_key(admin_key: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        load_settings(env="production", database_url="sqlite:///x.db", admin_key=admin_key)
    assert "LAUNCHPOINT_ADMIN_KEY" in raised.value.message
    assert "at least 32" in raised.value.message


def test_production_refuses_to_start_with_the_default_admin_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LAUNCHPOINT_ENV", "production")
    monkeypatch.setenv("LAUNCHPOINT_DATABASE_URL", "sqlite:///x.db")
    with pytest.raises(ValueError, match="LAUNCHPOINT_ADMIN_KEY is the development default"):
        Settings()
    monkeypatch.setenv("LAUNCHPOINT_ADMIN_KEY", "")
    assert Settings().admin_key.get_secret_value() == ""


def test_production_with_a_strong_admin_key_requires_keys(backend_url: str, tmp_path: Path) -> None:
    with serving(backend_url, tmp_path, env="production", auth="auto", admin_key=STRONG_KEY) as (
        client,
        _,
    ):
        assert_envelope(client.get("/v1/stats"), 401)
        assert_envelope(client.get("/v1/stats", headers=bearer(DEV_ADMIN_KEY)), 401)
        assert client.get("/v1/stats", headers=bearer(STRONG_KEY)).status_code == 200
        assert client.get("/healthz").status_code == 200
    assert "k" * 16 not in repr(Settings(admin_key=STRONG_KEY))  # a secret is not printed


def test_auth_off_in_production_is_allowed_but_logged(
    backend_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="launchpoint.api"),
        serving(backend_url, tmp_path, env="production", auth="off", admin_key="") as (client, _),
    ):
        assert client.get("/v1/stats").status_code == 200
    assert "LAUNCHPOINT_AUTH=off in production" in caplog.text
