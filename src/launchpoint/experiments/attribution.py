"""Which exposure an outcome belongs to.

1. An outcome whose context carries a ``recommendation_id`` belongs to that exposure (and its
   variant), if the exposure is one of the experiment's and was shown to the same user. An id
   the experiment does not know belongs elsewhere (another surface), so the outcome is not
   attributed to this experiment at all.
2. Otherwise an outcome on an item belongs to the user's latest exposure that showed the item,
   at most ``window`` seconds before the outcome.
3. An outcome on no item (an opt-out, say) belongs to the user's latest exposure at most
   ``window`` seconds before it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

AttributionRule = Literal["recommendation_id", "item_window", "user_window"]


@dataclass(frozen=True)
class Exposure:
    recommendation_id: str
    user_id: str
    variant: str
    created_at: float
    items: tuple[str, ...]  # in position order
    surface: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Exposure:
        """From an exposures-table row; ``items`` is its JSON list of {item_id, position}."""
        shown = sorted(row.get("items") or [], key=lambda entry: entry.get("position", 0))
        return cls(
            recommendation_id=str(row["recommendation_id"]),
            user_id=str(row["user_id"]),
            variant=str(row.get("variant") or ""),
            created_at=float(row["created_at"]),
            items=tuple(str(entry["item_id"]) for entry in shown),
            surface=str(row.get("surface") or ""),
        )


@dataclass(frozen=True)
class Outcome:
    user_id: str
    type: str
    ts: float
    item_id: str | None = None
    value: float | None = None
    recommendation_id: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Outcome:
        """From an events-table row; the recommendation id is read from its ``context``."""
        context = row.get("context") or {}
        rec = context.get("recommendation_id") if isinstance(context, dict) else None
        value = row.get("value")
        return cls(
            user_id=str(row["user_id"]),
            type=str(row["type"]),
            ts=float(row["ts"]),
            item_id=None if row.get("item_id") is None else str(row["item_id"]),
            value=None if value is None else float(value),
            recommendation_id=None if rec is None else str(rec),
        )


@dataclass(frozen=True)
class Attributed:
    outcome: Outcome
    exposure: Exposure
    rule: AttributionRule


class _UserExposures:
    """One user's exposures in time order, for the window rules."""

    def __init__(self, exposures: list[Exposure]) -> None:
        self.exposures = sorted(exposures, key=lambda e: (e.created_at, e.recommendation_id))
        self.times = [e.created_at for e in self.exposures]

    def latest(self, ts: float, window: float, item_id: str | None) -> Exposure | None:
        at = bisect.bisect_right(self.times, ts) - 1
        while at >= 0 and ts - self.times[at] <= window:
            exposure = self.exposures[at]
            if item_id is None or item_id in exposure.items:
                return exposure
            at -= 1
        return None


def attribute(
    exposures: Sequence[Exposure], outcomes: Iterable[Outcome], window: float
) -> list[Attributed]:
    """Each outcome that belongs to one of ``exposures``, with the exposure and the rule."""
    by_id = {e.recommendation_id: e for e in exposures}
    grouped: dict[str, list[Exposure]] = defaultdict(list)
    for e in exposures:
        grouped[e.user_id].append(e)
    by_user = {user: _UserExposures(rows) for user, rows in grouped.items()}
    out: list[Attributed] = []
    for outcome in outcomes:
        if outcome.recommendation_id is not None:
            exposure = by_id.get(outcome.recommendation_id)
            if exposure is not None and exposure.user_id == outcome.user_id:
                out.append(Attributed(outcome, exposure, "recommendation_id"))
            continue
        history = by_user.get(outcome.user_id)
        if history is None:
            continue
        found = history.latest(outcome.ts, window, outcome.item_id)
        if found is not None:
            rule: AttributionRule = "item_window" if outcome.item_id else "user_window"
            out.append(Attributed(outcome, found, rule))
    return out
