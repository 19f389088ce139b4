"""What the serving pipeline decided about every candidate of a ribbon, for ``?explain=full``.

A ribbon's trace is built once, when the ribbon is finished, from arrays the pipeline keeps
anyway (which filter removed each candidate) plus the few card-level decisions it records only
when tracing is on (placed, moved, dropped, inserted). Nothing here runs per candidate until
``as_dict`` is called, so a request without ``explain`` pays for none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
StageCodes = npt.NDArray[np.int16]

TraceAction = Literal["placed", "moved", "dropped", "inserted", "readmitted"]
CandidateScope = Literal["all", "touched", "shown"]


@dataclass(frozen=True)
class TraceEvent:
    """One decision a stage took about one candidate. Positions count from 0 in the ribbon's
    slots (before empty slots are closed up; ``position`` in the trace is the final one)."""

    stage: str
    action: TraceAction
    candidate: int
    from_position: int | None = None
    to_position: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stage": self.stage, "action": self.action}
        if self.from_position is not None:
            out["from"] = self.from_position
        if self.to_position is not None:
            out["to"] = self.to_position
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True, eq=False)
class RibbonTrace:
    """Every candidate of one ribbon and every stage's decision about it.

    ``filters`` are the filters in the order they ran; ``removed_by[n]`` is the index in
    ``filters`` of the one that removed candidate ``n`` (-1: it passed them all).
    ``positions[n]`` is its final position in the ribbon (-1: not shown). ``steps`` are all
    the steps that ran, filters and placing steps, in order.
    """

    ribbon: str
    items: IntArray
    scores: FloatArray
    filters: tuple[str, ...]
    filter_reasons: dict[str, str]
    removed_by: StageCodes
    positions: IntArray
    steps: tuple[str, ...] = ()
    events: tuple[TraceEvent, ...] = ()
    notes: tuple[dict[str, Any], ...] = ()

    def candidate(
        self, n: int, item_ids: Sequence[str], rank: int, decisions: Sequence[TraceEvent] = ()
    ) -> dict[str, Any]:
        """The record of candidate ``n``: score, rank by score, filters, decisions, position.
        ``decisions``: its events (``as_dict`` groups them once for all candidates)."""
        code = int(self.removed_by[n])
        passed = self.filters if code < 0 else self.filters[:code]
        record: dict[str, Any] = {
            "item_id": item_ids[int(self.items[n])],
            "score": round(float(self.scores[n]), 6),
            "rank": rank,
            "filters_passed": list(passed),
            "removed_by": None if code < 0 else self.filters[code],
        }
        if code >= 0:
            record["removed_because"] = self.filter_reasons.get(self.filters[code], "")
        if decisions:
            record["decisions"] = [event.as_dict() for event in decisions]
        position = int(self.positions[n])
        record["position"] = None if position < 0 else position
        return record

    def as_dict(
        self, item_ids: Sequence[str], *, candidates: CandidateScope = "all"
    ) -> dict[str, Any]:
        """JSON-ready. ``candidates``: ``all`` of them (best score first), those some stage
        ``touched`` (removed, placed or moved), or those ``shown``."""
        # Rank by score, ties by candidate order: the order the guardrails break ties in.
        order = np.lexsort((np.arange(len(self.scores)), -self.scores))
        rank = np.empty(len(order), dtype=np.intp)
        rank[order] = np.arange(len(order))
        if candidates == "shown":
            keep = self.positions >= 0
        elif candidates == "touched":
            keep = self.removed_by >= 0
            keep |= self.positions >= 0
            keep[np.fromiter((e.candidate for e in self.events), np.intp)] = True
        else:
            keep = np.ones(len(order), dtype=bool)
        chosen = order[keep[order]]
        by_candidate: dict[int, list[TraceEvent]] = {}
        for event in self.events:
            by_candidate.setdefault(event.candidate, []).append(event)
        return {
            "ribbon": self.ribbon,
            "steps": list(self.steps),
            "candidates": len(self.items),
            "removed": {
                name: int((self.removed_by == code).sum()) for code, name in enumerate(self.filters)
            },
            "shown": int((self.positions >= 0).sum()),
            "notes": list(self.notes),
            "trace": [
                self.candidate(int(n), item_ids, int(rank[n]), by_candidate.get(int(n), ()))
                for n in chosen
            ],
        }


@dataclass(frozen=True)
class PageTrace:
    """The traces of one page's ribbons, in page order."""

    user_id: str
    surface: str
    ribbons: list[RibbonTrace] = field(default_factory=list)

    def as_dict(
        self, item_ids: Sequence[str], *, candidates: CandidateScope = "all"
    ) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "surface": self.surface,
            "ribbons": [r.as_dict(item_ids, candidates=candidates) for r in self.ribbons],
        }
