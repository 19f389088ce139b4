"""Helpers for tests of a workspace's serving state."""

from __future__ import annotations

import time
from collections.abc import Callable

from launchpoint.engine import WorkspaceEngine
from launchpoint.ranking.state import WorkspaceState, build_state


def state_from_storage(ws: WorkspaceEngine, now: float) -> WorkspaceState:
    """A state built straight from what ``ws`` has stored, at ``now``: what a state kept up
    to date in memory must equal."""
    return build_state(
        ws.store.data_version(),
        ws.store.iter_users(),
        ws.store.iter_items(),
        ws.store.iter_event_tuples(),
        [spec for spec, _ in ws.store.list_segments()],
        now=now,
        signals=ws.signals(),
        profiles=ws.people.profiles(),
    )


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether ``condition`` came true within ``seconds`` (work done in another thread)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
