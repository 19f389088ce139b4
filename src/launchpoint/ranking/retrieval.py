"""The shortlist stage: on a large candidate set, only the candidates a ribbon can use go on to
the guardrails.

A ribbon shows ten cards; a segment of a large catalogue may hold fifty thousand eligible
items, and sorting and walking them all costs milliseconds a ribbon. So when a ribbon has more
than twice its shortlist size of candidates, it keeps:

- the best ones by score: ``RetrievalConfig.shortlist`` of them (more for long ribbons and for
  MMR), found by a partial sort of exact scores or, with a factor model over at least
  ``ann_min_items`` candidates, by approximate nearest-neighbour search (``recommenders.ann``),
  so that not every candidate is scored;
- what the guardrails may reach for below those: the surface's pinned and curated items, the
  best candidates outside the user's established interests (exploration's material) and the
  best fresh ones (the recency floor's).

With exact scores the page is the one the whole candidate list gives, as long as the items
taken out before the fill (those already on the page, rotated-out ones) leave enough of the
best: the size has room for them. A diversity floor the best candidates cannot meet turns the
shortlist off for that ribbon. Approximate search finds the best candidates with the recall
``benchmarks/serving_scale.py`` reports. With ``explain`` every candidate is scored and the
ones the shortlist left out are marked in the trace, so support sees what it dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from launchpoint.ranking.guardrails import GuardrailChain, UpstreamFilter, UserContext

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# rank(mask, n): per candidate, whether it is among the n best of the candidates where mask.
Rank = Callable[[BoolArray, int], BoolArray]
# search(candidates, n): the state indices of the n best candidates, approximately.
Search = Callable[[IntArray, int], IntArray]

DEFAULT_SHORTLIST = 400
DEFAULT_ANN_MIN_ITEMS = 50_000
SPARE = 50  # room for the items a page's earlier ribbons and rotation take out


@dataclass(frozen=True)
class RetrievalConfig:
    shortlist: int = DEFAULT_SHORTLIST  # 0: never shortlist
    ann_min_items: int = DEFAULT_ANN_MIN_ITEMS  # 0: never search approximately


def shortlist_size(config: RetrievalConfig, chain: GuardrailChain, k: int) -> int:
    """How many of the best candidates a ribbon of ``k`` cards keeps (0: all of them)."""
    if config.shortlist <= 0:
        return 0
    diversity = chain.config.diversity
    mmr = diversity.mmr_candidates if diversity.mmr_lambda is not None else 0
    return max(config.shortlist, 20 * k, mmr + SPARE)


def best_of(scores: FloatArray, n: int) -> BoolArray:
    """Per score: among the ``n`` highest. A tie at the edge keeps every tied one, so the
    chain's tie-break (the lower item index) finds the same order it would over all."""
    if n >= len(scores):
        return np.ones(len(scores), dtype=bool)
    if n <= 0:
        return np.zeros(len(scores), dtype=bool)
    edge = np.partition(scores, len(scores) - n)[len(scores) - n]
    keep: BoolArray = scores >= edge
    return keep


def exact_rank(scores: FloatArray) -> Rank:
    def rank(mask: BoolArray, n: int) -> BoolArray:
        out = np.zeros(len(scores), dtype=bool)
        where = np.flatnonzero(mask)
        out[where[best_of(scores[where], n)]] = True
        return out

    return rank


