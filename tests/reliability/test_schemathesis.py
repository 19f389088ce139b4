"""Schemathesis over the app's own OpenAPI document: whatever a client sends, valid for the
schema or not, no operation answers with a server error (5xx).

Every operation of the document gets its own test: requests generated from its schema
(positive and negative cases, derandomised) are sent in-process to an app over a small demo
workspace (items, users, events, segments), on every backend.

A server error found and not fixed yet is listed in KNOWN_SERVER_ERRORS: what is wrong, the
smallest requests that show it, and how to recognise a generated request that meets it. Its
reproductions run as tests expected to fail (strict: once fixed, they turn red until the entry
is removed); the fuzzing passes over a 5xx that the entry recognises and keeps looking for any
other, so a known bug never hides a new one."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from launchpoint.api import create_app
from launchpoint.demo import generate_demo
from launchpoint.domain.records import UserIn
from launchpoint.domain.segments import WorkspaceConfig
from launchpoint.engine import Launchpoint
from launchpoint.settings import Settings
from launchpoint.storage import Database
from tests.conftest import POSTGRES_URL
from tests.reliability._storage import drop_workspace

EXAMPLES_PER_OPERATION = 20
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=pytest.mark.skipif(
            not POSTGRES_URL, reason="set LAUNCHPOINT_TEST_POSTGRES_URL to run against PostgreSQL"
        ),
    ),
]


def _schema() -> schemathesis.BaseSchema:
    # Only to read the OpenAPI document at collection: no database is opened or migrated.
    settings = Settings(database_url="sqlite://")
    app = create_app(settings, launchpoint=Launchpoint(settings, migrate=False))
    return schemathesis.openapi.from_dict(app.openapi())


def _operations() -> dict[str, schemathesis.APIOperation]:
    operations = {}
    for result in _schema().get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()  # the app's own document does not describe an operation right
        operations[result.ok().label] = result.ok()
    return operations


OPERATIONS = _operations()


# -- known server errors -------------------------------------------------------------------
def _values_under(body: Any, keys: frozenset[str]) -> Iterator[Any]:
    """Every value held under one of ``keys``, at any depth of a JSON body."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key in keys:
                yield value
            yield from _values_under(value, keys)
    elif isinstance(body, list):
        for value in body:
            yield from _values_under(value, keys)


def _timestamp_not_scalar(case: schemathesis.Case) -> bool:
    times = frozenset({"timestamp", "created_at", "sentAt"})
    return any(isinstance(v, dict | list) for v in _values_under(case.body, times))


def _path_parameter(case: schemathesis.Case, name: str) -> str:
    return unquote(str(case.path_parameters.get(name, "")))  # generated already %-encoded


def _invalid_user_id_in_path(case: schemathesis.Case) -> bool:
    try:
        UserIn(id=_path_parameter(case, "user_id"))
    except ValidationError:
        return True
    return False


def _nul_in_item_text(case: schemathesis.Case) -> bool:
    texts = _values_under(case.body, frozenset({"title", "text"}))
    return any(isinstance(v, str) and "\x00" in v for v in texts)


def _surface_id_unstorable(case: schemathesis.Case) -> bool:
    surface_id = _path_parameter(case, "surface_id")
    return "\x00" in surface_id or len(surface_id) > 128


@dataclass(frozen=True)
class KnownServerError:
    """A 5xx found here and not fixed yet."""

    name: str
    reason: str
    operations: frozenset[str]
    meets: Callable[[schemathesis.Case], bool]  # this generated request meets the bug
    reproductions: tuple[tuple[str, str, Any], ...]  # (method, path, JSON body)
    backends: frozenset[str] = frozenset({"sqlite", "postgres"})

    def explains(self, backend: str, case: schemathesis.Case) -> bool:
        return (
            backend in self.backends
            and case.operation.label in self.operations
            and self.meets(case)
        )


