"""The serving pipeline for one request, as small stages:

resolve the user -> candidates (a segment's eligible items, the related items of a context
item, or the caller's list) -> business filters (unavailable, already consumed, consent) ->
scoring (the trained model when one is active, else the first score) -> guardrails ->
explanations -> the answer (the exposure is logged by the engine).

Each surface (home ribbons, item page, search) configures its guardrails in its SurfaceSpec.
``explain=True`` keeps a trace of every stage's decision on every candidate.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from launchpoint.domain.ribbons import Card, Ribbon, RibbonPage
from launchpoint.domain.segments import SurfaceSpec
from launchpoint.errors import NotFound
from launchpoint.ranking.guardrails import (
    CandidateList,
    Catalogue,
    GuardedRibbon,
    GuardrailChain,
    RibbonCandidates,
    UpstreamFilter,
    UserContext,
)
from launchpoint.ranking.relevance import Relevance
from launchpoint.ranking.retrieval import shortlisted
from launchpoint.ranking.state import SegmentState, WorkspaceState

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RibbonRequest:
    user_id: str
    surface: str = "home"
    layers: int | None = None
    cards: int | None = None
    explain: bool = False


@dataclass
class ServingTools:
    """What the pipeline builds once per serving state and surface: the catalogue arrays and
    each surface's guardrail chain."""

    state: WorkspaceState
    catalogue: Catalogue
    chains: dict[str, GuardrailChain] = field(default_factory=dict)

    @classmethod
    def for_state(cls, state: WorkspaceState) -> ServingTools:
        return cls(state, Catalogue.from_state(state))

    def with_items(self, state: WorkspaceState, written: Sequence[int]) -> ServingTools:
        """For ``state``, made from this one's by taking the ``written`` items in."""
        return ServingTools(state, self.catalogue.with_items(state, written))

    def chain(self, surface_id: str, surface: SurfaceSpec) -> GuardrailChain:
        chain = self.chains.get(surface_id)
        if chain is None or chain.config != surface.guardrails:
            chain = self.chains[surface_id] = GuardrailChain(surface.guardrails, self.catalogue)
        return chain


@dataclass(frozen=True)
class UserSignals:
    """What the pipeline knows about the user asking: who, what may be shown, tastes."""

    index: int
    allowed: BoolArray  # available, not consumed, consented
    affinity: FloatArray  # per category, -1..1
    context: UserContext
    personal: bool


