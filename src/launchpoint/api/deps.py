"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.security import Principal

# Where ``api/auth.py`` leaves the caller's checked key: in the ASGI scope itself, which is the
# request's own, rather than in ``scope["state"]``, which a server may share between requests.
PRINCIPAL_SCOPE_KEY = "launchpoint.principal"


def get_launchpoint(request: Request) -> Launchpoint:
    lp: Launchpoint = request.app.state.launchpoint
    return lp


def get_principal(request: Request) -> Principal | None:
    """The caller's key, or None when the API runs without keys (or the route is public)."""
    principal = request.scope.get(PRINCIPAL_SCOPE_KEY)
    return principal if isinstance(principal, Principal) else None


async def get_workspace(
    request: Request,
    x_workspace: Annotated[
        str | None,
        Header(
            description="Workspace to act on; default from settings. With API keys the key's "
            "workspace is used, and a header naming another one is refused with 403."
        ),
    ] = None,
) -> WorkspaceEngine:
    """The workspace's engine. A coroutine: a sync dependency costs every request a hop to the
    thread pool and back (with the route's own, two; at 5k items that was a third of a
    ribbons request's CPU), and once made an engine is a dictionary lookup. Making one (the
    workspace's first request in this process) touches the database, in the thread pool."""
    principal = get_principal(request)
    # A key belongs to one workspace; auth already refused a header that names another.
    wanted = principal.workspace_id if principal is not None else x_workspace
    lp = get_launchpoint(request)
    engine = lp.made_workspace(wanted)
    if engine is None:
        engine = await run_in_threadpool(lp.workspace, wanted)
    return engine


Workspace = Annotated[WorkspaceEngine, Depends(get_workspace)]
CurrentKey = Annotated[Principal | None, Depends(get_principal)]
