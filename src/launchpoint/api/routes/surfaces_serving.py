"""The item page and search surfaces: related items and re-ranking a caller's list."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from launchpoint.api.deps import Workspace
from launchpoint.api.schemas import (
    MAX_CARDS,
    MAX_SURFACE_ID,
    MAX_USER_ID,
    Explain,
    RibbonPagePublic,
    serialised,
)
from launchpoint.engine import WorkspaceEngine
from launchpoint.ranking.pipeline import notes_of
from launchpoint.ranking.surfaces import MAX_RANK_ITEMS

router = APIRouter(tags=["serving"])


@router.get(
    "/v1/items/{item_id:path}/related",
    response_model=RibbonPagePublic,
    summary="Items related to this one (an item page), for a user when given, and why",
)
def get_related(
    item_id: str,
    ws: Workspace,
    user: Annotated[
        str | None, Query(max_length=MAX_USER_ID, description="Personalise for this user.")
    ] = None,
    surface: Annotated[
        str, Query(max_length=MAX_SURFACE_ID, description="Surface id.")
    ] = "item_page",
    cards: Annotated[int | None, Query(ge=1, le=MAX_CARDS, description="Cards at most.")] = None,
    explain: Annotated[Explain, Query(description="Include the trace.")] = "none",
) -> Response:
    return related_response(ws, item_id, user, surface, cards, explain)


def related_response(
    ws: WorkspaceEngine,
    item_id: str,
    user: str | None = None,
    surface: str = "item_page",
    cards: int | None = None,
    explain: Explain = "none",
) -> Response:
    """The related route's answer, from checked parameters (api/fast_path.py answers with it
    too)."""
    page, guarded, served = ws.related(item_id, user, surface, cards, explain != "none")
    trace = None
    if explain != "none":
        scope: Literal["all", "shown"] = "all" if explain == "full" else "shown"
        trace = ws.page_trace(user or "", surface, guarded, scope)
    return serialised(RibbonPagePublic.of(page, notes_of(guarded), served, trace))


class RankRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(..., min_length=1, max_length=256)
    item_ids: list[str] = Field(..., max_length=MAX_RANK_ITEMS, description="Items to order.")
    surface: str = Field("search", max_length=128)


@router.post(
    "/v1/rank",
    summary="Order a list of items (e.g. search results) for a user; unknown ids stay, at the end",
)
def post_rank(body: RankRequest, ws: Workspace) -> dict[str, Any]:
    recommendation_id, ranked, removed = ws.rank(body.user_id, body.item_ids, body.surface)
    return {
        "recommendation_id": recommendation_id,
        "user_id": body.user_id,
        "surface": body.surface,
        "items": [
            {
                "item_id": r.item_id,
                "position": r.position,
                "score": r.score,
                "reason": r.reason,
                "known": r.score is not None,
            }
            for r in ranked
        ],
        "removed": removed,
    }
