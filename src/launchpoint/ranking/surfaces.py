"""The item page and search surfaces, through the same stages as the home page.

Related items: candidates are every item but the context item; the score is how related each
is (the trained model's item-to-item score when one is active, else co-occurrence among users
blended with shared categories), personalised by the user's affinity when a user is given;
then the business filters, the surface's guardrails and explanations.

Search re-ranking: the caller's list, ordered for the user. Items the workspace does not know
are kept, after the known ones, in the caller's order; items on a sensitive topic the user has
not consented to are taken out and listed as removed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from launchpoint.domain.ribbons import Card, Ribbon, RibbonPage
from launchpoint.domain.segments import SurfaceSpec
from launchpoint.errors import InvalidInput, NotFound
from launchpoint.ranking.guardrails import GuardedRibbon, UserContext
from launchpoint.ranking.pipeline import ServingTools, UserSignals, _candidates, _upstream
from launchpoint.ranking.relevance import Relevance, _scaled
from launchpoint.ranking.retrieval import shortlisted
from launchpoint.ranking.state import WorkspaceState

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

CO_OCCURRENCE_WEIGHT = 0.7  # against shared categories, without a trained model
PERSONAL_WEIGHT = 0.2  # the user's affinity, when a user is given
MAX_RANK_ITEMS = 1000


def related_scores(
    state: WorkspaceState, relevance: Relevance, item: int, candidates: IntArray
) -> tuple[FloatArray, FloatArray]:
    """(score, share of it from behaviour) of each candidate against the context item."""
    if relevance.model is not None:
        scores = _scaled(relevance.model.related(item, candidates))
        # A context item the model has not seen (new since training) is scored by its
        # content alone: no behaviour to explain it by.
        seen = relevance.model.to_model[item] >= 0
        return scores, np.full(len(candidates), 1.0 if seen else 0.0)
    positive = state.positive
    column = positive[:, [item]]
    co = np.asarray((positive[:, candidates].T @ column).todense(), dtype=np.float64).ravel()
    norms = state.item_norms
    denominator = norms[candidates] * norms[item]
    cosine = np.divide(co, denominator, out=np.zeros_like(co), where=denominator > 0)
    cats = state.item_categories
    shared = np.asarray((cats[candidates] @ cats[item].T).todense(), dtype=np.float64).ravel()
    mine = float(cats[item].multiply(cats[item]).sum())
    overlap = shared / mine if mine > 0 else np.zeros(len(candidates))
    behaviour = CO_OCCURRENCE_WEIGHT * _scaled(cosine) if cosine.any() else np.zeros(len(co))
    content = (1 - CO_OCCURRENCE_WEIGHT) * overlap
    total = behaviour + content
    share = np.divide(behaviour, total, out=np.zeros_like(total), where=total > 0)
    return total, share


def related_page(
    state: WorkspaceState,
    tools: ServingTools,
    relevance: Relevance,
    item_id: str,
    user: UserSignals | None,
    surface_id: str,
    surface: SurfaceSpec,
    k: int,
    explain: bool,
) -> tuple[RibbonPage, list[GuardedRibbon]]:
    item = state.item_index.get(item_id)
    if item is None:
        raise NotFound(f"item {item_id!r} does not exist in this workspace")
    pool = np.ones(len(state.item_ids), dtype=bool)
    pool[item] = False
    if user is None:
        allowed = state.available.copy()
        allowed[item] = False
        items = np.flatnonzero(allowed)
        removed: list[Any] = []
        context = tools_context(state, item_id)
    else:
        items, removed = _upstream(state, user, pool, explain)
        context = user.context
    scores, behaviour = related_scores(state, relevance, item, items)
    if user is not None and user.personal:
        scores = (1 - PERSONAL_WEIGHT) * scores + PERSONAL_WEIGHT * relevance.item_affinity(
            user, items
        )
    chain = tools.chain(surface_id, surface)
    page = chain.new_page(context)
    # Every candidate is scored already (one product over the catalogue); the shortlist
    # spares the guardrails the ones they cannot use.
    every = items
    items, scores, removed = shortlisted(
        chain, "related", every, removed, context, k, relevance.retrieval,
        lambda some: scores[np.searchsorted(every, some)],
    )  # fmt: skip
    guarded = chain.ribbon(_candidates("related", items, scores, removed), k, page, trace=explain)
    title = state.item_rows[item]["title"] or item_id
    share = dict(zip(every.tolist(), behaviour.tolist(), strict=True))
    cards = []
    for card in guarded.cards:
        if card.label is not None:
            reason, signal = card.label, card.source
        elif share.get(card.item, 0.0) >= 0.5:
            reason, signal = f"Often enjoyed with {title}", "co_occurrence"
        else:
            reason, signal = _shared_category(state, item, card.item), "category"
        row = state.item_rows[card.item]
        cards.append(
            Card(state.item_ids[card.item], row["title"], round(card.score, 6), reason, signal)
        )
    ribbon = Ribbon(None, f"Related to {title}", cards, kind="related")
    user_id = user.context.user_id if user is not None else ""
    answer = RibbonPage(uuid.uuid4().hex, user_id, surface_id, [ribbon] if cards else [])
    return answer, [guarded]


def tools_context(state: WorkspaceState, item_id: str) -> UserContext:
    """The guardrails' view of an anonymous visitor: no consents, no interests."""
    return UserContext(f"anonymous:{item_id}", state.now)


def _shared_category(state: WorkspaceState, context: int, item: int) -> str:
    cats = state.item_categories
    mine = set(cats.indices[cats.indptr[context] : cats.indptr[context + 1]].tolist())
    theirs = cats.indices[cats.indptr[item] : cats.indptr[item + 1]].tolist()
    common = [state.categories[c] for c in theirs if c in mine]
    return f"Also in {common[0]}" if common else "Related"


@dataclass(frozen=True)
class RankedItem:
    item_id: str
    position: int
    score: float | None  # None: an item the workspace does not know
    reason: str


def rank_items(
    state: WorkspaceState, relevance: Relevance, user: UserSignals, item_ids: list[str]
) -> tuple[list[RankedItem], list[dict[str, str]]]:
    """The caller's items ordered for the user; (ranked, removed)."""
    if len(item_ids) > MAX_RANK_ITEMS:
        raise InvalidInput(f"item_ids: {len(item_ids)} items; rank at most {MAX_RANK_ITEMS}")
    seen: set[str] = set()
    known: list[int] = []
    unknown: list[str] = []
    removed: list[dict[str, str]] = []
    consented = state.allowed_for(user.index)
    for item_id in item_ids:
        if item_id in seen:
            continue
        seen.add(item_id)
        index = state.item_index.get(item_id)
        if index is None:
            unknown.append(item_id)
        elif not consented[index]:
            removed.append({"item_id": item_id, "reason": "sensitive topic without consent"})
        else:
            known.append(index)
    items = np.array(known, dtype=np.intp)
    scores = relevance.score(user, items, None) if len(items) else np.zeros(0)
    order = np.argsort(-scores, kind="stable")  # ties keep the caller's order
    reasons = relevance.reasons(user, items, None)
    out = [
        RankedItem(
            state.item_ids[items[n]], pos, round(float(scores[n]), 6), reasons[int(items[n])][0]
        )
        for pos, n in enumerate(order.tolist())
    ]
    out += [
        RankedItem(item_id, len(out) + n, None, "Not known to Launchpoint: kept in your order")
        for n, item_id in enumerate(unknown)
    ]
    return out, removed
