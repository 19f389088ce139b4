"""Batch evaluation of segment rules over a whole workspace.

Aggregates are computed with numpy over the event columns, grouped by event type once: an
aggregate touches only the events of the types its condition can match, and its condition is
a Polars expression over the catalogue (``event_conditions``). User and item rules then run
as Polars expressions over columns built once from the rows (``batch.RuleBatch``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from launchpoint.pacing import no_pace
from launchpoint.segments import ast
from launchpoint.segments.batch import BatchStats as BatchStats
from launchpoint.segments.batch import Fallback as Fallback
from launchpoint.segments.batch import RuleBatch as RuleBatch
from launchpoint.segments.batch import evaluate_segments_in_order as evaluate_segments_in_order
from launchpoint.segments.compiler import (
    AGGREGATES,
    Aggregate,
    CompiledRule,
    _canonical,
    aggregate_key,
)
from launchpoint.segments.event_conditions import Catalogue, condition_node, reads_value
from launchpoint.segments.event_conditions import EventRow as _EventRow

__all__ = [
    "BatchStats",
    "EventColumns",
    "Fallback",
    "RuleBatch",
    "_EventRow",
    "aggregate_calls",
    "aggregate_values",
    "evaluate_items",
    "evaluate_segments_in_order",
    "evaluate_users",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
# Below this many matching events np.unique beats a Polars hash table for distinct().
_SMALL = 200_000


@dataclass(frozen=True)
class EventColumns:
    """All events of a workspace as parallel arrays (index -1: no item)."""

    user: npt.NDArray[np.int32]
    item: npt.NDArray[np.int32]
    type_code: npt.NDArray[np.int16]
    value: FloatArray  # NaN where absent
    ts: FloatArray
    types: tuple[str, ...]  # type_code -> event type

    def __len__(self) -> int:
        return int(self.user.shape[0])


def aggregate_calls(rules: Iterable[CompiledRule]) -> dict[str, ast.Call]:
    """The syntax of every aggregate the rules use, by key: what lets aggregate_values
    vectorise their conditions."""
    out: dict[str, ast.Call] = {}
    for rule in rules:
        for node in ast.walk(rule.node):
            if isinstance(node, ast.Call) and node.name in AGGREGATES:
                out.setdefault(aggregate_key(node), node)
    return out


class _ByType:
    """The events grouped by type, each group in event order, with its columns gathered on
    first use. Events come oldest first from storage, so a window is usually a slice of each
    group, found by binary search; where they do not, it is a mask."""

    def __init__(self, events: EventColumns, now: float) -> None:
        self.events = events
        self.now = now
        order = np.argsort(events.type_code, kind="stable")
        counts = np.bincount(events.type_code, minlength=len(events.types))
        bounds = np.concatenate([[0], np.cumsum(counts)])
        self.index: list[IntArray] = [
            order[bounds[t] : bounds[t + 1]] for t in range(len(events.types))
        ]
        self._columns: dict[tuple[int, str], Any] = {}
        self._spans: dict[tuple[int, float | None], Span] = {}

    def column(self, t: int, name: str) -> Any:
        key = (t, name)
        found = self._columns.get(key)
        if found is None:
            if name == "row":  # catalogue row: 0 is "no item"
                found = self.column(t, "item") + 1
            elif name == "ordered":
                ts = self.column(t, "ts")
                found = bool(np.all(ts[1:] >= ts[:-1]))  # False with a NaN, as it should
            else:
                found = getattr(self.events, name)[self.index[t]]
            self._columns[key] = found
        return found

    def span(self, t: int, seconds: float | None) -> Span:
        """The type's events in [now - seconds, now] (all of them without a window)."""
        key = (t, seconds)
        found = self._spans.get(key)
        if found is None:
            n = len(self.index[t])
            if seconds is None:
                found = Span(0, n, None)
            elif self.column(t, "ordered"):
                ts = self.column(t, "ts")
                lo = int(np.searchsorted(ts, self.now - seconds, side="left"))
                found = Span(lo, int(np.searchsorted(ts, self.now, side="right")), None)
            else:
                ts = self.column(t, "ts")
                inside = (ts >= self.now - seconds) & (ts <= self.now)
                found = Span(0, n, None if bool(inside.all()) else inside)
            self._spans[key] = found
        return found

    def part(self, t: int, name: str, span: Span) -> Any:
        """A column of the type's events within ``span`` (a view when it is a slice)."""
        values = self.column(t, name)[span.lo : span.hi]
        return values if span.mask is None else values[span.mask]


