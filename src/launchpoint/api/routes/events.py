from __future__ import annotations

from fastapi import APIRouter

from launchpoint.api.deps import Workspace
from launchpoint.api.schemas import EventBatch, IngestPublic
from launchpoint.domain.records import EventIn

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post(
    "",
    response_model=IngestPublic,
    status_code=201,
    summary="Record one event (idempotent by message_id)",
)
def post_event(event: EventIn, ws: Workspace) -> IngestPublic:
    return IngestPublic(**ws.add_events([event]).as_dict())


@router.post(
    "/batch",
    response_model=IngestPublic,
    status_code=201,
    summary="Record many events; repeated message ids are counted as duplicates",
)
def post_events(batch: EventBatch, ws: Workspace) -> IngestPublic:
    return IngestPublic(**ws.add_events(batch.events).as_dict())
