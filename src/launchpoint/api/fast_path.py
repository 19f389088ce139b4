"""The two GETs a product makes on every page view, a user's ribbons and an item's related
items, answered without FastAPI's routing, dependency solving and exception layers.

Those layers cost a ribbons request about 2 ms of CPU on ml-latest-small (matching the route
among forty, solving the key and workspace dependencies, validating four query parameters,
three exception and exit-stack layers), a fifth of the whole request with a trained hybrid.
This ASGI middleware sits inside the key check (``auth.ApiKeyMiddleware``) and the body limit,
recognises the two paths, checks the query as the routes declare it, and calls the very
function the route calls (``ribbons_response``, ``related_response``) in the same thread pool.

Whatever it cannot answer exactly as the route would goes on to the app unchanged: another
path or method, a root path, a query value FastAPI would refuse or spell differently (a
number with a sign, a repeated parameter), a key without the route's scope, a workspace this
process has not made yet. The routes stay the contract: the OpenAPI schema, every error's
wording, and every request that is not the plain case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, State
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from launchpoint.api.auth import KeyGuard, route_scope
from launchpoint.api.deps import PRINCIPAL_SCOPE_KEY
from launchpoint.api.errors import error_response, unexpected_error_response
from launchpoint.api.routes.surfaces_serving import related_response
from launchpoint.api.routes.users import ribbons_response
from launchpoint.api.schemas import MAX_CARDS, MAX_LAYERS, MAX_SURFACE_ID, MAX_USER_ID, Explain
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.errors import LaunchpointError
from launchpoint.security import Principal

_NUMBER = re.compile(r"[0-9]{1,6}")  # what both this and pydantic read as the same int
_EXPLAIN = frozenset(get_args(Explain))


def _bounded(low: int, high: int) -> Callable[[str], int | None]:
    def read(value: str) -> int | None:
        if not _NUMBER.fullmatch(value):
            return None
        number = int(value)
        return number if low <= number <= high else None

    return read


def _text(longest: int) -> Callable[[str], str | None]:
    return lambda value: value if len(value) <= longest else None


def _explain(value: str) -> str | None:
    return value if value in _EXPLAIN else None


@dataclass(frozen=True)
class _Route:
    """One of the routes answered here: its path as ``{prefix}{id}{suffix}`` (the id may hold
    '/', as the route's ``:path`` parameter), the template ROUTE_SCOPES knows it by, the query
    parameters it reads (name -> reader: the value, or None where FastAPI would refuse it or
    could read it otherwise) and the function that answers."""

    prefix: str
    suffix: str
    template: str
    id_name: str
    query: dict[str, Callable[[str], Any]]
    answer: Callable[..., Response]

    def arguments(self, scope: Scope) -> dict[str, Any] | None:
        path: str = scope["path"]
        if not (path.startswith(self.prefix) and path.endswith(self.suffix)):
            return None
        found = path[len(self.prefix) : len(path) - len(self.suffix)]
        if not found:
            return None
        out: dict[str, Any] = {self.id_name: found}
        query = scope.get("query_string", b"")
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            reader = self.query.get(name)
            if reader is None:
                continue  # FastAPI ignores parameters a route does not declare
            read = reader(value)
            if read is None or name in out:
                return None
            out[name] = read
        return out


# What both routes read: the surface, cards per ribbon and the trace asked for.
_PAGE_QUERY = {
    "surface": _text(MAX_SURFACE_ID),
    "cards": _bounded(1, MAX_CARDS),
    "explain": _explain,
}

ROUTES = (
    _Route(
        prefix="/v1/users/",
        suffix="/ribbons",
        template="/v1/users/{user_id}/ribbons",
        id_name="user_id",
        query={**_PAGE_QUERY, "layers": _bounded(1, MAX_LAYERS)},
        answer=ribbons_response,
    ),
    _Route(
        prefix="/v1/items/",
        suffix="/related",
        template="/v1/items/{item_id}/related",
        id_name="item_id",
        query={**_PAGE_QUERY, "user": _text(MAX_USER_ID)},
        answer=related_response,
    ),
)


class ServingFastPath:
    """Add it first (innermost): the key check and the body limit run before it."""

    def __init__(self, app: ASGIApp, launchpoint: Launchpoint, state: State) -> None:
        self.app = app
        self.launchpoint = launchpoint
        self.state = state  # the app's: auth.install_auth leaves the key guard there

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._match(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, arguments, engine = found
        try:
            response = await run_in_threadpool(route.answer, engine, **arguments)
        except LaunchpointError as exc:
            response = error_response(exc)
        except Exception:
            response = unexpected_error_response(scope["method"], scope["path"])
        await response(scope, receive, send)

    def _match(self, scope: Scope) -> tuple[_Route, dict[str, Any], WorkspaceEngine] | None:
        """The route, its arguments and the workspace's engine, when this request is one the
        route would answer as it is; None to leave it to the app."""
        if scope["method"] != "GET" or scope.get("root_path"):
            return None
        for route in ROUTES:
            arguments = route.arguments(scope)
            if arguments is not None:
                break
        else:
            return None
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        guard: KeyGuard | None = getattr(self.state, "key_guard", None)
        if guard is not None and guard.required:
            needed = route_scope("GET", route.template)
            if not isinstance(principal, Principal) or needed is None:
                return None
            if not principal.allows(needed):
                return None  # the app's check words the refusal
        if isinstance(principal, Principal):
            wanted: str | None = principal.workspace_id
        else:
            named = Headers(scope=scope).getlist("x-workspace")
            if len(named) > 1:
                return None
            wanted = named[0] if named else None
        engine = self.launchpoint.made_workspace(wanted)
        if engine is None:  # the app makes it (checking the id) in the thread pool
            return None
        return route, arguments, engine
