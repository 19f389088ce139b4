"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from launchpoint.engine import Launchpoint, WorkspaceEngine


def get_launchpoint(request: Request) -> Launchpoint:
    lp: Launchpoint = request.app.state.launchpoint
    return lp


def get_workspace(
    request: Request,
    x_workspace: Annotated[
        str | None, Header(description="Workspace to act on; default from settings.")
    ] = None,
) -> WorkspaceEngine:
    return get_launchpoint(request).workspace(x_workspace)


Workspace = Annotated[WorkspaceEngine, Depends(get_workspace)]
