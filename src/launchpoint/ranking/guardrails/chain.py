"""The guardrails of one surface, applied in a fixed order to each ribbon of a page.

The order, and why:

1. ``upstream`` filters the caller ran (unavailable, consumed ...), recorded for the trace.
2. ``sensitive_topics``, ``hidden``, ``no_repeats``: hard filters. They run before anything
   places a card, so nothing later (a pin, a curated slot, an exploration draw) can show an
   item they removed.
3. ``rotation``: the one soft filter. It runs after the hard ones so the ignored items it
   lets back in (only to keep the ribbon full) have passed every hard filter.
4. ``editorial``: pins and curated slots, locked; the model fills around them.
5. ``fill``: the best-scored candidates fill the open slots.
6. ``diversity``: re-ranks the model's cards (MMR, category cap), then swaps in new
   categories up to its floor. It goes before the share floors so they can keep its cap and
   floor when they swap, which the other way round would not hold.
7. ``exploration``, then ``recency``: share floors, each swapping the fewest cards needed,
   never an editorial card, never one an earlier promise needs. Exploration comes first
   because it is on by default and recency is not.

A constraint that cannot be met leaves a note on the ribbon; it never empties the ribbon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from launchpoint.ranking.guardrails.base import (
    BoolArray,
    CandidateList,
    GuardedRibbon,
    Guardrail,
    PageState,
    UserContext,
)
from launchpoint.ranking.guardrails.catalogue import Catalogue
from launchpoint.ranking.guardrails.config import GuardrailsConfig
from launchpoint.ranking.guardrails.diversity import DiversityGuardrail
from launchpoint.ranking.guardrails.draft import RibbonDraft
from launchpoint.ranking.guardrails.editorial import (
    EVERY_RIBBON,
    EditorialGuardrail,
    HiddenItemsGuardrail,
)
from launchpoint.ranking.guardrails.exploration import ExplorationGuardrail
from launchpoint.ranking.guardrails.no_repeats import PageRepeatsGuardrail, RotationGuardrail
from launchpoint.ranking.guardrails.recency import RecencyGuardrail
from launchpoint.ranking.guardrails.sensitive import SensitiveTopicsGuardrail
from launchpoint.ranking.trace import PageTrace

ORDER = (
    "sensitive_topics",
    "hidden",
    "no_repeats",
    "rotation",
    "editorial",
    "fill",
    "diversity",
    "exploration",
    "recency",
)


@dataclass(frozen=True)
class UpstreamFilter:
    """A filter the caller applied before the guardrails, passed in so the trace shows it:
    ``removed`` flags, per candidate, what it took out."""

    name: str
    removed: BoolArray
    reason: str


@dataclass(frozen=True)
class RibbonCandidates:
    key: str  # the segment id, or "fallback"
    candidates: CandidateList
    upstream: Sequence[UpstreamFilter] = ()


class ModelFill:
    """The model's own ranking: the best-scored candidates fill the open slots, in order."""

    name = "fill"

    def apply(self, draft: RibbonDraft) -> None:
        open_slots = draft.open_slots()
        best = draft.ranked(draft.free, len(open_slots))
        for slot, candidate in zip(open_slots, best.tolist(), strict=False):
            draft.place(slot, candidate, self.name, "model", reason="by score")


class GuardrailChain:
    """Build once per serving state and surface (it resolves editorial item ids); use for
    every request."""

    def __init__(self, config: GuardrailsConfig, catalogue: Catalogue) -> None:
        self.config = config
        self.catalogue = catalogue
        steps: list[Guardrail] = [SensitiveTopicsGuardrail(catalogue)]
        editorial = config.editorial
        if editorial.hidden:
            steps.append(HiddenItemsGuardrail(editorial, catalogue))
        if config.no_repeats.across_ribbons:
            steps.append(PageRepeatsGuardrail())
        if config.no_repeats.rotate_after:
            steps.append(RotationGuardrail(config.no_repeats))
        if editorial.ribbons:
            steps.append(EditorialGuardrail(editorial, catalogue))
        steps.append(ModelFill())
        diversity = config.diversity
        if (
            diversity.min_categories
            or diversity.max_per_category
            or (diversity.mmr_lambda is not None)
        ):
            steps.append(DiversityGuardrail(diversity))
        if config.exploration.share:
            steps.append(ExplorationGuardrail(config.exploration))
        if config.recency.share:
            steps.append(RecencyGuardrail(config.recency))
        self.steps: tuple[Guardrail, ...] = tuple(steps)

    def named(self, key: str) -> BoolArray | None:
        """Per catalogue item: pinned or curated on ribbon ``key`` (None: no editorial picks
        there)."""
        for step in self.steps:
            if isinstance(step, EditorialGuardrail):
                plan = step.plans.get(key) or step.plans.get(EVERY_RIBBON)
                return plan.named if plan is not None else None
        return None

    def new_page(self, user: UserContext) -> PageState:
        return PageState(self.catalogue.size, user)

    def ribbon(
        self, ribbon: RibbonCandidates, k: int, page: PageState, *, trace: bool = False
    ) -> GuardedRibbon:
        """The ``k`` cards (fewer when fewer candidates are allowed) of one ribbon. Marks its
        items as shown on ``page``, so the next ribbon of the page does not repeat them."""
        draft = RibbonDraft(ribbon.key, ribbon.candidates, k, self.catalogue, page, trace=trace)
        for upstream in ribbon.upstream:
            draft.remove(upstream.name, upstream.removed, upstream.reason)
            draft.steps.append(upstream.name)
        for step in self.steps:
            draft.steps.append(step.name)
            step.apply(draft)
        return draft.finish()

    def page(
        self,
        ribbons: Sequence[RibbonCandidates],
        k: int,
        user: UserContext,
        *,
        trace: bool = False,
    ) -> list[GuardedRibbon]:
        """Every ribbon of a page, in page order (earlier ribbons keep the items they share
        with later ones)."""
        page = self.new_page(user)
        return [self.ribbon(r, k, page, trace=trace) for r in ribbons]

    @staticmethod
    def page_trace(user: UserContext, surface: str, ribbons: Sequence[GuardedRibbon]) -> PageTrace:
        return PageTrace(user.user_id, surface, [r.trace for r in ribbons if r.trace is not None])