def keep_mask(
    chain: GuardrailChain,
    key: str,
    items: IntArray,
    allowed: BoolArray,
    user: UserContext,
    size: int,
    k: int,
    rank: Rank,
) -> BoolArray | None:
    """Per candidate: kept by the shortlist (only ``allowed`` ones). None when the shortlist
    cannot serve this ribbon (its best candidates hold too few categories for the surface's
    diversity floor or cap)."""
    config = chain.config
    catalogue = chain.catalogue
    keep = rank(allowed, size)
    diversity = config.diversity
    if diversity.min_categories or diversity.max_per_category:
        # A category floor or cap reaches below the best candidates when they hold too few
        # categories: then the ribbon takes the whole list.
        kept = catalogue.categories.gather(items[keep])
        every = np.ones(int(keep.sum()), dtype=bool)
        covered = int(kept.union(every, catalogue.categories.size).sum())
        cap = diversity.max_per_category
        if covered < 2 * diversity.min_categories or (cap and covered * cap < 2 * k):
            return None
    for spec in (config.editorial.ribbons.get(key), config.editorial.ribbons.get("*")):
        if spec is not None:
            index = catalogue.item_index
            named = [index[i] for i in (*spec.curated, *(p.item for p in spec.pins)) if i in index]
            keep |= np.isin(items, named) & allowed
    exploration = config.exploration
    affinity = user.category_affinity
    outside: BoolArray | None = None
    if exploration.share and affinity is not None:
        interests = np.asarray(affinity) >= exploration.min_affinity
        if interests.any():
            outside = ~catalogue.categories.gather(items).any_of(interests) & allowed
            keep |= rank(outside, exploration.candidates + SPARE)
    recency = config.recency
    if recency.share:
        fresh = np.zeros(catalogue.size, dtype=bool)
        fresh[catalogue.created_since(user.now - recency.max_age_seconds)] = True
        fresh_here = fresh[items] & allowed
        keep |= rank(fresh_here, SPARE)
        if outside is not None:  # a fresh card that keeps exploration's share too
            keep |= rank(fresh_here & outside, SPARE)
    return keep


def shortlisted(
    chain: GuardrailChain,
    key: str,
    items: IntArray,
    removed: Sequence[UpstreamFilter],
    user: UserContext,
    k: int,
    config: RetrievalConfig,
    score: Callable[[IntArray], FloatArray],
    search: Search | None = None,
) -> tuple[IntArray, FloatArray, list[UpstreamFilter]]:
    """A ribbon's candidates, their scores and the filters for the trace, after the
    shortlist. ``removed``: the upstream filters (only with a trace: then ``items`` holds the
    whole pool, and every candidate is scored). ``search(candidates, n)``: the state indices
    of the ``n`` best of ``candidates`` by approximate search, used from
    ``config.ann_min_items`` candidates."""
    filters = list(removed)
    allowed = np.ones(len(items), dtype=bool)
    for upstream in removed:
        allowed &= ~upstream.removed
    size = shortlist_size(config, chain, k)
    if not size or int(allowed.sum()) <= 2 * size:
        return items, _scored(score, items, allowed), filters
    scores: FloatArray | None = None
    method = "exact"
    if search is not None and 0 < config.ann_min_items <= int(allowed.sum()):
        rank: Rank = _search_rank(items, search)
        method = "ann"
    else:
        scores = _scored(score, items, allowed)
        rank = exact_rank(scores)
    keep = keep_mask(chain, key, items, allowed, user, size, k, rank)
    if keep is None:
        return items, scores if scores is not None else _scored(score, items, allowed), filters
    if removed:  # a trace: every candidate stays, the shortlist is one more filter
        how = "approximate nearest-neighbour search" if method == "ann" else "score"
        reason = f"not among the best {int(keep.sum()):,} candidates by {how}"
        filters.append(UpstreamFilter(f"shortlist_{method}", ~keep & allowed, reason))
        return items, scores if scores is not None else _scored(score, items, keep), filters
    kept = items[keep]
    return kept, scores[keep] if scores is not None else score(kept), filters


def _scored(
    score: Callable[[IntArray], FloatArray], items: IntArray, served: BoolArray
) -> FloatArray:
    """``score`` over the candidates that may be served, and apart over the rest. A score may
    be scaled over the candidates it is computed with (the model's is), so a trace, whose
    candidates include the filtered ones, scores the served ones as a request without one."""
    if served.all():
        return score(items)
    out = np.empty(len(items))
    if served.any():
        out[served] = score(items[served])
    if not served.all():
        out[~served] = score(items[~served])
    return out


def _search_rank(items: IntArray, search: Search) -> Rank:
    top = int(items.max()) + 1 if len(items) else 0

    def rank(mask: BoolArray, n: int) -> BoolArray:
        found = np.zeros(top, dtype=bool)
        hits = search(items[mask], n)
        found[hits[hits < top]] = True
        out: BoolArray = found[items] & mask
        return out

    return rank
