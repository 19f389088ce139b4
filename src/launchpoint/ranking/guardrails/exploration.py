"""Exploration: a share of cards from outside the user's established interests, labelled as
such, so the user sees more than what they already like and the models learn more than what
they already know.

An established interest is a category whose affinity (the user's strongest = 1) reaches
``min_affinity``; an item is outside them when none of its categories is one (an item without
categories is outside). Cards the model already placed outside them count towards the share.
The missing ones are drawn from the best ``candidates`` outside the interests, in an order fixed
by (seed, the context's seed, user id, ribbon): the same user sees the same draw until one of
those changes. Each replaces the lowest card that is not editorial and that no earlier promise
(diversity cap or floor) needs.
"""

from __future__ import annotations

import numpy as np

from launchpoint.ranking.guardrails.base import item_keys, share_count, user_seed
from launchpoint.ranking.guardrails.config import ExplorationConfig
from launchpoint.ranking.guardrails.draft import Floor, RibbonDraft


class ExplorationGuardrail:
    name = "exploration"

    def __init__(self, config: ExplorationConfig) -> None:
        self.config = config

    def apply(self, draft: RibbonDraft) -> None:
        config = self.config
        wanted = share_count(config.share, draft.cards_shown())
        affinity = draft.user.category_affinity
        if not wanted or affinity is None:
            return
        interests = np.asarray(affinity) >= config.min_affinity
        if not interests.any():  # no established interests yet: every card explores
            return
        outside = ~draft.candidate_categories.any_of(interests)
        draft.floors.append(Floor(self.name, outside, wanted))
        have = draft.count(outside)
        if have >= wanted:
            return
        pool = draft.ranked(outside & draft.free, max(config.candidates, wanted - have))
        seed = user_seed(config.seed, draft.user.user_id, draft.key, draft.user.seed)
        preference = pool[np.argsort(item_keys(seed, draft.items[pool]), kind="stable")].tolist()
        while have < wanted and draft.swap_in(
            outside,
            preference,
            self.name,
            self.name,
            label=config.label,
            reason="outside the user's established interests",
        ):
            have += 1
        if have < wanted:
            draft.note(
                self.name,
                f"{config.share:.0%} of cards outside the user's interests",
                wanted,
                have,
                draft.shortfall(outside, wanted, "items outside them"),
            )
