"""Segments and surfaces as a team writes them (YAML, JSON or the API)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from launchpoint.ranking.guardrails.config import GuardrailsConfig

SegmentStatus = Literal["draft", "active", "archived"]
Fallback = Literal["none", "popular"]
RESERVED_SEGMENT_IDS = frozenset({"report", "preview"})
ItemSource = Literal["rule", "behaviour", "both"]
_DURATION = re.compile(r"^\d+(\.\d+)?[smhdw]$")
_SURFACE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SegmentSpec(_Spec):
    """A segment: who belongs (``users``), which items are eligible (``items``), and the
    thresholds it must pass to be shown. Lower ``priority`` numbers come first."""

    id: str = Field(..., min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field("", max_length=256)
    priority: int = Field(100, ge=0, le=1_000_000)
    users: str = Field("true", max_length=4000, description="User rule.")
    items: str = Field("true", max_length=4000, description="Item rule.")
    min_users: int = Field(20, ge=0)
    min_items: int = Field(10, ge=0)
    title: str = Field("", max_length=256, description="Ribbon title; default the name.")
    reason: str = Field(
        "Popular with {name}", max_length=256, description="Card reason; {name} is the segment."
    )
    status: SegmentStatus = "active"
    items_from: ItemSource = Field(
        "rule",
        description="rule: the items the item rule allows; behaviour: the items the members "
        "engaged with most in behaviour_window; both: those among the rule's items.",
    )
    behaviour_window: str = Field("30d", description="Window for items_from behaviour/both.")
    behaviour_top: int = Field(50, ge=1, le=10_000, description="Items taken from behaviour.")

    @model_validator(mode="after")
    def _defaults(self) -> SegmentSpec:
        if self.id in RESERVED_SEGMENT_IDS:
            raise ValueError(f"segment id {self.id!r} is reserved (it names an API route)")
        if not _DURATION.match(self.behaviour_window):
            raise ValueError(
                f"behaviour_window {self.behaviour_window!r} is not a duration; use e.g. "
                "'30d', '12h' or '2w'"
            )
        if not self.name:
            self.name = self.id
        if not self.title:
            self.title = self.name
        return self

    def reason_text(self) -> str:
        return self.reason.replace("{name}", self.name)


class SurfaceSpec(_Spec):
    """A placement (home page, e-mail ...): how many ribbons and cards it has room for, and
    what a user in no qualifying segment sees."""

    layers: int = Field(2, ge=1, le=50)
    cards: int = Field(10, ge=1, le=200)
    fallback: Fallback = "none"
    fallback_title: str = Field("Popular right now", max_length=256)
    guardrails: GuardrailsConfig = Field(
        default_factory=GuardrailsConfig,
        description="Diversity, exploration, recency, editorial and no-repeat settings.",
    )


class WorkspaceConfig(_Spec):
    """The shape of a file given to ``launchpoint apply``."""

    segments: list[SegmentSpec] = Field(default_factory=list)
    surfaces: dict[str, SurfaceSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> WorkspaceConfig:
        seen: set[str] = set()
        for segment in self.segments:
            if segment.id in seen:
                raise ValueError(f"segment id {segment.id!r} appears twice")
            seen.add(segment.id)
        for surface_id in self.surfaces:
            if not _SURFACE_ID.match(surface_id):
                raise ValueError(
                    f"surface id {surface_id!r} is not valid: use 1-128 letters, digits, "
                    "'_', '-' or '.'"
                )
        return self
