"""Segment-compatible ingestion: ``POST /v1/track``, ``/v1/identify`` and ``/v1/batch`` take the
bodies of Segment's HTTP tracking API and answer 200, as Segment's libraries expect."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from launchpoint.api.deps import Workspace
from launchpoint.domain.segment_spec import (
    MAX_BATCH_BYTES,
    MAX_CALL_BYTES,
    BatchCall,
    IdentifyCall,
    TrackCall,
    fold_identifies,
    identify_to_user,
    plan_batch,
    track_to_event,
)
from launchpoint.engine import WorkspaceEngine
from launchpoint.errors import ErrorDetail, InvalidInput, NotFound, PayloadTooLarge


class _SizedRoute(APIRoute):
    """Refuses a body over Segment's limit (500 KB a batch, 32 KB a single call) with 413
    before it is parsed; the app-wide ``max_body_bytes`` still applies first."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        batch = self.path.endswith("/batch")
        limit = MAX_BATCH_BYTES if batch else MAX_CALL_BYTES
        advice = "send smaller batches" if batch else "keep large data out of events"
        path = self.path

        async def sized(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            size = int(declared) if declared.isdigit() else len(await request.body())
            if size > limit:
                raise PayloadTooLarge(
                    f"a {path} request body may be at most {limit:,} bytes and this one has "
                    f"{size:,}; {advice}"
                )
            return await handler(request)

        return sized


router = APIRouter(prefix="/v1", tags=["segment spec"], route_class=_SizedRoute)


class RejectedCall(BaseModel):
    index: int = Field(..., description="The call's position in the batch, from 0.")
    reason: str


class SegmentIngestPublic(BaseModel):
    received: int
    stored: int
    duplicates: int = 0
    suppressed: int = Field(0, description="Calls for deleted users, dropped.")
    rejected: list[RejectedCall] = Field(default_factory=list)


@router.post(
    "/track",
    response_model=SegmentIngestPublic,
    summary="Record a Segment track call (idempotent by messageId)",
)
def post_track(call: TrackCall, ws: Workspace) -> SegmentIngestPublic:
    event = track_to_event(call, received_at=time.time())
    return SegmentIngestPublic(**ws.add_events([event]).as_dict())


@router.post(
    "/identify",
    response_model=SegmentIngestPublic,
    summary="Record a Segment identify call: its traits are merged over the user's attributes",
)
def post_identify(call: IdentifyCall, ws: Workspace) -> SegmentIngestPublic:
    user = identify_to_user(call, _stored_user(ws, call.launchpoint_user_id))
    return SegmentIngestPublic(**ws.add_users([user]).as_dict())


@router.post(
    "/batch",
    response_model=SegmentIngestPublic,
    summary="Record a Segment batch of track and identify calls; bad calls are reported by index",
)
def post_batch(body: BatchCall, ws: Workspace) -> SegmentIngestPublic:
    plan = plan_batch(body, received_at=time.time())
    stored_users = {
        uid: row
        for uid in {call.launchpoint_user_id for _, call in plan.identifies}
        if (row := _stored_user(ws, uid)) is not None
    }
    users, refused = fold_identifies(plan.identifies, stored_users)
    rejected = sorted([*plan.rejected, *refused], key=lambda r: r.index)
    if body.batch and len(rejected) == len(body.batch):
        details = [
            ErrorDetail(f"body.batch[{r.index}]", r.reason, {"index": r.index}) for r in rejected
        ]
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise InvalidInput(
            f"no call in the batch was accepted: {details[0].loc}: {details[0].message}{more}",
            details,
        )
    # Users first, as an identify usually comes before the calls that use its traits. Each
    # write commits before it returns, so whatever this answers is stored.
    suppressed = ws.add_users(users).suppressed if users else 0
    events = [event for _, event in plan.events]
    result = ws.add_events(events) if events else None
    identified = len(plan.identifies) - len(refused) - suppressed
    return SegmentIngestPublic(
        received=len(body.batch),
        stored=identified + (result.stored if result else 0),
        duplicates=result.duplicates if result else 0,
        suppressed=suppressed + (result.suppressed if result else 0),
        rejected=[RejectedCall(index=r.index, reason=r.reason) for r in rejected],
    )


def _stored_user(ws: WorkspaceEngine, user_id: str) -> dict[str, Any] | None:
    try:
        return ws.user(user_id)
    except NotFound:
        return None