def user_signals(
    state: WorkspaceState,
    user_id: str,
    now: float,
    *,
    personal: bool,
    ignored: tuple[IntArray, IntArray] | None = None,
) -> UserSignals:
    user = state.user_index.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id!r} does not exist in this workspace")
    allowed = state.available & state.allowed_for(user)
    allowed[state.consumed_items(user)] = False
    personal = personal and bool(state.personalised[user])
    affinity = state.category_affinity(user) if personal else np.zeros(len(state.categories))
    consents = frozenset(t for t, ok in state.consents[user].items() if ok)
    ignored_items, ignored_counts = ignored if ignored is not None else (None, None)
    context = UserContext(
        user_id,
        now,
        consents=consents,
        category_affinity=np.clip(affinity, 0.0, None),
        ignored_items=ignored_items if ignored_items is not None else np.zeros(0, np.intp),
        ignored_counts=ignored_counts if ignored_counts is not None else np.zeros(0, np.intp),
        seed=int(now // 86400),  # the exploration draw changes day by day
    )
    return UserSignals(user, allowed, affinity, context, personal)


def _candidates(
    key: str, items: IntArray, scores: FloatArray, removed: Sequence[UpstreamFilter] = ()
) -> RibbonCandidates:
    # The chain's order is the tie-break: best first, then the lower item index.
    order = np.lexsort((items, -scores))
    # The filters' flags follow their candidates into the new order.
    upstream = [UpstreamFilter(f.name, f.removed[order], f.reason) for f in removed]
    return RibbonCandidates(key, CandidateList(items[order], scores[order]), upstream)


def _upstream(
    state: WorkspaceState, user: UserSignals, pool: BoolArray, explain: bool
) -> tuple[IntArray, list[UpstreamFilter]]:
    """The pool's items the user may see; with ``explain``, the whole pool and the filters
    that took items out, so the trace shows them."""
    if not explain:
        return np.flatnonzero(pool & user.allowed), []
    items = np.flatnonzero(pool)
    unavailable = ~state.available[items]
    consumed = np.isin(items, state.consumed_items(user.index))
    return items, [
        UpstreamFilter("available", unavailable, "not available"),
        UpstreamFilter(
            "not_consumed", consumed & ~unavailable, "already bought, rated or dismissed"
        ),
    ]


def home_page(
    state: WorkspaceState,
    tools: ServingTools,
    relevance: Relevance,
    request: RibbonRequest,
    surface: SurfaceSpec,
    user: UserSignals,
) -> tuple[RibbonPage, list[GuardedRibbon]]:
    layers = request.layers or surface.layers
    k = request.cards or surface.cards
    chain = tools.chain(request.surface, surface)
    page = chain.new_page(user.context)
    done: list[tuple[Ribbon, GuardedRibbon]] = []
    if user.personal:
        for segment in state.segments:
            if len(done) >= layers:
                break
            if not (segment.qualification.qualifies and segment.members[user.index]):
                continue
            items, removed = _upstream(state, user, segment.eligible, request.explain)
            items, scores, removed = shortlisted(
                chain,
                segment.spec.id,
                items,
                removed,
                user.context,
                k,
                relevance.retrieval,
                partial(relevance.score, user, segment=segment),
                relevance.search(user),
            )
            guarded = chain.ribbon(
                _candidates(segment.spec.id, items, scores, removed),
                k,
                page,
                trace=request.explain,
            )
            if guarded.cards:  # nothing left for this user: the layer goes to the next one
                cards = _cards(state, relevance, user, guarded, segment)
                done.append((Ribbon(segment.spec.id, segment.spec.title, cards), guarded))
    fallback_used = False
    if not done and surface.fallback == "popular":
        pool = np.ones(len(state.item_ids), dtype=bool)
        items, removed = _upstream(state, user, pool, request.explain)
        items, scores, removed = shortlisted(
            chain,
            "fallback",
            items,
            removed,
            user.context,
            k,
            relevance.retrieval,
            lambda some: state.popularity[some] / (state.top_popularity or 1.0),
        )
        guarded = chain.ribbon(
            _candidates("fallback", items, scores, removed),
            k,
            page,
            trace=request.explain,
        )
        if guarded.cards:
            cards = _cards(state, relevance, user, guarded, None)
            done.append((Ribbon(None, surface.fallback_title, cards, kind="fallback"), guarded))
            fallback_used = True
    ribbons = [ribbon for ribbon, _ in done]
    answer = RibbonPage(uuid.uuid4().hex, request.user_id, request.surface, ribbons, fallback_used)
    return answer, [guarded for _, guarded in done]


def _cards(
    state: WorkspaceState,
    relevance: Relevance,
    user: UserSignals,
    guarded: GuardedRibbon,
    segment: SegmentState | None,
) -> list[Card]:
    model_items = np.array([c.item for c in guarded.cards if c.label is None], dtype=np.intp)
    if segment is None:  # the fallback ribbon, ranked by popularity alone
        reasons = relevance.popular_reasons(model_items)
    else:
        reasons = relevance.reasons(user, model_items, segment)
    cards = []
    for card in guarded.cards:
        if card.label is not None:  # a guardrail's card: its label is its reason
            reason, signal = card.label, card.source
        else:
            reason, signal = reasons[card.item]
        row = state.item_rows[card.item]
        cards.append(
            Card(state.item_ids[card.item], row["title"], round(card.score, 6), reason, signal)
        )
    return cards


def notes_of(guarded: Sequence[GuardedRibbon]) -> list[dict[str, Any]]:
    return [note.as_dict() for ribbon in guarded for note in ribbon.notes]
