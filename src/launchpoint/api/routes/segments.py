from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from launchpoint.api.deps import Workspace
from launchpoint.api.schemas import ApplyPublic
from launchpoint.domain.segments import SegmentSpec, WorkspaceConfig
from launchpoint.domain.timeutil import to_iso
from launchpoint.errors import InvalidInput
from launchpoint.segments.qualification import QualificationRow

router = APIRouter(prefix="/v1", tags=["segments"])


def _public(spec: SegmentSpec, version: int) -> dict[str, Any]:
    return {**spec.model_dump(), "version": version}


@router.get("/segments", summary="All segments, in priority order")
def list_segments(ws: Workspace) -> dict[str, Any]:
    return {"segments": [_public(spec, v) for spec, v in ws.segments()]}


@router.get(
    "/segments/report",
    response_model=list[QualificationRow],
    summary="Qualification report: members and items against thresholds, Y/N with why",
)
def segments_report(ws: Workspace) -> list[QualificationRow]:
    return ws.report()


@router.post("/segments", status_code=201, summary="Create or update a segment")
def post_segment(spec: SegmentSpec, ws: Workspace) -> dict[str, Any]:
    version = ws.put_segment(spec)
    return _public(spec, version)


@router.put("/segments/{segment_id}", summary="Create or update the segment with this id")
def put_segment(segment_id: str, spec: SegmentSpec, ws: Workspace) -> dict[str, Any]:
    if spec.id != segment_id:
        raise InvalidInput(f"body id {spec.id!r} differs from the path's {segment_id!r}")
    version = ws.put_segment(spec)
    return _public(spec, version)


@router.get("/segments/{segment_id}/members", summary="The users in a segment, a page at a time")
def get_segment_members(
    segment_id: str,
    ws: Workspace,
    offset: Annotated[int, Query(ge=0, description="Members to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Members to return.")] = 100,
) -> dict[str, Any]:
    total, members = ws.segment_members(segment_id, offset, limit)
    return {"segment_id": segment_id, "total": total, "offset": offset, "limit": limit,
            "members": members}  # fmt: skip


@router.get("/segments/{segment_id}", summary="One segment with its version history")
def get_segment(segment_id: str, ws: Workspace) -> dict[str, Any]:
    spec, version = ws.segment(segment_id)
    history = [
        {**entry, "created_at": to_iso(entry["created_at"])} for entry in ws.history(segment_id)
    ]
    return {**_public(spec, version), "history": history}


@router.post(
    "/segments/preview",
    summary="What a segment would be now, before it is stored: counts, qualification, samples",
)
def preview_segment(
    spec: SegmentSpec,
    ws: Workspace,
    sample: Annotated[int, Query(ge=0, le=100, description="Sample size.")] = 5,
) -> dict[str, Any]:
    preview = ws.preview(spec, sample)
    return {
        "segment_id": spec.id,
        "qualification": preview.qualification.as_dict(),
        "sample_members": preview.sample_members,
        "sample_items": preview.sample_items,
    }


@router.post(
    "/apply",
    response_model=ApplyPublic,
    summary="Apply segments and surfaces (the body of a `launchpoint apply` file)",
)
def apply_config(
    ws: Workspace,
    config: WorkspaceConfig = Body(...),
    dry_run: Annotated[
        bool, Query(description="Only say what would change: fields, users entering/leaving.")
    ] = False,
) -> ApplyPublic:
    result = ws.apply(config, actor="api", dry_run=dry_run)
    return ApplyPublic(
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        surfaces=result.surfaces,
        report=result.report,
        dry_run=result.dry_run,
        plan=result.plan.segments,
        surface_changes=dict(result.plan.surfaces),
    )
