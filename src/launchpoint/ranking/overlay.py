"""Events taken into a built serving state as they arrive, one user at a time.

The batch build computes every user's aggregates, interests and memberships at once; after
that, an event of user u changes only u's own view: the items u may no longer be offered, u's
interests, u's aggregates and u's segment memberships, all recomputed from u's events (the
batch ones plus those that arrived since) by the same functions the batch path uses, at the
moment of the event. Popularity, overall and per segment, moves with each user's events and
memberships (``ranking.popularity``); the items of segments that take them from their
members' behaviour wait for the next rebuild, at most ``refresh_seconds`` later.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from launchpoint.profiles.interests import decay, scale_row
from launchpoint.ranking.popularity import count_change, joined_or_left, positive_of
from launchpoint.ranking.signals import CONSUMED_TYPES, RATING_MIDPOINT
from launchpoint.ranking.state import WorkspaceState
from launchpoint.segments.compiler import NOW_KEY, Aggregate, affinity_key, segment_key
from launchpoint.segments.qualification import qualify
from launchpoint.segments.realtime import UserEvent, evaluate_user, user_aggregate_values

FloatArray = npt.NDArray[np.float64]


@dataclass
class UserOverlay:
    events: list[UserEvent] = field(default_factory=list)  # arrived after the build
    consumed: set[int] = field(default_factory=set)
    affinity: FloatArray = field(default_factory=lambda: np.zeros(0))
    evaluated_at: float = 0.0
    # All of the user's events (the build's, then ``events``), and their items, weights and
    # times as arrays: kept, so an event costs its own conversion, not the user's history's.
    history: list[UserEvent] | None = None
    columns: tuple[npt.NDArray[np.int32], FloatArray, FloatArray] | None = None


def event_weight(state: WorkspaceState, kind: str, value: float | None) -> float:
    """One event's weight, as ``signals.event_weights`` gives it in batch."""
    if kind == "rate":
        rated = RATING_MIDPOINT + 1.0 if value is None else value
        return float(rated - RATING_MIDPOINT)
    return float(state.signals.weights.get(kind, 1.0))


def take_events(state: WorkspaceState, rows: Iterable[Sequence[Any]], now: float) -> bool:
    """Take (user_id, item_id, type, value, ts) rows into ``state``. False, with nothing
    changed, when a row names a user the state does not know (a rebuild is needed)."""
    by_user: dict[int, list[UserEvent]] = {}
    unknown: list[str] = []
    for user_id, item_id, kind, value, ts in rows:
        user = state.user_index.get(user_id)
        if user is None:
            return False
        item = state.item_index.get(item_id, -1) if item_id is not None else -1
        if item < 0 and item_id is not None:
            unknown.append(item_id)
        by_user.setdefault(user, []).append(UserEvent(item, kind, value, float(ts)))
    state.unknown_items.update(unknown)
    for user, events in by_user.items():
        overlay = _with_history(state, user)
        touched = np.unique(np.fromiter((e.item for e in events if e.item >= 0), np.intp))
        _, before = positive_of(state, user, touched)
        overlay.events.extend(events)
        assert overlay.history is not None and overlay.columns is not None
        overlay.history.extend(events)
        overlay.columns = _with_columns(state, overlay.columns, events)
        overlay.consumed.update(e.item for e in events if e.item >= 0 and e.type in CONSUMED_TYPES)
        # With the memberships the user had: a segment joined or left gets the whole row.
        count_change(state, user, touched, before, positive_of(state, user, touched)[1])
        refresh_user(state, user, now)
    return True


def user_events(state: WorkspaceState, user: int) -> list[UserEvent]:
    """All of the user's events: those of the build, then those that arrived since."""
    order, indptr = state.events_by_user
    mine = order[indptr[user] : indptr[user + 1]]
    ev = state.events
    values = ev.value[mine]
    out = [
        UserEvent(int(i), ev.types[k], None if v != v else float(v), float(t))
        for i, k, v, t in zip(
            ev.item[mine].tolist(),
            ev.type_code[mine].tolist(),
            values.tolist(),
            ev.ts[mine].tolist(),
            strict=True,
        )
    ]
    overlay = state.overlays.get(user)
    if overlay is not None:
        out.extend(overlay.events)
    return out


