"""Batch evaluation of segment rules over a whole workspace.

Aggregates are computed with numpy over the event columns (one pass per distinct aggregate),
then each user's rule runs over its attribute row plus those values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from launchpoint.segments.compiler import Aggregate, CompiledRule, affinity_key, segment_key

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


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


class _EventRow(Mapping[str, Any]):
    """An event as a rule sees it: its own fields, then its item's, without copying either."""

    __slots__ = ("_event", "_item")

    def __init__(self, event: dict[str, Any], item: Mapping[str, Any]) -> None:
        self._event = event
        self._item = item

    def __getitem__(self, key: str) -> Any:
        if key in self._event:
            return self._event[key]
        return self._item[key]

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._event:
            return self._event[key]
        return self._item.get(key, default)

    def __iter__(self) -> Iterator[str]:
        yield from self._event
        yield from (k for k in self._item if k not in self._event)

    def __len__(self) -> int:
        return sum(1 for _ in self)


_NO_ITEM: dict[str, Any] = {}


def event_condition_mask(
    aggregate: Aggregate,
    events: EventColumns,
    items: Sequence[Mapping[str, Any]],
    item_ids: Sequence[str],
) -> BoolArray:
    """Which events satisfy the aggregate's condition. The condition is a Python closure, so it
    runs once per distinct (type, item[, value]) rather than once per event."""
    n = len(events)
    if aggregate.condition is None or n == 0:
        return np.ones(n, dtype=bool)
    n_items = len(items) + 1
    key = events.type_code.astype(np.int64) * n_items + (events.item.astype(np.int64) + 1)
    if aggregate.uses_value:
        values, value_code = np.unique(events.value, return_inverse=True)  # NaNs sort last
        key = key * len(values) + value_code.reshape(-1)
    else:
        values = np.array([np.nan])
    unique, inverse = np.unique(key, return_inverse=True)
    results = np.empty(len(unique), dtype=bool)
    condition = aggregate.condition
    n_values = len(values)
    for k, combined in enumerate(unique.tolist()):
        if aggregate.uses_value:
            combined, value_index = divmod(combined, n_values)
            value = float(values[value_index])
        else:
            value = float("nan")
        code, item_plus_one = divmod(combined, n_items)
        item = item_plus_one - 1
        event = {
            "event": events.types[code],
            "value": None if value != value else value,  # NaN: no value
            "item_id": item_ids[item] if item >= 0 else None,
        }
        results[k] = bool(condition(_EventRow(event, items[item] if item >= 0 else _NO_ITEM)))
    mask: BoolArray = results[inverse.reshape(-1)]
    return mask


def aggregate_values(
    aggregates: Sequence[Aggregate],
    events: EventColumns,
    items: Sequence[Mapping[str, Any]],
    item_ids: Sequence[str],
    n_users: int,
    now: float,
) -> dict[str, FloatArray]:
    """Per-user value of every aggregate, keyed by ``Aggregate.key``; NaN where a first/last
    time has no event."""
    out: dict[str, FloatArray] = {}
    for aggregate in aggregates:
        if aggregate.key in out:
            continue
        mask = event_condition_mask(aggregate, events, items, item_ids)
        if aggregate.window_seconds is not None:
            mask &= (events.ts >= now - aggregate.window_seconds) & (events.ts <= now)
        out[aggregate.key] = _reduce(aggregate.kind, events, mask, n_users)
    return out


def _reduce(kind: str, events: EventColumns, mask: BoolArray, n_users: int) -> FloatArray:
    users = events.user[mask]
    if kind == "count":
        return np.bincount(users, minlength=n_users).astype(np.float64)
    if kind == "sum":
        values = np.nan_to_num(events.value[mask], nan=0.0)
        return np.bincount(users, weights=values, minlength=n_users).astype(np.float64)
    if kind == "distinct":
        pairs = np.unique(np.stack([users, events.item[mask]]), axis=1)
        pairs = pairs[:, pairs[1] >= 0]  # events without an item are no item
        return np.bincount(pairs[0], minlength=n_users).astype(np.float64)
    times = events.ts[mask]
    if kind == "first_seen":
        out = np.full(n_users, np.inf)
        np.minimum.at(out, users, times)
    else:  # last_seen
        out = np.full(n_users, -np.inf)
        np.maximum.at(out, users, times)
    out[~np.isfinite(out)] = np.nan
    return out


def evaluate_users(
    rule: CompiledRule, users: Sequence[Mapping[str, Any]], values: Mapping[str, FloatArray]
) -> BoolArray:
    """Membership of every user in one rule."""
    keys = [
        *(a.key for a in rule.aggregates),
        *(affinity_key(c) for c in rule.affinities),
        *(segment_key(s) for s in rule.segments),
    ]
    mask = np.zeros(len(users), dtype=bool)
    if not keys:
        for i, row in enumerate(users):
            mask[i] = rule.matches(row)
        return mask
    columns = [values[k] for k in keys]
    for i, row in enumerate(users):
        extended = dict(row)
        for key, column in zip(keys, columns, strict=True):
            value = float(column[i])
            extended[key] = None if value != value else value  # NaN: no such event
        mask[i] = rule.matches(extended)
    return mask


def evaluate_items(rule: CompiledRule, items: Sequence[Mapping[str, Any]]) -> BoolArray:
    return np.fromiter((rule.matches(row) for row in items), dtype=bool, count=len(items))
