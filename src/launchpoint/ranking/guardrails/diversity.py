"""Diversity: re-rank the model's cards so one category does not fill the ribbon.

Three settings, any combination:
- ``mmr_lambda``: maximal marginal relevance over the best ``mmr_candidates``. Each slot, top
  to bottom, takes the candidate with the highest ``lambda * relevance - (1 - lambda) *
  similarity``, where relevance is the score scaled to 0..1 within those candidates and
  similarity the largest Jaccard overlap of its categories with a card already on the ribbon.
- ``max_per_category``: no category on more than this many cards. The best candidates that
  fit are taken in score order; when too few fit, the best others fill the ribbon and a note
  says the cap broke (editorial cards count, and are never moved).
- ``min_categories``: at least this many distinct categories. While short, the best candidate
  bringing a new category replaces the lowest card whose categories other cards still cover.

Later guardrails (exploration, recency) keep the cap and the floor when they swap cards.
"""

from __future__ import annotations

import numpy as np

from launchpoint.ranking.guardrails.config import DiversityConfig
from launchpoint.ranking.guardrails.draft import RibbonDraft

STAGE = "diversity"


class DiversityGuardrail:
    name = STAGE

    def __init__(self, config: DiversityConfig) -> None:
        self.config = config

    def apply(self, draft: RibbonDraft) -> None:
        config = self.config
        draft.category_cap = config.max_per_category
        draft.min_categories = config.min_categories
        cap = config.max_per_category
        # Greedy under a cap keeps the model's order when no category is over it already.
        if config.mmr_lambda is not None or (
            cap is not None and max(draft.category_count, default=0) > cap
        ):
            self._rerank(draft)
        if config.min_categories:
            self._distinct_floor(draft)

    def _rerank(self, draft: RibbonDraft) -> None:
        before = draft.snapshot()
        movable = [s for s in range(draft.k) if not draft.locked[s]]
        for slot in movable:
            if draft.slots[slot] >= 0:
                draft.vacate(slot, STAGE, record=False)
        open_slots = movable
        if self.config.mmr_lambda is not None:
            open_slots = self._mmr(draft, open_slots, self.config.mmr_lambda)
        cap = self.config.max_per_category
        if cap is not None and open_slots:
            open_slots = self._under_cap(draft, open_slots, cap)
        if open_slots:  # nothing more fits the cap: the best others keep the ribbon full
            for slot, candidate in zip(
                open_slots, draft.ranked(draft.free, len(open_slots)).tolist(), strict=False
            ):
                draft.place(slot, candidate, STAGE, "model", record=None)
        how = f"MMR (lambda {self.config.mmr_lambda})" if self.config.mmr_lambda is not None else ""
        if cap is not None:
            how = " and ".join(filter(None, [how, f"at most {cap} cards per category"]))
        draft.record_changes(STAGE, before, how)
        if cap is not None:
            worst = max(draft.category_count, default=0)
            if worst > cap:
                category = draft.category_count.index(worst)
                name = draft.catalogue.categories.names[category]
                editorial = sum(
                    1
                    for slot, c in enumerate(draft.slots)
                    if draft.locked[slot] and category in draft.categories_of(c)
                )
                reason = (
                    f"the editorial cards alone put {editorial} cards in {name!r}"
                    if editorial > cap
                    else f"too few candidates of other categories: {worst} cards are {name!r}"
                )
                draft.note(STAGE, f"at most {cap} cards per category", cap, worst, reason)

    def _mmr(self, draft: RibbonDraft, open_slots: list[int], lam: float) -> list[int]:
        pool = draft.ranked(draft.free, max(self.config.mmr_candidates, len(open_slots)))
        if not len(pool):
            return open_slots
        m = len(pool)
        shown = [c for c in draft.slots if c >= 0]  # editorial cards, already on the ribbon
        labels = draft.catalogue.categories
        similarity = labels.jaccard(draft.items[np.concatenate([pool, np.array(shown, np.intp)])])
        nearest = similarity[:m, m:].max(axis=1) if shown else np.zeros(m)
        pool_labels = labels.gather(draft.items[pool])
        scores = draft.scores[pool]
        span = float(scores.max() - scores.min())
        relevance = (scores - scores.min()) / span if span > 0 else np.ones(m)
        # What a candidate is worth before similarity; -inf once taken or over the cap (the
        # counts only grow while MMR fills, so a blocked candidate stays blocked).
        worth = lam * relevance
        cap = self.config.max_per_category
        if cap is not None:
            worth[pool_labels.any_of(draft.categories_at(cap))] = -np.inf
        penalty = 1.0 - lam
        remaining = list(open_slots)
        while remaining:
            best = int(np.argmax(worth - penalty * nearest))  # ties: the better-ranked
            if worth[best] == -np.inf:
                break
            worth[best] = -np.inf
            candidate = int(pool[best])
            draft.place(remaining.pop(0), candidate, STAGE, "model", record=None)
            np.maximum(nearest, similarity[best, :m], out=nearest)
            if cap is not None and any(
                draft.category_count[c] >= cap for c in draft.categories_of(candidate)
            ):
                worth[pool_labels.any_of(draft.categories_at(cap))] = -np.inf
        return remaining

    @staticmethod
    def _under_cap(draft: RibbonDraft, open_slots: list[int], cap: int) -> list[int]:
        labels = draft.candidate_categories
        remaining = list(open_slots)
        while remaining:
            full = draft.categories_at(cap)
            fits = draft.free & ~labels.any_of(full) if full.any() else draft.free
            batch = draft.ranked(fits, len(remaining))
            if not len(batch):
                break
            for candidate in batch.tolist():
                draft.place(remaining.pop(0), candidate, STAGE, "model", record=None)
                if any(draft.category_count[c] >= cap for c in draft.categories_of(candidate)):
                    break  # a category just filled up: what fits has changed
        return remaining

    def _distinct_floor(self, draft: RibbonDraft) -> None:
        wanted = min(self.config.min_categories, draft.cards_shown())
        have = draft.distinct_categories()
        if have >= wanted:
            return
        labels = draft.candidate_categories
        while have < wanted:
            brings_new = labels.any_of(~draft.categories_at(1))
            if not draft.swap_in(
                brings_new,
                None,
                STAGE,
                "diversity",
                reason=f"at least {wanted} categories",
                accept=lambda slot, candidate: _gain(draft, slot, candidate) > 0,
            ):
                break
            have = draft.distinct_categories()
        if have < wanted:
            size = draft.catalogue.categories.size
            among = int(labels.union(draft.alive, size).sum())
            reason = (
                f"the candidates this user may see cover only {among} categories"
                if among < wanted
                else "the cards that could make room are editorial, or cover a category "
                "no other card has"
            )
            draft.note(STAGE, f"at least {wanted} distinct categories", wanted, have, reason)


def _gain(draft: RibbonDraft, slot: int, candidate: int) -> int:
    """How many categories the ribbon gains by this swap."""
    out = set(draft.categories_of(draft.slots[slot]))
    new = set(draft.categories_of(candidate))
    count = draft.category_count
    return sum(1 for c in new - out if count[c] == 0) - sum(1 for c in out - new if count[c] == 1)