def refresh_user(state: WorkspaceState, user: int, now: float) -> None:
    """Recompute the user's interests, aggregates and memberships from the user's events, as
    of ``now``. Also what keeps a user's windows sliding between rebuilds."""
    overlay = _with_history(state, user)
    events = overlay.history
    assert events is not None and overlay.columns is not None
    items, weights, ts = overlay.columns
    interest = interest_row(state, items, weights, ts, now, float(state.edits.reset_at[user]))
    overlay.affinity = state.with_edits(user, scale_row(interest))
    overlay.evaluated_at = now
    _refresh_memberships(state, user, events, now, overlay.affinity)


def _with_history(state: WorkspaceState, user: int) -> UserOverlay:
    """The user's overlay, holding all of the user's events and their columns."""
    overlay = state.overlays.get(user)
    if overlay is None:
        overlay = state.overlays[user] = UserOverlay()
    if overlay.history is None:
        overlay.history = user_events(state, user)
    if overlay.columns is None:
        empty = (np.zeros(0, np.int32), np.zeros(0), np.zeros(0))
        overlay.columns = _with_columns(state, empty, overlay.history)
    return overlay


def _with_columns(
    state: WorkspaceState,
    columns: tuple[npt.NDArray[np.int32], FloatArray, FloatArray],
    events: Sequence[UserEvent],
) -> tuple[npt.NDArray[np.int32], FloatArray, FloatArray]:
    items, weights, ts = columns
    n = len(events)
    return (
        np.concatenate((items, np.fromiter((e.item for e in events), np.int32, n))),
        np.concatenate(
            (weights, np.fromiter((event_weight(state, e.type, e.value) for e in events), float, n))
        ),
        np.concatenate((ts, np.fromiter((e.ts for e in events), np.float64, n))),
    )


def interest_row(
    state: WorkspaceState,
    items: npt.NDArray[np.int32],
    weights: FloatArray,
    ts: FloatArray,
    now: float,
    reset_at: float,
) -> FloatArray:
    """``user_interest_row``, exactly, in time that grows with the user's events rather
    than with the catalogue: the per-item sums, then each item's categories added in item
    order, as the sparse product adds them."""
    keep = (items >= 0) & (ts > reset_at)
    decayed = weights[keep] * decay(ts[keep], now, state.signals.half_life_days)
    own, where = np.unique(items[keep], return_inverse=True)
    per_item = np.bincount(where, weights=decayed, minlength=len(own))
    matrix = state.item_categories
    starts, ends = matrix.indptr[own], matrix.indptr[own + 1]
    lengths = ends - starts
    at = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    return np.bincount(
        matrix.indices[at],
        weights=matrix.data[at] * np.repeat(per_item, lengths),
        minlength=len(state.categories),
    ).astype(np.float64)


def _refresh_memberships(
    state: WorkspaceState,
    user: int,
    events: Sequence[UserEvent],
    now: float,
    affinity: FloatArray,
) -> None:
    by_id = {s.spec.id: s for s in state.segments}
    aggregates: dict[str, Aggregate] = {}
    for segment in state.segments:
        for aggregate in segment.user_rule.aggregates:
            aggregates.setdefault(aggregate.key, aggregate)
    values: dict[str, Any] = user_aggregate_values(
        list(aggregates.values()),
        events,
        state.item_rows,
        state.item_ids,
        now,
        state.condition_memo,
    )
    for key, value in values.items():
        if key in state.aggregates:
            state.aggregates[key][user] = np.nan if value is None else value
    for category_index, category in enumerate(state.categories):
        key = affinity_key(category)
        if key in state.aggregates:
            state.aggregates[key][user] = affinity[category_index]
    row = {**state.user_rows[user], NOW_KEY: now}
    for segment_id in state.segment_order:
        segment = by_id[segment_id]
        for name in segment.user_rule.segments:
            other = by_id.get(name)
            values[segment_key(name)] = float(other.members[user]) if other is not None else 0.0
        for category in segment.user_rule.affinities:
            if category not in state.categories:
                values[affinity_key(category)] = 0.0
            else:
                values[affinity_key(category)] = float(affinity[state.categories.index(category)])
        member = evaluate_user(segment.user_rule, row, values)
        if member != bool(segment.members[user]):
            segment.members[user] = member
            counted = segment.qualification.members + (1 if member else -1)
            segment = joined_or_left(state, segment, user, member)
            by_id[segment_id] = replace(
                segment, qualification=qualify(segment.spec, counted, segment.qualification.items)
            )
        key = segment_key(segment_id)
        if key in state.aggregates:
            state.aggregates[key][user] = float(member)
    state.segments = [by_id[s.spec.id] for s in state.segments]
