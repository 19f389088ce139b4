"""Helpers for tests of a workspace's serving state."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.ranking.guardrails.catalogue import Catalogue, ItemLabels
from launchpoint.ranking.overlay import user_events
from launchpoint.ranking.state import WorkspaceState
from launchpoint.segments.compiler import NOW_KEY
from launchpoint.settings import Settings


@contextmanager
def scratch_launchpoint(now: float) -> Iterator[Launchpoint]:
    """A Launchpoint on a database of its own, its clock stopped at ``now``: one per example
    of a property test (a fixture would be shared by them all)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'lp.db'}", data_dir=tmp)
        lp = Launchpoint(settings, clock=lambda: now)
        try:
            yield lp
        finally:
            lp.close()


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
    state kept up to date in memory may have its newer users (and items) after the others."""
    assert sorted(a.user_ids) == sorted(b.user_ids)
    assert sorted(a.item_ids) == sorted(b.item_ids)
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
        assert _ids(a, a.consumed_items(x)) == _ids(b, b.consumed_items(y)), user_id
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


def assert_same_items(a: WorkspaceState, b: WorkspaceState, *, engaged: bool = True) -> None:
    """``a`` holds what ``b`` (built from storage) holds about every item, by item id: a
    state that took items in has its newer items after the others. Popularity, overall and
    per segment, is kept up to date with events and memberships; the items of segments that
    take them from members' behaviour, and item norms, wait for a rebuild: compared only when
    ``engaged`` (no events were taken in since the build)."""
    assert sorted(a.item_ids) == sorted(b.item_ids)
    assert a.categories == b.categories
    assert a.unknown_items == b.unknown_items
    n = len(a.item_ids)
    assert len(a.item_rows) == len(a.item_index) == len(a.available) == len(a.popularity) == n
    shapes = {a.interactions.shape, a.consumed.shape, a.positive.shape}
    assert shapes == {(len(a.user_ids), n)}
    assert a.item_categories.shape == (n, len(a.categories))
    order = np.array([a.item_index[item_id] for item_id in b.item_ids], dtype=np.intp)
    for item_id, j in b.item_index.items():
        i = a.item_index[item_id]
        assert a.item_ids[i] == item_id
        assert _item(a, i) == _item(b, j), item_id
        assert _topics(a, i) == _topics(b, j), item_id
    assert a.available[order].tolist() == b.available.tolist()
    assert (a.item_categories[order] != b.item_categories).nnz == 0
    np.testing.assert_allclose(a.popularity[order], b.popularity, atol=1e-9)
    np.testing.assert_allclose(a.top_popularity, b.top_popularity, atol=1e-9)
    cached = a.__dict__
    if "item_categories_by_column" in cached:
        assert (cached["item_categories_by_column"] != a.item_categories).nnz == 0
    if engaged and "item_norms" in cached:
        np.testing.assert_allclose(cached["item_norms"][order], b.item_norms)
    for s, t in zip(a.segments, b.segments, strict=True):
        np.testing.assert_allclose(s.popularity[order], t.popularity, atol=1e-9, err_msg=s.spec.id)
        if engaged or s.spec.items_from == "rule":
            assert s.eligible[order].tolist() == t.eligible.tolist(), s.spec.id
            assert s.qualification.items == t.qualification.items, s.spec.id
            assert s.qualification.qualifies == t.qualification.qualifies, s.spec.id
            np.testing.assert_allclose(s.top_popularity, t.top_popularity, atol=1e-9)


def assert_same_catalogue(a: Catalogue, b: Catalogue) -> None:
    """The guardrails' catalogues ``a`` (kept up to date) and ``b`` (made afresh) agree."""
    assert list(a.item_ids) == list(b.item_ids) and dict(a.item_index) == dict(b.item_index)
    assert a.created_at.tolist() == b.created_at.tolist()
    assert a.by_creation.tolist() == b.by_creation.tolist()
    for x, y in ((a.categories, b.categories), (a.topics, b.topics)):
        assert _labels(x) == _labels(y)


def _labels(labels: ItemLabels) -> tuple[Any, ...]:
    bits = None if labels.bits is None else (labels.bits.dtype, labels.bits.tolist())
    by_label = [items.tolist() for items in labels.by_label]
    return (
        labels.names,
        labels.indptr.tolist(),
        labels.indices.tolist(),
        labels.lists,
        bits,
        by_label,
    )


def _ids(state: WorkspaceState, items: Any) -> list[str]:
    return sorted(state.item_ids[i] for i in items)


def _item(state: WorkspaceState, item: int) -> dict[str, Any]:
    return {k: v for k, v in state.item_rows[item].items() if k != NOW_KEY}


def _topics(state: WorkspaceState, item: int) -> set[str]:
    return {topic for topic, items in state.sensitive_items.items() if item in items}


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


def _events(state: WorkspaceState, user: int) -> list[tuple[str, str, float, float]]:
    return sorted(
        (
            state.item_ids[e.item] if e.item >= 0 else "",
            e.type,
            e.ts,
            -1.0 if e.value is None else e.value,
        )
        for e in user_events(state, user)
    )
