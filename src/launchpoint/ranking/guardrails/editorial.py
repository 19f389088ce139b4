"""Editorial control: hidden items, pinned items at set positions, and curated slots.

Hiding is a filter and runs with the other filters. Pins and curated slots run after every
filter, so an editor can never pin an item the user must not see (a sensitive topic without
consent, an item already on the page); they run before the model fills the ribbon, and their
cards are locked: no later guardrail moves or replaces them.

Editorial items must be among the ribbon's candidates: add them to the candidate list (after
the business filters) to pin an item the ribbon's segment would not offer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from launchpoint.ranking.guardrails.base import BoolArray, share_count
from launchpoint.ranking.guardrails.catalogue import Catalogue
from launchpoint.ranking.guardrails.config import EditorialConfig, RibbonEditorial
from launchpoint.ranking.guardrails.draft import RibbonDraft

EVERY_RIBBON = "*"


class HiddenItemsGuardrail:
    name = "hidden"

    def __init__(self, config: EditorialConfig, catalogue: Catalogue) -> None:
        hidden = [catalogue.item_index[i] for i in config.hidden if i in catalogue.item_index]
        self.hidden: BoolArray | None = None
        if hidden:
            self.hidden = np.zeros(catalogue.size, dtype=bool)
            self.hidden[hidden] = True

    def apply(self, draft: RibbonDraft) -> None:
        draft.checked(self.name, "hidden by the editors")
        if self.hidden is not None:
            draft.remove(self.name, self.hidden[draft.items], "hidden by the editors")


@dataclass(frozen=True)
class _Plan:
    pins: list[tuple[int, int, str]]  # (item, position, item id), by position
    curated: list[tuple[int, str]]  # (item, item id), the editors' order
    curated_share: float
    unknown: list[str]  # ids of no catalogue item
    named: BoolArray  # per catalogue item: pinned or curated here


class EditorialGuardrail:
    name = "editorial"

    def __init__(self, config: EditorialConfig, catalogue: Catalogue) -> None:
        self.label = config.label
        self.plans = {key: _plan(spec, catalogue) for key, spec in config.ribbons.items()}

    def apply(self, draft: RibbonDraft) -> None:
        plan = self.plans.get(draft.key) or self.plans.get(EVERY_RIBBON)
        if plan is None:
            return
        for item_id in plan.unknown:
            draft.note(self.name, f"show {item_id!r}", 1, 0, "no such item in the catalogue")
        hits = np.flatnonzero(plan.named[draft.items])
        where = dict(zip(draft.items[hits].tolist(), hits.tolist(), strict=True))
        self._pin(draft, plan, where)
        self._curate(draft, plan, where)

    def _pin(self, draft: RibbonDraft, plan: _Plan, where: dict[int, int]) -> None:
        for item, position, item_id in plan.pins:
            candidate = where.get(item)
            what = f"pin {item_id!r} at position {position}"
            if candidate is None:
                draft.note(self.name, what, 1, 0, NOT_A_CANDIDATE)
            elif not draft.alive[candidate]:
                draft.note(self.name, what, 1, 0, _removed(draft, candidate))
            elif position >= draft.k:
                draft.note(self.name, what, 1, 0, f"the ribbon has {draft.k} cards")
            else:
                slot = next((s for s in range(position, draft.k) if draft.slots[s] < 0), None)
                if slot is None:
                    draft.note(self.name, what, 1, 0, "every later position is pinned already")
                    continue
                if slot != position:
                    draft.note(
                        self.name,
                        what,
                        position,
                        slot,
                        f"position {position} is pinned already; placed at {slot}",
                    )
                draft.place(
                    slot,
                    candidate,
                    self.name,
                    "pinned",
                    label=self.label,
                    locked=True,
                    reason=f"pinned at position {position}",
                )

    def _curate(self, draft: RibbonDraft, plan: _Plan, where: dict[int, int]) -> None:
        wanted = share_count(plan.curated_share, draft.k)
        if not wanted:
            return
        placed = usable = 0
        for item, _ in plan.curated:
            candidate = where.get(item)
            if candidate is None or not draft.free[candidate]:
                continue
            usable += 1
            slot = _spread_slot(draft, placed, wanted)
            if slot is None:
                reason = "every other position is pinned"
                break
            draft.place(
                slot,
                candidate,
                self.name,
                "curated",
                label=self.label,
                locked=True,
                reason="curated slot",
            )
            placed += 1
            if placed == wanted:
                return
        else:
            reason = f"only {usable} curated items are among the candidates this user may see"
        draft.note(self.name, f"{plan.curated_share:.0%} curated cards", wanted, placed, reason)


NOT_A_CANDIDATE = "not among this ribbon's candidates (not eligible, unavailable or consumed)"


def _removed(draft: RibbonDraft, candidate: int) -> str:
    stage = draft.removed_by_stage(candidate) or ""
    return f"removed by {stage}: {draft.stage_reasons.get(stage, '')}"


def _spread_slot(draft: RibbonDraft, n: int, of: int) -> int | None:
    """The slot for the n-th of ``of`` curated cards: spread evenly down the ribbon (2 of 10
    go to positions 2 and 7), or the nearest free slot after, else before."""
    target = int((n + 0.5) * draft.k / of)
    free = draft.open_slots()
    if not free:
        return None
    after = [s for s in free if s >= target]
    return after[0] if after else free[-1]


def _plan(spec: RibbonEditorial, catalogue: Catalogue) -> _Plan:
    index = catalogue.item_index
    unknown = [pin.item for pin in spec.pins if pin.item not in index]
    unknown += [item for item in spec.curated if item not in index]
    pins = sorted(
        ((index[p.item], p.position, p.item) for p in spec.pins if p.item in index),
        key=lambda pin: pin[1],
    )
    curated = [(index[i], i) for i in dict.fromkeys(spec.curated) if i in index]
    named = np.zeros(catalogue.size, dtype=bool)
    named[[pin[0] for pin in pins] + [item for item, _ in curated]] = True
    return _Plan(pins, curated, spec.curated_share, unknown, named)
