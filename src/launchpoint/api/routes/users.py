from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from launchpoint.api.deps import Workspace
from launchpoint.api.schemas import (
    MAX_CARDS,
    MAX_LAYERS,
    MAX_SURFACE_ID,
    Explain,
    IngestPublic,
    RibbonPagePublic,
    UserBatch,
    public_record,
    serialised,
)
from launchpoint.domain.records import UserIn
from launchpoint.engine import WorkspaceEngine
from launchpoint.ranking.pipeline import RibbonRequest, notes_of

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.post("", response_model=IngestPublic, status_code=201, summary="Create or replace a user")
def put_user(user: UserIn, ws: Workspace) -> IngestPublic:
    return IngestPublic(**ws.add_users([user]).as_dict())


@router.post(
    "/batch", response_model=IngestPublic, status_code=201, summary="Create or replace many users"
)
def put_users(batch: UserBatch, ws: Workspace) -> IngestPublic:
    return IngestPublic(**ws.add_users(batch.users).as_dict())


@router.get(
    "/{user_id:path}/ribbons",
    response_model=RibbonPagePublic,
    summary="The ribbons and cards this user should see, and why",
)
def get_ribbons(
    user_id: str,
    ws: Workspace,
    surface: Annotated[str, Query(max_length=MAX_SURFACE_ID, description="Surface id.")] = "home",
    layers: Annotated[
        int | None, Query(ge=1, le=MAX_LAYERS, description="Ribbons at most.")
    ] = None,
    cards: Annotated[int | None, Query(ge=1, le=MAX_CARDS, description="Cards per ribbon.")] = None,
    explain: Annotated[
        Explain,
        Query(
            description="full: the trace of every stage's decision on every candidate; "
            "shown: the trace of the cards shown only."
        ),
    ] = "none",
) -> Response:
    return ribbons_response(ws, user_id, surface, layers, cards, explain)


def ribbons_response(
    ws: WorkspaceEngine,
    user_id: str,
    surface: str = "home",
    layers: int | None = None,
    cards: int | None = None,
    explain: Explain = "none",
) -> Response:
    """The ribbons route's answer, from checked parameters (api/fast_path.py answers with it
    too)."""
    request = RibbonRequest(user_id, surface, layers, cards, explain=explain != "none")
    page, guarded, served = ws.ribbons_explained(request)
    trace = None
    if explain != "none":
        scope: Literal["all", "shown"] = "all" if explain == "full" else "shown"
        trace = ws.page_trace(user_id, surface, guarded, scope)
    return serialised(RibbonPagePublic.of(page, notes_of(guarded), served, trace))


@router.get(
    "/{user_id:path}/segments",
    summary="Every segment from this user's side: member or not, shown or not, and why",
)
def get_user_segments(user_id: str, ws: Workspace) -> dict[str, Any]:
    return {"user_id": user_id, "segments": [asdict(m) for m in ws.user_segments(user_id)]}


# Declared last: a path id would otherwise swallow ".../ribbons" and ".../segments".
@router.get("/{user_id:path}", summary="One user (ids may contain '/')")
def get_user(user_id: str, ws: Workspace) -> dict[str, Any]:
    return public_record(ws.user(user_id))
