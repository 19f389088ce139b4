"""What a surface shows: ribbons of cards, each card with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Card:
    item_id: str
    title: str
    score: float
    reason: str
    signal: str  # which signal placed the card: "segment_popularity", "affinity", "popular"


@dataclass(frozen=True)
class Ribbon:
    segment_id: str | None  # None for the fallback ribbon
    title: str
    cards: list[Card]
    kind: str = "segment"  # "segment" or "fallback"


@dataclass(frozen=True)
class RibbonPage:
    recommendation_id: str
    user_id: str
    surface: str
    ribbons: list[Ribbon] = field(default_factory=list)
    fallback_used: bool = False
