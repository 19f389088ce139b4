"""Helpers for tests of a workspace's serving state."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from launchpoint.engine import WorkspaceEngine
from launchpoint.ranking.overlay import user_events
from launchpoint.ranking.state import WorkspaceState
from launchpoint.segments.compiler import NOW_KEY


def state_from_storage(ws: WorkspaceEngine, now: float) -> WorkspaceState:
    """A state built straight from what ``ws`` has stored, at ``now``, as the engine builds
    it: what a state kept up to date in memory must equal. (The class's method: a test may
    have replaced the engine's own.)"""
    return WorkspaceEngine._read_and_build(ws, now).state


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether ``condition`` came true within ``seconds`` (work done in another thread)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def assert_same_users(a: WorkspaceState, b: WorkspaceState) -> None:
    """``a`` holds what ``b`` (built from storage) holds about every user, by user id: a
    state kept up to date in memory may have its newer users after the others."""
    assert sorted(a.user_ids) == sorted(b.user_ids)
    assert a.item_ids == b.item_ids
    assert len(a.user_rows) == len(a.consents) == len(a.personalised) == len(a.user_ids)
    for user_id, y in b.user_index.items():
        x = a.user_index[user_id]
        assert a.user_ids[x] == user_id
        assert _row(a, x) == _row(b, y), (user_id, _row(a, x), _row(b, y))
        assert a.consents[x] == b.consents[y], user_id
        assert a.personalised[x] == b.personalised[y], user_id
        assert _edits(a, x) == _edits(b, y), user_id
        assert _events(a, x) == _events(b, y), user_id
        np.testing.assert_allclose(a.category_affinity(x), b.category_affinity(y), err_msg=user_id)
        assert a.consumed_items(x).tolist() == b.consumed_items(y).tolist(), user_id
        for key, values in b.aggregates.items():
            np.testing.assert_allclose(
                a.aggregates[key][x], values[y], rtol=1e-9, err_msg=f"{user_id} {key}"
            )
        for s, t in zip(a.segments, b.segments, strict=True):
            assert s.members[x] == t.members[y], f"{user_id} in {s.spec.id}"
    for s, t in zip(a.segments, b.segments, strict=True):
        assert s.qualification.members == t.qualification.members, s.spec.id
    shapes = {a.interactions.shape, a.consumed.shape, a.positive.shape}
    assert shapes == {(len(a.user_ids), len(a.item_ids))}
    assert a.interest.shape == (len(a.user_ids), len(a.categories))


def _row(state: WorkspaceState, user: int) -> dict[str, Any]:
    return {k: v for k, v in state.user_rows[user].items() if k != NOW_KEY}


def _edits(state: WorkspaceState, user: int) -> tuple[Any, ...]:
    edits = state.edits
    return (
        float(edits.reset_at[user]),
        edits.removed.get(user, frozenset()),
        edits.stated.get(user, frozenset()),
        user in edits.no_inferred,
    )


def _events(state: WorkspaceState, user: int) -> list[tuple[int, str, float, float]]:
    return sorted(
        (e.item, e.type, e.ts, -1.0 if e.value is None else e.value)
        for e in user_events(state, user)
    )
