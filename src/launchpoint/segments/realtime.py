"""One user's aggregates and memberships, from that user's own events, without the rest of
the workspace: the real-time path (after an event), sharing the batch path's compiled rules
so both give the same answer. A property test holds them to it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from launchpoint.segments.compiler import Aggregate, CompiledRule
from launchpoint.segments.membership import _EventRow


@dataclass(frozen=True)
class UserEvent:
    item: int  # -1: no item
    type: str
    value: float | None
    ts: float


def user_aggregate_values(
    aggregates: Sequence[Aggregate],
    events: Sequence[UserEvent],
    items: Sequence[Mapping[str, Any]],
    item_ids: Sequence[str],
    now: float,
    memo: dict[tuple[Any, ...], tuple[int, ...]] | None = None,
) -> dict[str, float | None]:
    """The value of every aggregate for one user: what aggregate_values gives in batch.
    ``memo`` keeps, per (aggregates, event type, item[, value]), which of the aggregates'
    conditions an event matches, for as long as the catalogue does not change (a serving
    state's life): a condition reads only the event and its item, so the answer cannot differ.
    One look-up per event then stands for every aggregate's condition."""
    first: dict[str, Aggregate] = {}
    for aggregate in aggregates:
        first.setdefault(aggregate.key, aggregate)
    unique = list(first.values())
    uses_value = any(a.uses_value for a in unique if a.condition is not None)
    # Names this list of aggregates in the memo's keys; a str caches its hash.
    signature = "\n".join(a.key for a in unique)
    bounds = [None if a.window_seconds is None else (now - a.window_seconds, now) for a in unique]
    matching: list[list[UserEvent]] = [[] for _ in unique]
    for event in events:
        if memo is None:
            hits = _hits(unique, event, items, item_ids)
        else:
            key = (signature, event.type, event.item, event.value if uses_value else None)
            cached = memo.get(key)
            if cached is None:
                cached = memo[key] = _hits(unique, event, items, item_ids)
            hits = cached
        ts = event.ts
        for n in hits:
            window = bounds[n]
            if window is None or window[0] <= ts <= window[1]:
                matching[n].append(event)
    return {a.key: _reduce(a.kind, found) for a, found in zip(unique, matching, strict=True)}


def _hits(
    aggregates: Sequence[Aggregate],
    event: UserEvent,
    items: Sequence[Mapping[str, Any]],
    ids: Sequence[str],
) -> tuple[int, ...]:
    """The positions of the aggregates whose condition ``event`` meets."""
    return tuple(
        n
        for n, aggregate in enumerate(aggregates)
        if aggregate.condition is None or _matches(aggregate, event, items, ids)
    )


def _matches(
    aggregate: Aggregate, event: UserEvent, items: Sequence[Mapping[str, Any]], ids: Sequence[str]
) -> bool:
    if aggregate.condition is None:
        return True
    row = {
        "event": event.type,
        "value": event.value,
        "item_id": ids[event.item] if event.item >= 0 else None,
    }
    return bool(aggregate.condition(_EventRow(row, items[event.item] if event.item >= 0 else {})))


def _reduce(kind: str, events: Sequence[UserEvent]) -> float | None:
    if kind == "count":
        return float(len(events))
    if kind == "sum":
        # Added in event order, as the batch path adds them, so both round alike.
        return float(sum(e.value for e in events if e.value is not None))
    if kind == "distinct":
        return float(len({e.item for e in events if e.item >= 0}))
    if not events:
        return None
    times = [e.ts for e in events]
    return min(times) if kind == "first_seen" else max(times)


def evaluate_user(rule: CompiledRule, row: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether the user whose attribute ``row`` and aggregate ``values`` are given matches."""
    return rule.matches(_RuleRow(row, values))


class _RuleRow(Mapping[str, Any]):
    """``{**row, **values}`` without building it: a rule reads a few of the fields, and the
    real-time path evaluates every segment's rule for one user (50 merged copies of the same
    row cost more than the rules)."""

    __slots__ = ("_row", "_values")

    def __init__(self, row: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        self._row = row
        self._values = values

    def get(self, key: str, default: Any = None) -> Any:
        values = self._values
        if key in values:
            return values[key]
        return self._row.get(key, default)

    def __getitem__(self, key: str) -> Any:
        if key in self._values:
            return self._values[key]
        return self._row[key]

    def __iter__(self) -> Iterator[str]:
        return iter({**self._row, **self._values})

    def __len__(self) -> int:
        return len({**self._row, **self._values})
