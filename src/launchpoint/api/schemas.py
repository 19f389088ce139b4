"""Request and response bodies at the API's edge."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Response
from pydantic import BaseModel, Field

from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.domain.ribbons import RibbonPage
from launchpoint.domain.timeutil import to_iso
from launchpoint.segments.plan import SegmentChange
from launchpoint.segments.qualification import QualificationRow

MAX_BATCH = 10_000
# The serving routes' query parameters: their bounds, declared by the routes and checked by
# api/fast_path.py, which answers the same requests without FastAPI's machinery.
MAX_SURFACE_ID = 128
MAX_USER_ID = 256
MAX_LAYERS = 50
MAX_CARDS = 200
Explain = Literal["none", "full", "shown"]


class ItemBatch(BaseModel):
    items: list[ItemIn] = Field(..., max_length=MAX_BATCH)


class UserBatch(BaseModel):
    users: list[UserIn] = Field(..., max_length=MAX_BATCH)


class EventBatch(BaseModel):
    events: list[EventIn] = Field(..., max_length=MAX_BATCH)


class IngestPublic(BaseModel):
    received: int
    stored: int
    duplicates: int = 0
    suppressed: int = Field(0, description="Events of deleted users, dropped.")


class CardPublic(BaseModel):
    item_id: str
    title: str
    score: float
    reason: str
    signal: str
    position: int


class RibbonPublic(BaseModel):
    segment_id: str | None
    title: str
    kind: str
    cards: list[CardPublic]


class RibbonPagePublic(BaseModel):
    recommendation_id: str
    user_id: str
    surface: str
    fallback_used: bool
    ribbons: list[RibbonPublic]
    notes: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Guardrail constraints that could not be met on this page, and why.",
    )
    served: dict[str, Any] = Field(
        default_factory=dict, description="Algorithm, model version, experiment and variant."
    )
    trace: dict[str, Any] | None = Field(
        None, description="With explain=full: every stage's decision on every candidate."
    )

    @classmethod
    def of(
        cls,
        page: RibbonPage,
        notes: list[dict[str, Any]] | None = None,
        served: dict[str, Any] | None = None,
        trace: dict[str, Any] | None = None,
    ) -> RibbonPagePublic:
        return cls(
            recommendation_id=page.recommendation_id,
            user_id=page.user_id,
            surface=page.surface,
            fallback_used=page.fallback_used,
            notes=notes or [],
            served=served or {},
            trace=trace,
            ribbons=[
                RibbonPublic(
                    segment_id=r.segment_id,
                    title=r.title,
                    kind=r.kind,
                    cards=[
                        CardPublic(
                            item_id=c.item_id,
                            title=c.title,
                            score=c.score,
                            reason=c.reason,
                            signal=c.signal,
                            position=n,
                        )
                        for n, c in enumerate(r.cards)
                    ],
                )
                for r in page.ribbons
            ],
        )


def serialised(model: BaseModel) -> Response:
    """``model`` as a JSON response, serialised here. Returned from a route that declares it
    as ``response_model`` (for the docs), it skips FastAPI's own pass: validating the model
    again and serialising it, for a sync route in a thread-pool hop of its own (a tenth of a
    ribbons request's CPU at 5k items)."""
    return Response(model.model_dump_json(), media_type="application/json")


class ApplyPublic(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    surfaces: list[str]
    report: list[QualificationRow]
    dry_run: bool = False
    plan: list[SegmentChange] = []
    surface_changes: dict[str, str] = {}


def public_record(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the API shows it: no workspace column, times in ISO 8601."""
    out = {k: v for k, v in row.items() if k != "workspace_id"}
    for key in ("created_at", "ts", "received_at"):
        if key in out and isinstance(out[key], float):
            out[key] = to_iso(out[key])
    return out