@dataclass(frozen=True)
class Span:
    """Events lo..hi of one type's group, and of those the ones where ``mask`` is true."""

    lo: int
    hi: int
    mask: BoolArray | None

    def narrowed(self, mask: BoolArray) -> Span:
        """This span, keeping only the events where ``mask`` (one per event in it) is true."""
        if self.mask is None:
            return Span(self.lo, self.hi, mask)
        keep = self.mask.copy()
        keep[keep] = mask
        return Span(self.lo, self.hi, keep)


Selection = list[tuple[int, Span]]  # (type, which of its events)


class _Aggregator:
    def __init__(
        self,
        events: EventColumns,
        items: Sequence[Mapping[str, Any]],
        item_ids: Sequence[str],
        n_users: int,
        now: float,
        stats: BatchStats | None,
    ) -> None:
        self.events = events
        self.n_users = n_users
        self.n_items = len(items)
        self.by_type = _ByType(events, now)
        self.catalogue = Catalogue(items, item_ids)
        self.stats = stats

    def compute(self, aggregate: Aggregate, call: ast.Call | None) -> FloatArray:
        selection = self.select(aggregate, call)
        if aggregate.kind == "count":
            return self._count(selection)
        if aggregate.kind == "sum":
            return self._sum(selection)
        if aggregate.kind == "distinct":
            return self._distinct(selection)
        return self._extreme(selection, first=aggregate.kind == "first_seen")

    def select(self, aggregate: Aggregate, call: ast.Call | None) -> Selection:
        node = condition_node(call) if call is not None else None
        out: Selection = []
        noted = False
        for t, event_type in enumerate(self.events.types):
            span = self.by_type.span(t, aggregate.window_seconds)
            if span.hi <= span.lo:
                continue
            if aggregate.condition is not None:
                mask = self._vectorised(node, event_type, t, span) if node is not None else None
                if mask is None:
                    if not noted and self.stats is not None:
                        why = "no syntax tree given" if node is None else "no vectorised form"
                        self.stats.note(aggregate.key, f"event condition: {why}")
                    noted = True
                    mask = self._closures(aggregate, node, event_type, t, span)
                if mask is False:
                    continue
                if not isinstance(mask, bool):
                    span = span.narrowed(mask)
            if span.mask is not None and not span.mask.any():
                continue
            out.append((t, span))
        return out

    def _vectorised(
        self, node: ast.Node, event_type: str, t: int, span: Span
    ) -> BoolArray | bool | None:
        rows = self.by_type.part(t, "row", span)
        if reads_value(node):
            values = self.by_type.part(t, "value", span)
            return self.catalogue.event_mask(node, event_type, rows, values)
        grid = self.catalogue.item_grid(node, _canonical(node), event_type)
        if grid is None or isinstance(grid, bool):
            return grid
        mask: BoolArray = grid[rows]
        return mask

    def _closures(
        self, aggregate: Aggregate, node: ast.Node | None, event_type: str, t: int, span: Span
    ) -> BoolArray:
        assert aggregate.condition is not None
        uses_value = reads_value(node) if node is not None else aggregate.uses_value
        return self.catalogue.closure_mask(
            aggregate.condition,
            event_type,
            self.by_type.part(t, "item", span),
            self.by_type.part(t, "value", span) if uses_value else None,
        )

    def _count(self, selection: Selection) -> FloatArray:
        total = np.zeros(self.n_users, dtype=np.int64)
        for t, span in selection:
            total += np.bincount(self.by_type.part(t, "user", span), minlength=self.n_users)
        return total.astype(np.float64)

    def _sum(self, selection: Selection) -> FloatArray:
        # Added in event order per user, as the real-time path adds them, so both round alike:
        # the matching events of every type are put back in their original order first.
        parts = [self.by_type.index[t][s.lo : s.hi] for t, s in selection]
        parts = [
            p if s.mask is None else p[s.mask] for p, (_, s) in zip(parts, selection, strict=True)
        ]
        if not parts:
            return np.zeros(self.n_users)
        index = np.concatenate(parts)
        if len(parts) > 1:
            index.sort()
        values = np.nan_to_num(self.events.value[index], nan=0.0)
        return np.bincount(self.events.user[index], weights=values, minlength=self.n_users).astype(
            np.float64
        )

    def _distinct(self, selection: Selection) -> FloatArray:
        parts = []
        for t, span in selection:
            users = self.by_type.part(t, "user", span).astype(np.int64)
            items = self.by_type.part(t, "item", span)
            has_item = items >= 0  # an event without an item is no item
            parts.append(users[has_item] * max(self.n_items, 1) + items[has_item])
        if not parts:
            return np.zeros(self.n_users)
        pairs = np.concatenate(parts)
        small = len(pairs) < _SMALL
        unique = np.unique(pairs) if small else pl.Series(pairs).unique().to_numpy()
        owners = unique // max(self.n_items, 1)
        return np.bincount(owners, minlength=self.n_users).astype(np.float64)

    def _extreme(self, selection: Selection, first: bool) -> FloatArray:
        out = np.full(self.n_users, np.inf if first else -np.inf)
        reduce = np.minimum if first else np.maximum
        for t, span in selection:
            users, ts = self.by_type.part(t, "user", span), self.by_type.part(t, "ts", span)
            reduce.at(out, users, ts)
        out[~np.isfinite(out)] = np.nan
        return out