# Found by this run and fixed: their reproductions stay as regression tests.
FIXED_SERVER_ERRORS = (
    KnownServerError(
        "timestamp-not-scalar",
        "domain/timeutil.py to_epoch raises AttributeError (not ValueError) for a JSON object "
        "or list, so pydantic does not turn it into a 422",
        frozenset(
            {
                "POST /v1/items",
                "POST /v1/items/batch",
                "POST /v1/users",
                "POST /v1/users/batch",
                "POST /v1/events",
                "POST /v1/events/batch",
                "POST /v1/track",
                "POST /v1/identify",
                "POST /v1/batch",
            }
        ),
        _timestamp_not_scalar,
        (
            ("POST", "/v1/users", {"id": "u1", "created_at": {}}),
            ("POST", "/v1/items", {"id": "i1", "created_at": []}),
            ("POST", "/v1/events", {"user_id": "u1", "type": "view", "timestamp": {}}),
            ("POST", "/v1/track", {"userId": "u1", "event": "View", "sentAt": {}}),
            ("POST", "/v1/batch", {"sentAt": [], "batch": []}),
        ),
    ),
    KnownServerError(
        "onboarding-user-id",
        "profiles/control.py answer_onboarding builds UserIn(id=...) from the path unchecked; "
        "an id UserIn refuses (control characters, over 256 characters, a route suffix) "
        "raises a pydantic ValidationError inside the engine",
        frozenset({"POST /v1/users/{user_id}/onboarding"}),
        _invalid_user_id_in_path,
        (("POST", "/v1/users/a%07b/onboarding", {"answers": {}}),),
    ),
    KnownServerError(
        "item-text-nul",
        "PostgreSQL text columns cannot hold NUL (0x00): items.title and items.text take any "
        "string, and the insert fails (psycopg.DataError)",
        frozenset({"POST /v1/items", "POST /v1/items/batch"}),
        _nul_in_item_text,
        (("POST", "/v1/items", {"id": "i1", "title": "a\x00b"}),),
        backends=frozenset({"postgres"}),
    ),
    KnownServerError(
        "surface-id-unchecked",
        "PUT /v1/surfaces/{surface_id} stores any path id: surfaces.id is VARCHAR(128) and "
        "PostgreSQL refuses a longer one or a NUL (SQLite stores both)",
        frozenset({"PUT /v1/surfaces/{surface_id}"}),
        _surface_id_unstorable,
        (("PUT", "/v1/surfaces/a%00b", {}), ("PUT", "/v1/surfaces/" + "s" * 129, {})),
        backends=frozenset({"postgres"}),
    ),
)

KNOWN_SERVER_ERRORS: tuple[KnownServerError, ...] = ()


# -- the app under test --------------------------------------------------------------------
@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app over a small demo workspace (its segments made small enough to qualify), shared
    by the module's tests of one backend; a server error comes back as a 500 response."""
    folder = tmp_path_factory.mktemp("schemathesis")
    url = POSTGRES_URL if request.param == "postgres" else f"sqlite:///{folder / 'lp.db'}"
    workspace = f"st{uuid.uuid4().hex[:12]}"
    lp = Launchpoint(Settings(database_url=url, data_dir=folder, workspace=workspace))
    ws = lp.workspace()
    data = generate_demo(n_users=40, n_items=30, n_events=400, seed=7)
    ws.add_items(list(data.items()))
    ws.add_users(list(data.users()))
    ws.add_events(list(data.events()))
    config = yaml.safe_load((resources.files("launchpoint.demo") / "segments.yaml").read_text())
    for segment in config["segments"]:
        segment.update(min_users=1, min_items=1)
    ws.apply(WorkspaceConfig.model_validate(config))
    try:
        with TestClient(
            create_app(lp.settings, launchpoint=lp), raise_server_exceptions=False
        ) as c:
            c.headers["x-workspace"] = workspace
            yield c
    finally:
        lp.close()
        db = Database(url)
        try:
            drop_workspace(db, workspace)
        finally:
            db.dispose()


def _backend(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["api"])


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_server_error(label: str, api: TestClient, request: pytest.FixtureRequest) -> None:
    backend = _backend(request)
    operation = OPERATIONS[label]
    # The fixture's workspace, never one per generated header: a run on a shared PostgreSQL
    # database must not leave workspaces behind.
    workspace = {"x-workspace": api.headers["x-workspace"]}
    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE, headers=workspace),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE, headers=workspace),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        # A failure's smallest form is written by hand in KNOWN_SERVER_ERRORS; shrinking a
        # generated one costs minutes.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def no_server_error(case: schemathesis.Case) -> None:
        kwargs = case.as_transport_kwargs(base_url=str(api.base_url))
        assert not kwargs.pop("cookies", None), "the API reads no cookies"
        if "data" in kwargs:  # requests' name for a raw body is httpx's "content"
            kwargs["content"] = kwargs.pop("data")
        response = api.request(**kwargs)
        if response.status_code >= 500 and any(
            bug.explains(backend, case) for bug in KNOWN_SERVER_ERRORS
        ):
            return  # known, and shown by test_known_server_error below
        case.validate_response(response, checks=[not_a_server_error])

    no_server_error()


@pytest.mark.parametrize(
    ("bug", "method", "path", "body"),
    [
        pytest.param(bug, *reproduction, id=f"{bug.name}-{n}")
        for bug in (*KNOWN_SERVER_ERRORS, *FIXED_SERVER_ERRORS)
        for n, reproduction in enumerate(bug.reproductions)
    ],
)
def test_known_server_error(
    bug: KnownServerError,
    method: str,
    path: str,
    body: Any,
    api: TestClient,
    request: pytest.FixtureRequest,
) -> None:
    if bug in KNOWN_SERVER_ERRORS and _backend(request) in bug.backends:
        request.applymarker(pytest.mark.xfail(strict=True, reason=bug.reason))
    response = api.request(method, path, json=body)
    assert response.status_code < 500, response.text
