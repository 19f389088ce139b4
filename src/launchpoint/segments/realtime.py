"""One user's aggregates and memberships, from that user's own events, without the rest of
the workspace: the real-time path (after an event), sharing the batch path's compiled rules
so both give the same answer. A property test holds them to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    memo: dict[tuple[Any, ...], bool] | None = None,
) -> dict[str, float | None]:
    """The value of every aggregate for one user: what aggregate_values gives in batch.
    ``memo`` keeps each condition's answer per (aggregate, event type, item[, value]) for as
    long as the catalogue does not change (a serving state's life): a condition reads only
    the event and its item, so the answer cannot differ."""
    out: dict[str, float | None] = {}
    for aggregate in aggregates:
        if aggregate.key in out:
            continue
        matching = [
            e
            for e in events
            if _in_window(aggregate, e.ts, now)
            and _matches_memo(aggregate, e, items, item_ids, memo)
        ]
        out[aggregate.key] = _reduce(aggregate.kind, matching)
    return out


def _matches_memo(
    aggregate: Aggregate,
    event: UserEvent,
    items: Sequence[Mapping[str, Any]],
    ids: Sequence[str],
    memo: dict[tuple[Any, ...], bool] | None,
) -> bool:
    if aggregate.condition is None:
        return True
    if memo is None:
        return _matches(aggregate, event, items, ids)
    key = (aggregate.key, event.type, event.item, event.value if aggregate.uses_value else None)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _matches(aggregate, event, items, ids)
    return found


def _in_window(aggregate: Aggregate, ts: float, now: float) -> bool:
    if aggregate.window_seconds is None:
        return True
    return now - aggregate.window_seconds <= ts <= now


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
    return rule.matches({**row, **values})
