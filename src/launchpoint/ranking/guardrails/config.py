"""The settings of every guardrail, as a surface declares them (YAML, JSON or the API).

These models import nothing from Launchpoint, so ``SurfaceSpec`` (in ``domain``) can embed
``GuardrailsConfig`` without the domain depending on ranking code; they could move to
``domain`` as they are.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def duration_seconds(text: str) -> float:
    """Seconds in '7d', '12h', '2w', '90m' or '45s'."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration; use e.g. '7d', '12h' or '2w'")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _duration(value: str) -> str:
    duration_seconds(value)
    return value


Duration = Annotated[str, AfterValidator(_duration)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class DiversityConfig(_Config):
    """Keep a ribbon from being ten cards of one kind. Items count towards every category
    they have."""

    min_categories: int = Field(
        3,
        ge=0,
        le=200,
        description="At least this many distinct categories among the ribbon's cards "
        "(never more than it has cards); 0 turns the floor off.",
    )
    max_per_category: int | None = Field(
        None, ge=1, le=200, description="At most this many cards of any one category."
    )
    mmr_lambda: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Maximal marginal relevance: 1 ranks by score alone, lower values trade "
        "score for categories not yet shown. None turns MMR off.",
    )
    mmr_candidates: int = Field(
        50, ge=1, le=1000, description="How many of the best candidates MMR re-ranks."
    )


class ExplorationConfig(_Config):
    """A share of cards from outside the user's established interests."""

    share: float = Field(
        0.2, ge=0.0, le=1.0, description="Share of cards from outside the user's interests."
    )
    min_affinity: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="A category is an established interest when the user's affinity for it "
        "(strongest category = 1) is at least this.",
    )
    candidates: int = Field(
        20,
        ge=1,
        le=1000,
        description="The exploration cards are drawn, per user, from this many of the best "
        "candidates outside the user's interests.",
    )
    seed: int = Field(0, description="Mixed with the user id and the ribbon into the draw.")
    label: str = Field("Something different", min_length=1, max_length=128)


class RecencyConfig(_Config):
    """A minimum share of fresh items."""

    share: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of cards newer than max_age; 0 turns it off."
    )
    max_age: Duration = Field("7d", description="How new an item must be to count as fresh.")
    label: str = Field("New this week", min_length=1, max_length=128)

    @property
    def max_age_seconds(self) -> float:
        return duration_seconds(self.max_age)


class EditorialPin(_Config):
    item: str = Field(..., min_length=1, max_length=256)
    position: int = Field(..., ge=0, le=199, description="Counts from 0.")


class RibbonEditorial(_Config):
    """What editors set for one ribbon."""

    pins: list[EditorialPin] = Field(default_factory=list)
    curated: list[str] = Field(
        default_factory=list, description="Curated items, best first, for the curated slots."
    )
    curated_share: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of cards kept for curated items (0.2: 2 of 10)."
    )

    @model_validator(mode="after")
    def _distinct_pins(self) -> RibbonEditorial:
        items = [pin.item for pin in self.pins]
        if len(set(items)) != len(items):
            raise ValueError("an item is pinned twice in one ribbon")
        return self


class EditorialConfig(_Config):
    """Hidden items (every ribbon of the surface) and, per ribbon, pins and curated slots.
    ``ribbons`` is keyed by segment id, ``fallback`` for the fallback ribbon, or ``*`` for
    every ribbon that has no entry of its own."""

    hidden: list[str] = Field(default_factory=list, description="Never shown on this surface.")
    label: str = Field("Editor's pick", min_length=1, max_length=128)
    ribbons: dict[str, RibbonEditorial] = Field(default_factory=dict)


class NoRepeatsConfig(_Config):
    across_ribbons: bool = Field(True, description="An item appears once per page.")
    rotate_after: int = Field(
        3,
        ge=0,
        le=1000,
        description="An item shown this many times within rotation_window without a click "
        "rotates out; 0 turns rotation off.",
    )
    rotation_window: Duration = Field("7d", description="The window rotate_after counts in.")

    @property
    def rotation_window_seconds(self) -> float:
        return duration_seconds(self.rotation_window)


class GuardrailsConfig(_Config):
    """Every guardrail of one surface. Sensitive topics have no settings: the consent gate is
    always on."""

    diversity: DiversityConfig = Field(default_factory=DiversityConfig)
    exploration: ExplorationConfig = Field(default_factory=ExplorationConfig)
    recency: RecencyConfig = Field(default_factory=RecencyConfig)
    editorial: EditorialConfig = Field(default_factory=EditorialConfig)
    no_repeats: NoRepeatsConfig = Field(default_factory=NoRepeatsConfig)
