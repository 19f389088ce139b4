"""API keys on the wire: which scope each route needs, and the checks every request passes.

Two steps, so that the cheap refusals come before any body is read:

1. ``ApiKeyMiddleware``, before routing: no key or a bad one is a 401, a key over its rate a
   429 with ``Retry-After``, an ``X-Workspace`` header naming another workspace than the key's
   a 403. The checked key is left in the request's scope for ``deps.get_workspace``.
2. ``authorize_route``, an app-wide dependency, once FastAPI knows the route: a key whose
   scopes do not reach the route is a 403.

``ROUTE_SCOPES`` is the one table of who may call what. A route missing from it needs admin.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from launchpoint.api.deps import PRINCIPAL_SCOPE_KEY, get_principal
from launchpoint.api.errors import envelope
from launchpoint.engine import Launchpoint
from launchpoint.errors import (
    ErrorDetail,
    Forbidden,
    LaunchpointError,
    TooManyRequests,
    Unauthorized,
)
from launchpoint.security import Authenticator, Principal, RateLimiter, retry_after_seconds
from launchpoint.security import Scope as KeyScope
from launchpoint.storage.keys import KeyStore

log = logging.getLogger("launchpoint.api")

# (method, path as the OpenAPI schema writes it) -> the scope a key needs; admin keys reach
# every route of their workspace. Ingest keys only write data; serve keys only read what a
# product shows its users. Every other route (definitions, reports, other people's records)
# is admin: listed here all the same, so tests/security can tell a classified route from a
# forgotten one.
ROUTE_SCOPES: dict[tuple[str, str], KeyScope] = {
    ("POST", "/v1/items"): KeyScope.INGEST,
    ("POST", "/v1/items/batch"): KeyScope.INGEST,
    ("POST", "/v1/users"): KeyScope.INGEST,
    ("POST", "/v1/users/batch"): KeyScope.INGEST,
    ("POST", "/v1/events"): KeyScope.INGEST,
    ("POST", "/v1/events/batch"): KeyScope.INGEST,
    ("POST", "/v1/track"): KeyScope.INGEST,
    ("POST", "/v1/identify"): KeyScope.INGEST,
    ("POST", "/v1/batch"): KeyScope.INGEST,
    # What a user changes about their own profile, sent by the product on their behalf.
    ("PATCH", "/v1/users/{user_id}/profile"): KeyScope.INGEST,
    ("DELETE", "/v1/users/{user_id}/profile/interests/{category}"): KeyScope.INGEST,
    ("POST", "/v1/users/{user_id}/profile/reset"): KeyScope.INGEST,
    ("PUT", "/v1/users/{user_id}/personalisation"): KeyScope.INGEST,
    ("PUT", "/v1/users/{user_id}/consents"): KeyScope.INGEST,
    ("POST", "/v1/users/{user_id}/onboarding"): KeyScope.INGEST,
    ("GET", "/v1/users/{user_id}/ribbons"): KeyScope.SERVE,
    ("GET", "/v1/users/{user_id}/segments"): KeyScope.SERVE,
    ("GET", "/v1/users/{user_id}/profile"): KeyScope.SERVE,
    ("GET", "/v1/items/{item_id}"): KeyScope.SERVE,
    ("GET", "/v1/items/{item_id}/related"): KeyScope.SERVE,
    ("POST", "/v1/rank"): KeyScope.SERVE,
    ("GET", "/v1/onboarding"): KeyScope.SERVE,
    ("GET", "/v1/users/{user_id}"): KeyScope.ADMIN,
    ("GET", "/v1/users/{user_id}/export"): KeyScope.ADMIN,
    ("DELETE", "/v1/users/{user_id}"): KeyScope.ADMIN,
    ("PUT", "/v1/onboarding"): KeyScope.ADMIN,
    ("GET", "/v1/segments"): KeyScope.ADMIN,
    ("POST", "/v1/segments"): KeyScope.ADMIN,
    ("GET", "/v1/segments/report"): KeyScope.ADMIN,
    ("POST", "/v1/segments/preview"): KeyScope.ADMIN,
    ("GET", "/v1/segments/{segment_id}"): KeyScope.ADMIN,
    ("PUT", "/v1/segments/{segment_id}"): KeyScope.ADMIN,
    ("GET", "/v1/segments/{segment_id}/members"): KeyScope.ADMIN,
    ("POST", "/v1/apply"): KeyScope.ADMIN,
    ("GET", "/v1/stats"): KeyScope.ADMIN,
    ("GET", "/v1/surfaces"): KeyScope.ADMIN,
    ("PUT", "/v1/surfaces/{surface_id}"): KeyScope.ADMIN,
    ("GET", "/v1/experiments"): KeyScope.ADMIN,
    ("POST", "/v1/experiments"): KeyScope.ADMIN,
    ("GET", "/v1/experiments/holdout"): KeyScope.ADMIN,
    ("PUT", "/v1/experiments/holdout"): KeyScope.ADMIN,
    ("GET", "/v1/experiments/{experiment_id}"): KeyScope.ADMIN,
    ("GET", "/v1/experiments/{experiment_id}/assignments/{user_id}"): KeyScope.ADMIN,
    ("POST", "/v1/experiments/{experiment_id}/check"): KeyScope.ADMIN,
    ("POST", "/v1/experiments/{experiment_id}/ramp"): KeyScope.ADMIN,
    ("GET", "/v1/experiments/{experiment_id}/report"): KeyScope.ADMIN,
    ("POST", "/v1/experiments/{experiment_id}/start"): KeyScope.ADMIN,
    ("POST", "/v1/experiments/{experiment_id}/stop"): KeyScope.ADMIN,
}

# Reachable without a key. Exact paths only (no parameters): the middleware matches them
# before routing. The schema and its docs say nothing a client could not learn from the code.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
    }
)

NEEDS_KEY = (
    "this API needs a key: send 'Authorization: Bearer lp_<id>_<secret>' "
    "(create one with `launchpoint keys create --scope ...`)"
)


def route_scope(method: str, path: str) -> KeyScope | None:
    """The scope a route needs (admin when it is not in the table), None for a public one."""
    method = "GET" if method == "HEAD" else method
    if (method, path) in PUBLIC_ROUTES:
        return None
    return ROUTE_SCOPES.get((method, path), KeyScope.ADMIN)


def presented_key(headers: Headers) -> str | None:
    """The key from ``Authorization: Bearer KEY``, or ``Basic`` with the key as the user name
    (how Segment's libraries send their write key); None when there is no header."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    if scheme.lower() == "basic" and credentials:
        try:
            user, _, _ = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("the Basic credentials are not valid base64 of 'KEY:'") from None
        return user
    raise Unauthorized(f"unsupported Authorization header; {NEEDS_KEY}")


@dataclass
class KeyGuard:
    """What the middleware and the route dependency share, kept in ``app.state.key_guard``."""

    required: bool
    authenticator: Authenticator
    limiter: RateLimiter

    async def check(self, headers: Headers) -> Principal:
        """The caller's principal, or the LaunchpointError that refuses the request."""
        token = presented_key(headers)
        if not token:
            raise Unauthorized(NEEDS_KEY)
        principal = self.authenticator.authenticate_cached(token)
        if principal is None:  # a database read: not on the event loop
            principal = await run_in_threadpool(self.authenticator.authenticate, token)
        wait = self.limiter.check(principal.key_id, principal.rate_per_second)
        if wait > 0:
            rate = self.limiter.rate_for(principal.rate_per_second)
            seconds = retry_after_seconds(wait)
            raise TooManyRequests(
                f"key {principal.key_id!r} is over its limit of {rate:g} requests a second; "
                f"retry in {seconds} s",
                seconds,
            )
        named = headers.get("x-workspace")
        if named is not None and named != principal.workspace_id:
            raise Forbidden(
                f"this key belongs to workspace {principal.workspace_id!r}, and the X-Workspace "
                "header names another; leave the header out, or use a key of that workspace"
            )
        return principal


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, guard: KeyGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.guard.required or _is_public(scope):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self.guard.check(Headers(scope=scope))
        except LaunchpointError as exc:
            response = envelope(
                exc.status, exc.code, exc.message, headers=getattr(exc, "headers", None)
            )
            await response(scope, receive, send)
            return
        except Exception:  # outside the app's handlers: answer in the envelope all the same
            log.exception("checking the API key of %s %s failed", scope["method"], scope["path"])
            message = "an unexpected error occurred; see the server log"
            await envelope(500, "internal_error", message)(scope, receive, send)
            return
        scope[PRINCIPAL_SCOPE_KEY] = principal
        await self.app(scope, receive, send)


def _is_public(scope: Scope) -> bool:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    method = "GET" if scope["method"] == "HEAD" else scope["method"]
    return (method, path) in PUBLIC_ROUTES


# Declared so the schema offers /docs' "Authorize" button; the middleware has read the key.
_bearer = HTTPBearer(auto_error=False, description="An API key: lp_<id>_<secret>.")


async def authorize_route(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse a key whose scopes do not reach the route FastAPI matched (app-wide dependency;
    a coroutine, as it reads only the request: a sync one would cost every request a hop to
    the thread pool)."""
    guard: KeyGuard | None = getattr(request.app.state, "key_guard", None)
    if guard is None or not guard.required:
        return
    route = request.scope.get("route")
    path = getattr(route, "path_format", request.url.path)
    needed = route_scope(request.method, path)
    if needed is None:
        return
    principal = get_principal(request)
    if principal is None:  # the middleware lets no such request through; refuse all the same
        raise Unauthorized(NEEDS_KEY)
    if not principal.allows(needed):
        held = ", ".join(sorted(principal.scopes)) or "none"
        wanted = "an admin key" if needed is KeyScope.ADMIN else f"a key with {needed} or admin"
        raise Forbidden(
            f"{request.method} {path} needs {wanted}; this key's scopes: {held}",
            [ErrorDetail("scope", f"needs {needed}", {"needed": needed.value})],
        )


def install_auth(app: FastAPI, lp: Launchpoint) -> None:
    """Check keys on every request when the settings ask for it. Call it after the other
    middleware, so that a request without a valid key is refused first."""
    settings = lp.settings
    guard = KeyGuard(
        required=settings.auth_required,
        authenticator=Authenticator(
            KeyStore(lp.db),
            cache_seconds=settings.auth_cache_seconds,
            bootstrap_key=settings.admin_key.get_secret_value(),
            bootstrap_workspace=settings.workspace,
        ),
        limiter=RateLimiter(
            default_rate=settings.rate_limit_per_second,
            burst_seconds=settings.rate_limit_burst_seconds,
        ),
    )
    if settings.env == "production" and not guard.required:
        log.warning("LAUNCHPOINT_AUTH=off in production: the API answers anyone who reaches it")
    app.state.key_guard = guard
    app.add_middleware(ApiKeyMiddleware, guard=guard)
