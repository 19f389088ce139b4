"""Ribbons for one user: qualifying segments in priority order, each with its eligible items
ranked by a first relevance score.

score = POPULARITY_WEIGHT * (the item's popularity among the segment's members, scaled to 1)
      + (1 - POPULARITY_WEIGHT) * (the user's affinity for the item's categories, scaled to 1)
Items the user already consumed (purchased, rated, dismissed), unavailable items and items on
a sensitive topic the user has not consented to are left out. Each card's reason names
whichever of the two terms contributed more.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from launchpoint.domain.ribbons import Card, Ribbon, RibbonPage
from launchpoint.domain.segments import SurfaceSpec
from launchpoint.errors import NotFound
from launchpoint.ranking.state import SegmentState, WorkspaceState

POPULARITY_WEIGHT = 0.5

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RibbonRequest:
    user_id: str
    surface: str = "home"
    layers: int | None = None
    cards: int | None = None


def _top(
    scores: FloatArray, candidates: npt.NDArray[np.intp], k: int, popularity: FloatArray
) -> npt.NDArray[np.intp]:
    """The k best candidates, best first. Ties go to the more popular item, then to the lower
    item index, so the answer never depends on how a partial sort split equal scores."""
    if len(candidates) > k:
        cutoff = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = np.flatnonzero(scores >= cutoff)
        scores, candidates = scores[keep], candidates[keep]
    order = np.lexsort((candidates, -popularity[candidates], -scores))[:k]
    return candidates[order]


def allowed_items(state: WorkspaceState, user: int) -> npt.NDArray[np.bool_]:
    """Items the user may be shown: available, not consumed, and no sensitive topic the user
    has not consented to."""
    mask = state.available & state.allowed_for(user)
    mask[state.consumed_items(user)] = False
    return mask


def segment_ribbon(
    state: WorkspaceState,
    segment: SegmentState,
    allowed: npt.NDArray[np.bool_],
    affinity: FloatArray,
    item_affinity: FloatArray,
    k: int,
) -> Ribbon:
    """``affinity``: the user's affinity per category; ``item_affinity``: per item (0..1).
    ``allowed``: the items this user may be shown at all."""
    candidates = np.flatnonzero(segment.eligible & allowed)
    pop = segment.popularity[candidates]
    top_pop = segment.top_popularity
    pop_term = POPULARITY_WEIGHT * (pop / top_pop if top_pop > 0 else pop)
    aff_term = (1 - POPULARITY_WEIGHT) * item_affinity[candidates]
    scores = pop_term + aff_term
    chosen = _top(scores, candidates, k, state.popularity)
    at = np.searchsorted(candidates, chosen)  # candidates are sorted: flatnonzero
    cards = []
    for item, n in zip(chosen.tolist(), at.tolist(), strict=True):
        if aff_term[n] > pop_term[n]:
            reason, signal = _affinity_reason(state, item, affinity), "affinity"
        else:
            reason, signal = segment.spec.reason_text(), "segment_popularity"
        cards.append(_card(state, item, float(scores[n]), reason, signal))
    return Ribbon(segment.spec.id, segment.spec.title, cards)


def popular_ribbon(
    state: WorkspaceState, allowed: npt.NDArray[np.bool_], title: str, k: int
) -> Ribbon:
    candidates = np.flatnonzero(allowed)
    scores = state.popularity[candidates] / (state.top_popularity or 1.0)
    chosen = _top(scores, candidates, k, state.popularity)
    at = np.searchsorted(candidates, chosen)
    cards = [
        _card(state, item, float(scores[n]), "Popular right now", "popular")
        for item, n in zip(chosen.tolist(), at.tolist(), strict=True)
    ]
    return Ribbon(None, title, cards, kind="fallback")


def _affinity_reason(state: WorkspaceState, item: int, affinity: FloatArray) -> str:
    cats = state.item_categories
    own = cats.indices[cats.indptr[item] : cats.indptr[item + 1]]
    best = own[int(np.argmax(affinity[own]))]
    return f"Because you like {state.categories[best]}"


def _card(state: WorkspaceState, item: int, score: float, reason: str, signal: str) -> Card:
    return Card(
        state.item_ids[item], state.item_rows[item]["title"], round(score, 6), reason, signal
    )


def build_ribbons(
    state: WorkspaceState, request: RibbonRequest, surface: SurfaceSpec, *, personal: bool = True
) -> RibbonPage:
    """``personal=False``: the non-personalised experience (the user opted out of it for this
    surface), as for a user with personalisation off."""
    user = state.user_index.get(request.user_id)
    if user is None:
        raise NotFound(f"user {request.user_id!r} does not exist in this workspace")
    layers = request.layers or surface.layers
    k = request.cards or surface.cards
    ribbons: list[Ribbon] = []
    allowed = allowed_items(state, user)
    if personal and state.personalised[user]:
        affinity = state.category_affinity(user)
        item_affinity = state.item_categories @ affinity
        for segment in state.segments:
            if len(ribbons) >= layers:
                break
            if segment.qualification.qualifies and segment.members[user]:
                ribbon = segment_ribbon(state, segment, allowed, affinity, item_affinity, k)
                if ribbon.cards:  # nothing left for this user: the layer goes to the next one
                    ribbons.append(ribbon)
    fallback_used = False
    if not ribbons and surface.fallback == "popular":
        fallback = popular_ribbon(state, allowed, surface.fallback_title, k)
        if fallback.cards:
            ribbons.append(fallback)
            fallback_used = True
    return RibbonPage(uuid.uuid4().hex, request.user_id, request.surface, ribbons, fallback_used)
