"""Popularity kept up to date as events and memberships change between builds.

An item's popularity is the sum over users of each user's positive interaction with it (the
user's event weights on it, summed, clipped at 0); a segment's, the same over its members.
When a user's events arrive, the items they touch move by the change in that user's positive
interaction, overall and in each segment the user is a member of; when a user joins or
leaves a segment, the user's whole positive row is added to, or taken from, the segment's.
The highest popularity among items offered (overall: available; in a segment: its items,
available), which scores are scaled by, follows; it is worked out again only when the item
that held it fell.

What the same figures from a rebuild hold, up to the order of floating-point additions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from launchpoint.ranking.state import SegmentState, WorkspaceState

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def positive_of(
    state: WorkspaceState, user: int, items: IntArray | None = None
) -> tuple[IntArray, FloatArray]:
    """The user's positive interaction with each of ``items`` (sorted, distinct; 0 where
    none), or with every
    item the user has events on (``items`` None): (items, values). Read from the user's
    overlay when it holds the user's whole history, else from the build's matrix."""
    overlay = state.overlays.get(user)
    columns = overlay.columns if overlay is not None else None
    if columns is not None:
        own, weights, _ = columns
        keep = own >= 0
        own, weights = own[keep], weights[keep]
    else:
        matrix = state.interactions
        start, end = matrix.indptr[user], matrix.indptr[user + 1]
        own, weights = matrix.indices[start:end], matrix.data[start:end]
    if items is None:
        ids, where = np.unique(own, return_inverse=True)
        summed = np.bincount(where, weights=weights, minlength=len(ids)).astype(np.float64)
        return ids.astype(np.intp), np.clip(summed, 0.0, None)
    # Only the entries of ``items`` (sorted, distinct: those an event batch touched), summed
    # in the same order: no sort of the user's whole history, twice per batch of events.
    mine = np.isin(own, items)
    at = np.searchsorted(items, own[mine])
    summed = np.bincount(at, weights=weights[mine], minlength=len(items)).astype(np.float64)
    return items, np.clip(summed, 0.0, None)


def count_change(
    state: WorkspaceState, user: int, items: IntArray, before: FloatArray, after: FloatArray
) -> None:
    """The user's positive interaction with ``items`` (distinct) went from ``before`` to
    ``after``: move popularity overall and in the segments the user is a member of."""
    delta = after - before
    moved = delta != 0
    if not moved.any():
        return
    items, delta = items[moved], delta[moved]
    available = state.available
    state.top_popularity = _moved(
        state.popularity, items, delta, state.top_popularity, available[items], lambda: available
    )
    state.segments = [
        _in_segment(state, s, items, delta) if s.members[user] else s for s in state.segments
    ]


def joined_or_left(
    state: WorkspaceState, segment: SegmentState, user: int, member: bool
) -> SegmentState:
    """``segment`` once ``user`` joined it (``member``) or left it: the user's whole
    positive row added to its popularity, or taken from it."""
    items, values = positive_of(state, user)
    return _in_segment(state, segment, items, values if member else -values)


def _in_segment(
    state: WorkspaceState, segment: SegmentState, items: IntArray, delta: FloatArray
) -> SegmentState:
    if not len(items):
        return segment
    eligible, available = segment.eligible, state.available
    top = _moved(
        segment.popularity,
        items,
        delta,
        segment.top_popularity,
        eligible[items] & available[items],
        lambda: eligible & available,
    )
    return segment if top == segment.top_popularity else replace(segment, top_popularity=top)


def _moved(
    popularity: FloatArray,
    items: IntArray,
    delta: FloatArray,
    top: float,
    offered: BoolArray,
    all_offered: Callable[[], BoolArray],
) -> float:
    """Add ``delta`` to ``popularity`` at ``items`` (distinct); the new highest among items
    offered, given the old one (``top``) and which of ``items`` are offered."""
    was = popularity[items]
    popularity[items] = was + delta
    if (offered & (delta < 0) & (was >= top)).any():  # the highest fell: look again
        return float(popularity[all_offered()].max(initial=0.0))
    return max(top, float(popularity[items][offered].max(initial=0.0)))


def among(state: WorkspaceState, members: BoolArray, counted: FloatArray) -> FloatArray:
    """Popularity among ``members``, from ``counted`` (the same from the build's matrix, as
    ``evaluate_segments`` gives it) and the events taken in since: each member whose events
    arrived since counted from the user's whole history instead."""
    out = counted.copy()
    positive = state.positive
    for user, overlay in list(state.overlays.items()):  # events are taken in meanwhile
        if overlay.columns is None or not members[user]:
            continue
        start, end = positive.indptr[user], positive.indptr[user + 1]
        out[positive.indices[start:end]] -= positive.data[start:end]
        items, values = positive_of(state, user)
        out[items] += values
    return out
