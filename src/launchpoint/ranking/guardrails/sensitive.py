"""The consent gate: an item labelled with a sensitive topic reaches only users who consented
to that topic. It runs first, on every ribbon, and has no settings, so no later step (an
editorial pin, an exploration draw) can bring such an item back."""

from __future__ import annotations

import numpy as np

from launchpoint.ranking.guardrails.base import BoolArray, PageState
from launchpoint.ranking.guardrails.catalogue import Catalogue
from launchpoint.ranking.guardrails.draft import RibbonDraft

REASON = "labelled with a sensitive topic the user has not consented to"


class SensitiveTopicsGuardrail:
    name = "sensitive_topics"

    def __init__(self, catalogue: Catalogue) -> None:
        self.topics = catalogue.topics
        self.size = catalogue.size

    def apply(self, draft: RibbonDraft) -> None:
        draft.checked(self.name, REASON)
        blocked = draft.page.cached(self.name, lambda: self.blocked(draft.page))
        if blocked is not None:
            draft.remove(self.name, blocked[draft.items], REASON)

    def blocked(self, page: PageState) -> BoolArray | None:
        """Per catalogue item: on a topic the page's user has not consented to (None when
        there is no such item), worked out once a page."""
        refused = [t for t, name in enumerate(self.topics.names) if name not in page.user.consents]
        if not refused:
            return None
        mask = np.zeros(self.size, dtype=bool)
        for topic in refused:
            mask[self.topics.items_with(topic)] = True
        return mask
