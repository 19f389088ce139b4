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
  best candidates outside the user's established interests (exploration's material), the
  best fresh ones (the recency floor's), and, with a diversity floor or cap, the best of the
  categories the others do not cover.

Each promise is kept or noted either way, and with exact scores the cards are those of the
whole list except where a floor looks for a card that keeps every other promise too (it tries
the first SWAP_SEARCH candidates of a kind, and past the best ones those differ) or a cap
walks the list below the shortlist: a property test holds both to this.
Approximate search finds the best candidates with the recall ``benchmarks/serving_scale.py``
reports. With ``explain`` every candidate is scored and the ones the shortlist left out are
marked in the trace, so support sees what it dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from launchpoint.ranking.guardrails import GuardrailChain, UpstreamFilter, UserContext
from launchpoint.ranking.guardrails.draft import SWAP_SEARCH

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# rank(mask, n): per candidate, whether it is among the n best of the candidates where mask.
Rank = Callable[[BoolArray, int], BoolArray]
# search(candidates, n): the state indices of the n best candidates, approximately.
Search = Callable[[IntArray, int], IntArray]

DEFAULT_SHORTLIST = 200
DEFAULT_ANN_MIN_ITEMS = 200_000
SPARE = 50  # room for the items a page's earlier ribbons and rotation take out
SAMPLE = 1024  # scores sampled to set a group's threshold (``_above_threshold``)


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
    """Per score: among the ``n`` best, in the chain's order: the higher score first, then the
    earlier position (the candidates are in item order, so the lower item index, the chain's
    tie-break)."""
    if n >= len(scores):
        return np.ones(len(scores), dtype=bool)
    if n <= 0:
        return np.zeros(len(scores), dtype=bool)
    edge = np.partition(scores, len(scores) - n)[len(scores) - n]
    keep: BoolArray = scores > edge
    tied = np.flatnonzero(scores == edge)
    keep[tied[: n - int(np.count_nonzero(keep))]] = True
    return keep


def exact_rank(scores: FloatArray) -> Rank:
    def rank(mask: BoolArray, n: int) -> BoolArray:
        out = np.zeros(len(scores), dtype=bool)
        if n <= 0:
            return out
        where = _above_threshold(scores, mask, n)
        if where is None:  # a small group, or the sample's threshold fell short: all of it
            where = np.flatnonzero(mask)
        out[where[best_of(scores[where], n)]] = True
        return out

    return rank


def _above_threshold(scores: FloatArray, mask: BoolArray, n: int) -> IntArray | None:
    """The candidates of ``mask`` at or above a threshold that keeps a little more than ``n``
    of them, found from an evenly spaced sample; None where the sample cannot say (a small
    group) or the threshold kept fewer than ``n``.

    The shortlist asks for the best of half a dozen groups of a ribbon's candidates (all of
    them, those outside the user's interests, other categories, fresh ones), and a partial
    sort of each group's fifty thousand scores costs a quarter of a millisecond; a comparison
    with a threshold costs a fiftieth. Every member at or above the threshold is kept, so when
    there are ``n`` of them the group's ``n`` best, ties included, are among them and
    ``best_of`` over them is exact."""
    step = max(1, len(scores) // SAMPLE)
    sample = scores[::step][mask[::step]]
    members = int(np.count_nonzero(mask))
    want = -(-len(sample) * (3 * n // 2 + 32) // max(members, 1))  # members per sample entry
    if len(sample) < 32 or 2 * want >= len(sample):
        return None
    threshold = np.partition(sample, len(sample) - want)[len(sample) - want]
    where = np.flatnonzero(mask & (scores >= threshold))
    return where if len(where) >= n else None


def keep_mask(
    chain: GuardrailChain,
    key: str,
    items: IntArray,
    allowed: BoolArray,
    user: UserContext,
    size: int,
    k: int,
    rank: Rank,
) -> BoolArray:
    """Per candidate: kept by the shortlist (only ``allowed`` ones)."""
    config = chain.config
    catalogue = chain.catalogue
    keep = rank(allowed, size)
    diversity = config.diversity
    cap = diversity.max_per_category
    wanted = max(2 * diversity.min_categories, -(-2 * k // cap) if cap else 0)
    exploration = config.exploration
    affinity = user.category_affinity
    explores = bool(exploration.share) and affinity is not None
    # The candidates' categories, gathered once for the diversity rounds and exploration.
    labels = catalogue.categories.gather(items) if wanted or explores else None
    if labels is not None and wanted:
        # A category floor or cap reaches for other categories than the best candidates'
        # (which are often all in the user's favourite one or two): add the best candidates of
        # the categories not covered yet, a round per category at most.
        for _ in range(wanted):
            covered = labels.union(keep, catalogue.categories.size)
            if int(covered.sum()) >= wanted:
                break
            elsewhere = ~labels.any_of(covered) & allowed
            if not elsewhere.any():
                break
            keep |= rank(elsewhere, SWAP_SEARCH + SPARE)
    named = chain.named(key)
    if named is not None:
        keep |= named[items] & allowed
    outside: BoolArray | None = None
    if labels is not None and explores:
        interests = np.asarray(affinity) >= exploration.min_affinity
        if interests.any():
            outside = ~labels.any_of(interests) & allowed
            keep |= rank(outside, exploration.candidates + SPARE)
    recency = config.recency
    if recency.share:
        fresh = np.zeros(catalogue.size, dtype=bool)
        fresh[catalogue.created_since(user.now - recency.max_age_seconds)] = True
        fresh_here = fresh[items] & allowed
        # The recency floor looks through the first SWAP_SEARCH fresh candidates that are free.
        keep |= rank(fresh_here, SWAP_SEARCH + SPARE)
        if outside is not None:  # a fresh card that keeps exploration's share too
            keep |= rank(fresh_here & outside, SWAP_SEARCH + SPARE)
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
    """A ribbon's candidates (in item order), their scores and the filters for the trace,
    after the shortlist. ``removed``: the upstream filters (only with a trace: then ``items``
    holds the whole pool, and every candidate is scored). ``search(candidates, n)``: the
    state indices of the ``n`` best of ``candidates`` by approximate search, used from
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
        rank: Rank = _search_rank(items, search, score, config.ann_min_items)
        method = "ann"
    else:
        scores = _scored(score, items, allowed)
        rank = exact_rank(scores)
    keep = keep_mask(chain, key, items, allowed, user, size, k, rank)
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


def _search_rank(
    items: IntArray, search: Search, score: Callable[[IntArray], FloatArray], min_items: int
) -> Rank:
    """Approximate search over large masks; the small ones (the fresh items, say) are scored
    exactly, which costs less than a filtered search below ``min_items``."""
    top = int(items.max()) + 1 if len(items) else 0

    def rank(mask: BoolArray, n: int) -> BoolArray:
        where = np.flatnonzero(mask)
        if len(where) < min_items:
            out = np.zeros(len(items), dtype=bool)
            out[where[best_of(score(items[where]), n)]] = True
            return out
        found = np.zeros(top, dtype=bool)
        hits = search(items[where], n)
        found[hits[hits < top]] = True
        kept: BoolArray = found[items] & mask
        return kept

    return rank
