"""One ribbon being assembled: its candidates, which of them are still allowed, the slots and
the cards in them, and the constraints earlier guardrails left for later ones.

Filters work on whole arrays. Placing, moving and swapping work card by card: a ribbon has
at most a few dozen slots, while it may have thousands of candidates.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from launchpoint.ranking.guardrails.base import (
    BoolArray,
    CandidateList,
    GuardedCard,
    GuardedRibbon,
    GuardrailNote,
    IntArray,
    PageState,
    UserContext,
)
from launchpoint.ranking.guardrails.catalogue import CandidateLabels, Catalogue
from launchpoint.ranking.trace import RibbonTrace, TraceAction, TraceEvent

# How many qualifying candidates a swap tries before it gives up: enough to get past a few
# that would break a cap or a floor, few enough to bound the work when none can fit.
SWAP_SEARCH = 64
# The best candidates ranked up front (at least; 6 per slot when more): one partial sort per
# ribbon answers the fill and most floors.
PREFIX = 64


@dataclass(frozen=True)
class Floor:
    """An earlier guardrail's promise: at least ``required`` cards where ``qualifies``."""

    name: str
    qualifies: BoolArray  # per candidate
    required: int


class RibbonDraft:
    """The working state of one ribbon, which every guardrail of the chain reads and changes
    in turn. Candidates are referred to by their position in the candidate list."""

    def __init__(
        self,
        key: str,
        candidates: CandidateList,
        k: int,
        catalogue: Catalogue,
        page: PageState,
        *,
        trace: bool = False,
    ) -> None:
        self.key, self.k, self.catalogue, self.page = key, k, catalogue, page
        self.user: UserContext = page.user
        self.items, self.scores = candidates.items, candidates.scores
        n = len(self.items)
        self.alive = np.ones(n, dtype=bool)  # no filter removed it
        self.chosen = np.zeros(n, dtype=bool)  # on the ribbon
        self.free = np.ones(n, dtype=bool)  # alive and not chosen: kept as they change
        self.removed_by = np.full(n, -1, dtype=np.int16)  # index into self.stages
        self.stages: list[str] = []
        self.stage_reasons: dict[str, str] = {}
        self.steps: list[str] = []  # every step that ran, for the trace
        self.slots = [-1] * k  # candidate in each slot, -1 when empty
        self.sources = [""] * k
        self.labels: list[str | None] = [None] * k
        self.locked = [False] * k  # editorial cards: nothing later moves them
        self.category_count = [0] * catalogue.categories.size  # cards per category
        self.category_cap: int | None = None
        self.min_categories = 0
        self.floors: list[Floor] = []
        self.notes: list[GuardrailNote] = []
        self.events: list[TraceEvent] | None = [] if trace else None
        self._distinct = 0  # categories with at least one card
        self._prefix: IntArray | None = None
        self._categories: CandidateLabels | None = None

    # Candidates --------------------------------------------------------------------------

    @property
    def candidate_categories(self) -> CandidateLabels:
        """The candidates' categories (gathered on first use: not every ribbon needs them)."""
        if self._categories is None:
            self._categories = self.catalogue.categories.gather(self.items)
        return self._categories

    def categories_of(self, candidate: int) -> list[int]:
        return self.catalogue.categories.of(int(self.items[candidate]))

    @property
    def prefix(self) -> IntArray:
        """The best candidates, best first: enough that most questions about "the best
        candidates where ..." are answered here without ranking the whole list."""
        if self._prefix is None:
            self._prefix = self._top(None, max(PREFIX, 6 * self.k))
        return self._prefix

    def ranked(self, mask: BoolArray, limit: int) -> IntArray:
        """Up to ``limit`` candidates where ``mask``, best score first; ties keep the
        candidate list's order."""
        if limit <= 0:
            return np.zeros(0, dtype=np.intp)
        prefix = self.prefix
        picked = prefix[mask[prefix]]
        # Every candidate outside the prefix scores below all of it, so the prefix answers
        # whenever it holds enough candidates where mask.
        if len(picked) >= limit or len(prefix) == len(self.scores):
            return picked[:limit]
        return self._top(mask, limit)[:limit]

    def iter_ranked(self, mask: BoolArray) -> Iterator[int]:
        """Candidates where ``mask``, best first, found one at a time past the prefix (a
        floor usually needs one or two)."""
        prefix = self.prefix
        yield from prefix[mask[prefix]].tolist()
        rest = mask.copy()
        rest[prefix] = False
        while rest.any():
            best = int(np.where(rest, self.scores, -np.inf).argmax())
            rest[best] = False
            yield best

    def _top(self, mask: BoolArray | None, limit: int) -> IntArray:
        """The ``limit`` best candidates where ``mask`` (or more: all those scoring at least
        a cut), best first. The cut always keeps ties together, so what is left out scores
        below everything kept, and the answer never depends on how a partition split ties."""
        at = np.flatnonzero(mask) if mask is not None else None
        scores = self.scores if at is None else self.scores[at]
        n = len(scores)
        if n > limit:
            kept = None
            if n > 16 * limit:
                # Estimate the cut from a strided sample (about 4 per wanted candidate); it
                # keeps about twice the candidates wanted, and is checked to keep enough.
                step = n // (4 * limit)
                sample = scores[::step]
                cut = len(sample) - (2 * limit) // step - 1
                keep = scores >= np.partition(sample, cut)[cut]
                if np.count_nonzero(keep) >= limit:
                    kept = np.flatnonzero(keep)
            if kept is None:
                cut = n - limit
                kept = np.flatnonzero(scores >= np.partition(scores, cut)[cut])
            at = kept if at is None else at[kept]
        elif at is None:
            at = np.arange(n)
        return at[np.argsort(-self.scores[at], kind="stable")]

    def checked(self, stage: str, reason: str) -> None:
        """A filter ran (whether or not it removes anything): the trace lists it as passed."""
        self._stage(stage, reason)

    def remove(self, stage: str, mask: BoolArray, reason: str) -> BoolArray:
        """A filter: candidates where ``mask`` are no longer allowed. Returns the ones this
        call removed (those still allowed until now)."""
        code = self._stage(stage, reason)
        removed = mask & self.alive
        self.alive ^= removed
        self.free &= self.alive
        self.removed_by[removed] = code
        return removed

    def readmit(self, stage: str, candidates: IntArray, reason: str) -> None:
        self.alive[candidates] = True
        self.free[candidates] = ~self.chosen[candidates]
        self.removed_by[candidates] = -1
        if self.events is not None:
            self.events.extend(
                TraceEvent(stage, "readmitted", int(c), None, None, reason) for c in candidates
            )

    def removed_by_stage(self, candidate: int) -> str | None:
        code = int(self.removed_by[candidate])
        return None if code < 0 else self.stages[code]

    def _stage(self, stage: str, reason: str) -> int:
        if stage not in self.stage_reasons:
            self.stages.append(stage)
            self.stage_reasons[stage] = reason
        return self.stages.index(stage)

    # Slots -------------------------------------------------------------------------------

    def open_slots(self) -> list[int]:
        return [slot for slot, candidate in enumerate(self.slots) if candidate < 0]

    def cards_shown(self) -> int:
        return sum(1 for candidate in self.slots if candidate >= 0)

    def count(self, qualifies: BoolArray) -> int:
        """Cards on the ribbon where ``qualifies``."""
        return sum(1 for c in self.slots if c >= 0 and qualifies[c])

    def distinct_categories(self) -> int:
        return self._distinct

    def categories_at(self, cap: int) -> BoolArray:
        """Per category: whether it is on ``cap`` cards or more."""
        return np.asarray(self.category_count) >= cap

    def place(
        self,
        slot: int,
        candidate: int,
        stage: str,
        source: str,
        *,
        label: str | None = None,
        locked: bool = False,
        reason: str = "",
        record: TraceAction | None = "placed",
    ) -> None:
        self.slots[slot] = candidate
        self.sources[slot], self.labels[slot], self.locked[slot] = source, label, locked
        self.chosen[candidate] = True
        self.free[candidate] = False
        count = self.category_count
        for category in self.categories_of(candidate):
            count[category] += 1
            self._distinct += count[category] == 1
        if self.events is not None and record is not None:
            self.events.append(TraceEvent(stage, record, candidate, None, slot, reason))

    def vacate(self, slot: int, stage: str, reason: str = "", *, record: bool = True) -> int:
        candidate = self.slots[slot]
        self.slots[slot] = -1
        self.sources[slot], self.labels[slot], self.locked[slot] = "", None, False
        self.chosen[candidate] = False
        self.free[candidate] = self.alive[candidate]
        count = self.category_count
        for category in self.categories_of(candidate):
            count[category] -= 1
            self._distinct -= count[category] == 0
        if self.events is not None and record:
            self.events.append(TraceEvent(stage, "dropped", candidate, slot, None, reason))
        return candidate

    def snapshot(self) -> dict[int, int]:
        """Where each card is now (candidate -> slot), to trace a re-ranking as moves."""
        return {c: slot for slot, c in enumerate(self.slots) if c >= 0}

    def record_changes(self, stage: str, before: dict[int, int], reason: str) -> None:
        if self.events is None:
            return
        after = self.snapshot()
        for candidate, slot in before.items():
            now = after.get(candidate)
            if now is None:
                self.events.append(TraceEvent(stage, "dropped", candidate, slot, None, reason))
            elif now != slot:
                self.events.append(TraceEvent(stage, "moved", candidate, slot, now, reason))
        for candidate, slot in after.items():
            if candidate not in before:
                self.events.append(TraceEvent(stage, "inserted", candidate, None, slot, reason))

    # Swaps that keep earlier promises ------------------------------------------------------

    def keeps_constraints(self, slot: int, candidate: int) -> bool:
        """Whether putting ``candidate`` in place of the card in ``slot`` keeps every earlier
        promise (category cap, distinct categories, floors) at least as well as now."""
        out = self.slots[slot]
        cats_in, cats_out = set(self.categories_of(candidate)), set(self.categories_of(out))
        count = self.category_count
        cap = self.category_cap
        if cap is not None and any(count[c] >= cap for c in cats_in - cats_out):
            return False
        if self.min_categories:
            before = self.distinct_categories()
            lost = sum(1 for c in cats_out - cats_in if count[c] == 1)
            gained = sum(1 for c in cats_in - cats_out if count[c] == 0)
            if before - lost + gained < min(self.min_categories, before):
                return False
        for floor in self.floors:
            needed = floor.qualifies[out] and not floor.qualifies[candidate]
            if needed and self.count(floor.qualifies) - 1 < floor.required:
                return False
        return True

    def swap_in(
        self,
        qualifies: BoolArray,
        preference: Iterable[int] | None,
        stage: str,
        source: str,
        *,
        label: str | None = None,
        reason: str = "",
        accept: Callable[[int, int], bool] | None = None,
    ) -> bool:
        """Put the first candidate of ``preference`` (default: those where ``qualifies``, best
        first) that fits in place of the lowest card that is not locked and does not itself
        qualify; False when none of the first ``SWAP_SEARCH`` fits."""
        victims = [
            slot
            for slot in range(self.k - 1, -1, -1)
            if self.slots[slot] >= 0 and not self.locked[slot] and not qualifies[self.slots[slot]]
        ]
        if not victims:
            return False
        if preference is None:
            preference = self.iter_ranked(qualifies & self.free)
        for candidate in itertools.islice(preference, SWAP_SEARCH):
            if not self.free[candidate]:
                continue
            for slot in victims:
                if self.keeps_constraints(slot, candidate) and (
                    accept is None or accept(slot, candidate)
                ):
                    made_room = ""
                    if self.events is not None:
                        incoming = self.catalogue.item_ids[int(self.items[candidate])]
                        made_room = f"made room for {incoming} ({reason})"
                    self.vacate(slot, stage, made_room)
                    self.place(
                        slot,
                        candidate,
                        stage,
                        source,
                        label=label,
                        reason=reason,
                        record="inserted",
                    )
                    return True
        return False

    def shortfall(self, qualifies: BoolArray, wanted: int, what: str) -> str:
        """Why a floor of ``wanted`` cards where ``qualifies`` could not be met."""
        available = int(np.count_nonzero(qualifies & self.alive))
        if available < wanted:
            return f"only {available} {what} among the candidates this user may see"
        locked = sum(self.locked)
        return (
            f"{available} {what} are available, but the cards they could replace are "
            f"editorial ({locked}) or hold another guardrail's floor or cap"
        )

    def note(self, guardrail: str, constraint: str, wanted: int, got: int, reason: str) -> None:
        self.notes.append(GuardrailNote(guardrail, self.key, constraint, wanted, got, reason))

    # The finished ribbon -----------------------------------------------------------------

    def finish(self) -> GuardedRibbon:
        """The cards in slot order, empty slots closed up; the page learns what it shows."""
        cards: list[GuardedCard] = []
        seen: set[int] = set()
        tracing = self.events is not None
        positions = np.full(len(self.items), -1, dtype=np.intp) if tracing else None
        for slot, candidate in enumerate(self.slots):
            if candidate < 0:
                continue
            item = int(self.items[candidate])
            if item in seen:  # the candidate list repeated an item: show it once
                continue
            seen.add(item)
            self.page.on_page[item] = True
            if positions is not None:
                positions[candidate] = len(cards)
            score = float(self.scores[candidate])
            cards.append(
                GuardedCard(
                    item, candidate, len(cards), score, self.sources[slot], self.labels[slot]
                )
            )
        trace = None
        if positions is not None and self.events is not None:
            trace = RibbonTrace(
                self.key,
                self.items,
                self.scores,
                tuple(self.stages),
                dict(self.stage_reasons),
                self.removed_by,
                positions,
                tuple(self.steps),
                tuple(self.events),
                tuple(note.as_dict() for note in self.notes),
            )
        return GuardedRibbon(self.key, cards, list(self.notes), trace)
