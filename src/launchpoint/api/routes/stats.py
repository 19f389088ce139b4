from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from launchpoint.api.deps import Workspace
from launchpoint.domain.segments import SurfaceSpec
from launchpoint.domain.timeutil import to_iso

router = APIRouter(prefix="/v1", tags=["workspace"])


@router.get("/stats", summary="Counts of items, users and events in the workspace")
def stats(ws: Workspace) -> dict[str, Any]:
    out = ws.stats()
    out["first_event_at"] = to_iso(out["first_event_at"])
    out["last_event_at"] = to_iso(out["last_event_at"])
    return out


@router.get("/surfaces", summary="Configured surfaces")
def list_surfaces(ws: Workspace) -> dict[str, Any]:
    return {"surfaces": {k: v.model_dump() for k, v in ws.surfaces().items()}}


@router.put("/surfaces/{surface_id}", summary="Configure a surface")
def put_surface(
    surface_id: Annotated[
        str,
        Path(
            min_length=1,
            max_length=128,
            pattern=r"^[A-Za-z0-9_.\-]+$",
            description="1-128 letters, digits, '_', '-' or '.'.",
        ),
    ],
    spec: SurfaceSpec,
    ws: Workspace,
) -> dict[str, Any]:
    ws.put_surface(surface_id, spec)
    return {"id": surface_id, **spec.model_dump()}
