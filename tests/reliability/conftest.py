"""Fixtures of the reliability tests: a pool of real server processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability._server import ServerPool


@pytest.fixture(scope="module")
def server_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    pool = ServerPool(tmp_path_factory.mktemp("servers") / "server.log")
    yield pool
    pool.close()
