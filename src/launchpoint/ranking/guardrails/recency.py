"""Recency floor: at least a share of the cards are items newer than ``max_age``, labelled as
new. Cards already fresh count; the missing ones are the best fresh candidates, each replacing
the lowest card that is not editorial and that no earlier promise (diversity, exploration)
needs."""

from __future__ import annotations

import numpy as np

from launchpoint.ranking.guardrails.base import BoolArray, share_count
from launchpoint.ranking.guardrails.config import RecencyConfig
from launchpoint.ranking.guardrails.draft import Floor, RibbonDraft


class RecencyGuardrail:
    """Fresh items are few in most catalogues: which they are is found once a page by a binary
    search over creation times, then read per candidate from a one-byte-per-item mask."""

    name = "recency"

    def __init__(self, config: RecencyConfig) -> None:
        self.config = config
        self.max_age = config.max_age_seconds

    def apply(self, draft: RibbonDraft) -> None:
        wanted = share_count(self.config.share, draft.cards_shown())
        if not wanted:
            return
        fresh = draft.page.cached(self.name, lambda: self._fresh(draft))[draft.items]
        draft.floors.append(Floor(self.name, fresh, wanted))
        have = draft.count(fresh)
        if have >= wanted:
            return
        while have < wanted and draft.swap_in(
            fresh,
            None,
            self.name,
            self.name,
            label=self.config.label,
            reason=f"newer than {self.config.max_age}",
        ):
            have += 1
        if have < wanted:
            draft.note(
                self.name,
                f"{self.config.share:.0%} of cards newer than {self.config.max_age}",
                wanted,
                have,
                draft.shortfall(fresh, wanted, "fresh items"),
            )

    def _fresh(self, draft: RibbonDraft) -> BoolArray:
        catalogue = draft.catalogue
        mask = np.zeros(catalogue.size, dtype=bool)
        mask[catalogue.created_since(draft.user.now - self.max_age)] = True
        return mask
