from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from launchpoint.api import create_app
from launchpoint.settings import Settings


def _client(tmp_path: Path) -> TestClient:
    settings = Settings(
        data_dir=tmp_path, max_body_bytes=2000, workspace=f"w{uuid.uuid4().hex[:8]}"
    )
    return TestClient(create_app(settings))


def test_oversized_body_is_refused_with_the_envelope(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        items = [{"id": f"i{n}", "title": "x" * 50} for n in range(100)]
        response = client.post("/v1/items/batch", json={"items": items})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert "2,000 bytes" in response.json()["error"]["message"]
        assert client.get("/v1/stats").json()["items"] == 0


def test_chunked_body_without_length_is_counted(tmp_path: Path) -> None:
    with _client(tmp_path) as client:

        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b" " * 500

        response = client.post(
            "/v1/items", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413


def test_small_body_passes(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        assert client.post("/v1/items", json={"id": "a"}).status_code == 201


def test_worker_processes_build_the_app_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from launchpoint.api.app import app_from_environment

    monkeypatch.setenv("LAUNCHPOINT_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("LAUNCHPOINT_WORKSPACE", "from-env")
    with TestClient(app_from_environment()) as client:
        assert client.get("/v1/stats").json()["workspace"] == "from-env"
    assert (tmp_path / "env.db").exists()


def test_a_server_works_on_request_threads_requests_at_once(tmp_path: Path) -> None:
    from anyio import to_thread

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'lp.db'}", data_dir=tmp_path, request_threads=3
    )
    with TestClient(create_app(settings)) as client:
        assert client.portal is not None
        tokens = client.portal.call(lambda: to_thread.current_default_thread_limiter().total_tokens)
    assert tokens == 3
