"""No repeats: an item appears once per page, and items shown again and again without a
click rotate out for a while."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from launchpoint.ranking.guardrails.base import PageState
from launchpoint.ranking.guardrails.config import NoRepeatsConfig
from launchpoint.ranking.guardrails.draft import RibbonDraft


class PageRepeatsGuardrail:
    """Leaves out items an earlier ribbon of the same page already shows."""

    name = "no_repeats"

    def apply(self, draft: RibbonDraft) -> None:
        reason = "already shown in an earlier ribbon of this page"
        draft.checked(self.name, reason)
        on_page = draft.page.on_page[draft.items]
        if on_page.any():
            draft.remove(self.name, on_page, reason)


class RotationGuardrail:
    """Leaves out items shown ``rotate_after`` times or more in the window without a click
    (the caller counts them from exposures and clicks, over ``rotation_window``).

    Rotation is the one soft filter: an ignored item is better than an empty slot, so when too
    few other candidates remain to fill the ribbon, the least ignored of the rotated items
    come back (then the best scored).
    """

    name = "rotation"

    def __init__(self, config: NoRepeatsConfig) -> None:
        self.after = config.rotate_after

    def apply(self, draft: RibbonDraft) -> None:
        reason = f"shown {self.after} times or more without a click"
        draft.checked(self.name, reason)
        if not len(draft.user.ignored_items):
            return
        counts = draft.page.cached(self.name, lambda: _impressions(draft.page))[draft.items]
        stale = counts >= self.after
        if not stale.any():
            return
        removed = draft.remove(self.name, stale, reason)
        short = draft.k - int(np.count_nonzero(draft.alive))
        if short <= 0 or not removed.any():
            return
        back = np.flatnonzero(removed)
        back = back[np.lexsort((back, -draft.scores[back], counts[back]))[:short]]
        draft.readmit(self.name, back, "back: too few other candidates to fill the ribbon")
        draft.note(
            self.name,
            f"rotate out items shown {self.after}+ times without a click",
            int(removed.sum()),
            int(removed.sum()) - len(back),
            f"{len(back)} came back because too few other candidates remained",
        )


def _impressions(page: PageState) -> npt.NDArray[np.uint8]:
    """Per catalogue item: times shown to the user without a click, up to 255 (one byte an
    item keeps the array small on a large catalogue)."""
    counts = np.zeros(page.size, dtype=np.uint8)
    counts[page.user.ignored_items] = np.minimum(page.user.ignored_counts, 255)
    return counts