def aggregate_values(
    aggregates: Sequence[Aggregate],
    events: EventColumns,
    items: Sequence[Mapping[str, Any]],
    item_ids: Sequence[str],
    n_users: int,
    now: float,
    calls: Mapping[str, ast.Call] | None = None,
    stats: BatchStats | None = None,
    pace: Callable[[], None] = no_pace,
) -> dict[str, FloatArray]:
    """Per-user value of every aggregate, keyed by ``Aggregate.key``; NaN where a first/last
    time has no event. ``calls`` (from ``aggregate_calls``) lets conditions run vectorised;
    without it they run as closures, once per distinct (type, item[, value]). ``pace``:
    called between aggregates (``launchpoint.pacing``)."""
    out: dict[str, FloatArray] = {}
    if not aggregates:
        return out
    aggregator = _Aggregator(events, items, item_ids, n_users, now, stats)
    if calls:
        conditions = (condition_node(calls[a.key]) for a in aggregates if a.key in calls)
        aggregator.catalogue.prefetch(c for c in conditions if c is not None)
    for aggregate in aggregates:
        if aggregate.key in out:
            continue
        pace()
        call = calls.get(aggregate.key) if calls is not None else None
        out[aggregate.key] = aggregator.compute(aggregate, call)
    return out


def evaluate_users(
    rule: CompiledRule, users: Sequence[Mapping[str, Any]], values: Mapping[str, FloatArray]
) -> BoolArray:
    """Membership of every user in one rule. Builds the user columns for this rule alone:
    for many rules, keep one ``RuleBatch`` and call its ``evaluate``."""
    return RuleBatch(users, "users").evaluate(rule, values)


def evaluate_items(rule: CompiledRule, items: Sequence[Mapping[str, Any]]) -> BoolArray:
    return RuleBatch(items, "items").evaluate(rule)
