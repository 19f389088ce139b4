"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

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


def get_workspace(
    request: Request,
    x_workspace: Annotated[
        str | None,
        Header(
            description="Workspace to act on; default from settings. With API keys the key's "
            "workspace is used, and a header naming another one is refused with 403."
        ),
    ] = None,
) -> WorkspaceEngine:
    principal = get_principal(request)
    if principal is not None:
        # A key belongs to one workspace; auth already refused a header that names another.
        return get_launchpoint(request).workspace(principal.workspace_id)
    return get_launchpoint(request).workspace(x_workspace)


Workspace = Annotated[WorkspaceEngine, Depends(get_workspace)]
CurrentKey = Annotated[Principal | None, Depends(get_principal)]
