"""The item page and search surfaces: related items and re-ranking a caller's list."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from launchpoint.api.deps import Workspace
from launchpoint.api.schemas import RibbonPagePublic, serialised
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
        str | None, Query(max_length=256, description="Personalise for this user.")
    ] = None,
    surface: Annotated[str, Query(max_length=128, description="Surface id.")] = "item_page",
    cards: Annotated[int | None, Query(ge=1, le=200, description="Cards at most.")] = None,
    explain: Annotated[
        Literal["none", "full", "shown"], Query(description="Include the trace.")
    ] = "none",
) -> Response:
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
