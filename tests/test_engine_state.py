"""The serving state's life while a server's refresh schedule runs: rebuilt beside the state
that serves, with requests answered from the old one meanwhile, and every event taken in
exactly once whether it was stored before, during or after the build's snapshot."""

from __future__ import annotations

import gc
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from launchpoint import engine_state
from launchpoint.domain import EventIn, ItemIn, SegmentSpec, UserIn
from launchpoint.domain.segments import SurfaceSpec
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.engine_state import TAKE_IN_ROWS
from launchpoint.ranking.overlay import user_events
from launchpoint.ranking.pipeline import RibbonRequest
from launchpoint.ranking.state import WorkspaceState
from launchpoint.settings import Settings
from tests.engine_helpers import (
    assert_same_items,
    assert_same_users,
    state_from_storage,
    wait_until,
)

NOW = 1_700_000_000.0
DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lp(backend_url: str, tmp_path: Path, clock: Clock) -> Iterator[Launchpoint]:
    settings = Settings(
        database_url=backend_url,
        data_dir=tmp_path,
        workspace=f"s{uuid.uuid4().hex[:12]}",
        version_check_seconds=0,
    )
    launchpoint = Launchpoint(settings, clock=clock)
    ws = launchpoint.workspace()
    ws.add_items(
        [ItemIn(id=f"i{n}", title=f"Item {n}", categories=["ab"[n % 2]]) for n in range(8)]
    )
    ws.add_users([UserIn(id=f"u{n}", attributes={"tier": "gold"}) for n in range(4)])
    ws.put_segment(
        SegmentSpec.model_validate(
            {
                "id": "busy",
                "name": "Busy",
                "users": "count(event = 'click', within = '7d') >= 2",
                "items": "id is not null",
                "min_users": 0,
                "min_items": 0,
            }
        )
    )
    ws.add_events([_event("u0", "i0"), _event("u1", "i1")])
    launchpoint.schedule(True)
    yield launchpoint
    launchpoint.schedule(False)
    launchpoint.close()


def _event(user: str, item: str, kind: str = "click", days: float = 1.0) -> EventIn:
    return EventIn(
        message_id=uuid.uuid4().hex,
        user_id=user,
        item_id=item,
        type=kind,
        timestamp=NOW - days * DAY,
    )


def _from_storage(ws: WorkspaceEngine) -> WorkspaceState:
    return state_from_storage(ws, NOW)


def _same(a: WorkspaceState, b: WorkspaceState) -> None:
    """``a`` holds every stored event and user once: what a build from storage holds."""
    assert_same_users(a, b)


def _in_thread(work: Callable[[], Any]) -> None:
    """Run ``work`` in a thread of its own, as another request would."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the test's thread
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    if failed:
        raise failed[0]


@contextmanager
def _other_process(lp: Launchpoint, clock: Clock) -> Iterator[WorkspaceEngine]:
    """The same workspace through another process's handle on the database."""
    other = Launchpoint(lp.settings, migrate=False, clock=clock)
    try:
        yield other.workspace()
    finally:
        other.close()


class HeldBuild:
    """A build beside the serving state, held once its state is made and before it takes
    over, so a test can act while it runs."""

    def __init__(self, ws: WorkspaceEngine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ws = ws
        self.made = threading.Event()
        self.release = threading.Event()
        self.result: list[bool] = []
        prepare = ws._prepare

        def held(state: WorkspaceState, surfaces: Any) -> None:
            if threading.current_thread() is self.thread:  # not a writer's new state
                self.made.set()
                assert self.release.wait(10)
            prepare(state, surfaces)

        monkeypatch.setattr(ws, "_prepare", held)
        self.thread = threading.Thread(target=lambda: self.result.append(ws.build_beside()))

    def __enter__(self) -> HeldBuild:
        self.thread.start()
        assert self.made.wait(10), "the build did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


def test_requests_are_served_from_the_old_state_while_a_build_runs_beside(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    old = ws.state()
    with HeldBuild(ws, monkeypatch) as build:
        assert ws.state() is old
        ws.add_events([_event("u2", "i2"), _event("u2", "i4")])  # taken into the old state
        assert ws.state() is old
        assert [e.item for e in user_events(old, 2)] == [2, 4]
    assert build.result == [True]
    new = ws.state()
    assert new is not old
    assert new.version == ws.store.data_version()
    _same(new, _from_storage(ws))


def test_events_stored_before_during_and_after_the_snapshot_are_each_taken_in_once(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build reads one snapshot; batches this process took in while it ran are replayed
    into it, those after its snapshot only. Each moment is forced: before the snapshot (a
    batch already kept for replay, and in the snapshot), during it (stored once the snapshot
    is taken, so not in it), and after the state is made."""
    ws = lp.workspace()
    ws.state()
    read_and_build = ws._read_and_build
    list_segments = ws.store.list_segments
    moments = iter(
        [
            [_event("u0", "i2"), _event("u0", "i4")],  # before the snapshot
            [_event("u1", "i3"), _event("u3", "i5", "purchase")],  # during it
        ]
    )

    def before(now: float | None, pace: Any) -> Any:
        _in_thread(lambda: ws.add_events(next(moments)))
        return read_and_build(now, pace)

    def during() -> Any:  # the snapshot's second read
        batch = next(moments, None)
        if batch is not None:
            _in_thread(lambda: ws.add_events(batch))
        return list_segments()

    monkeypatch.setattr(ws, "_read_and_build", before)
    monkeypatch.setattr(ws.store, "list_segments", during)
    with HeldBuild(ws, monkeypatch) as build:
        ws.add_events([_event("u0", "i6"), _event("u2", "i6", "save")])  # after it
        assert ws._replay is not None and len(ws._replay) == 3
    assert build.result == [True]
    new = ws.state()
    assert new.version == ws.store.data_version()  # the replay ran on without a gap
    _same(new, _from_storage(ws))
    assert new.segments[0].members[0]  # u0's three clicks in a week, counted once each
    assert sum(len(user_events(new, u)) for u in range(4)) == ws.store.stats()["events"]


def test_a_write_not_taken_in_during_a_build_waits_for_it_then_builds_beside(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    old = ws.state()
    with HeldBuild(ws, monkeypatch) as build:
        writer = threading.Thread(target=ws.put_signals, args=({"like": 7.0}, 10.0))
        writer.start()
        time.sleep(0.05)
        assert writer.is_alive()  # the build running may not hold the write: it waits
        assert ws.state() is old  # requests are answered meanwhile
    writer.join(10)
    assert build.result == [True]  # the held build took over, then the writer's
    new = ws.state()
    assert new is ws._state and new.signals.weights["like"] == 7.0
    assert new.version == ws.store.data_version()


def test_a_write_not_taken_in_is_built_beside_while_requests_are_answered(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    old = ws.state()
    served: list[WorkspaceState] = []
    prepare = ws._prepare

    def during(state: WorkspaceState, surfaces: Any) -> None:
        served.append(ws.state())  # a request while the writer's build is made
        prepare(state, surfaces)

    monkeypatch.setattr(ws, "_prepare", during)
    ws.put_signals({"like": 7.0}, 10.0)  # returns once the new state serves
    assert served == [old]
    assert ws._state is not old and ws._state.signals.weights["like"] == 7.0
    lp.schedule(False)
    ws.put_signals({"like": 6.0}, 10.0)  # without a schedule: the next request rebuilds
    assert ws._state.signals.weights["like"] == 7.0 and ws._stale
    assert ws.state().signals.weights["like"] == 6.0


def test_items_written_during_a_build_are_taken_in_and_into_the_new_state(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    old = ws.state()
    with HeldBuild(ws, monkeypatch) as build:
        ws.add_items([ItemIn(id="late", title="Late", categories=["a"])])
        ws.add_items([ItemIn(id="i1", title="Gone", categories=["a"], available=False)])
        serving = ws._state
        assert serving is not old and "late" in serving.item_index  # at once
    assert build.result == [True]
    new = ws.state()
    assert new is ws._state and new is not serving  # the build took over, with both writes
    assert new.version == ws.store.data_version()
    assert_same_items(new, state_from_storage(ws, new.now))
    prepared = ws._prepared  # made ready by the build, not left to the first request
    assert prepared is not None and prepared.state is new


def test_on_a_schedule_requests_do_not_rebuild_for_age(lp: Launchpoint, clock: Clock) -> None:
    ws = lp.workspace()
    state = ws.state()
    clock.now += 10 * ws.settings.refresh_seconds
    assert ws.state() is state
    lp.schedule(False)
    assert ws.state() is not state  # without a schedule, the request rebuilds


def test_refresh_on_a_schedule_builds_beside_and_says_so(lp: Launchpoint) -> None:
    ws = lp.workspace()
    old = ws.state()
    assert lp.refresh() is True
    assert ws.state() is not old
    assert lp.refresh() is True  # a schedule rebuilds even when nothing was written
    assert lp.refresh() is True


def test_another_process_s_write_starts_a_build_beside(lp: Launchpoint, clock: Clock) -> None:
    ws = lp.workspace()
    old = ws.state()
    with _other_process(lp, clock) as other:
        other.add_events([_event("u3", "i7", "save")])
        assert ws.state() is old  # answered at once, from the state serving
        assert wait_until(lambda: ws.state() is not old)
        new = ws.state()
        assert new is not old and [e.item for e in user_events(new, 3)] == [7]
        assert new.version == ws.store.data_version()
        # Builds other processes call for are spaced by their duration.
        ws._next_beside = time.monotonic() + 60
        other.add_events([_event("u3", "i5", "save")])
        assert ws.state() is new
        assert not any(t.name == "launchpoint-build" for t in threading.enumerate())


def test_this_process_s_events_after_another_s_write_are_seen_at_once(
    lp: Launchpoint, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's write leaves the serving state behind; this process's own events
    are still taken into it (and a build beside catches up with the rest)."""
    ws = lp.workspace()
    state = ws.state()
    monkeypatch.setattr(ws, "_start_build_beside", lambda: None)
    with _other_process(lp, clock) as other:
        other.add_events([_event("u3", "i7", "save")])
        ws.add_events([_event("u2", "i3", "purchase")])
    assert ws.state() is state
    assert [e.item for e in user_events(state, 2)] == [3]
    assert state.version < ws.store.data_version()  # behind: the next build catches up


def test_a_new_user_s_first_events_are_taken_in_without_a_rebuild(lp: Launchpoint) -> None:
    ws = lp.workspace()
    old = ws.state()
    ws.add_events([_event("newcomer", "i1"), _event("newcomer", "i3", days=2)])
    assert ws.state() is old and old.user_ids[-1] == "newcomer"
    assert old.version == ws.store.data_version()
    assert old.segments[0].members[old.user_index["newcomer"]]  # two clicks this week
    _same(old, _from_storage(ws))


def test_users_created_and_changed_are_taken_in_without_a_rebuild(lp: Launchpoint) -> None:
    ws = lp.workspace()
    old = ws.state()
    ws.add_users(
        [
            UserIn(id="v1", attributes={"interests": ["b"]}, consents={"adult": True}),
            UserIn(id="u1", attributes={"tier": "silver"}, personalisation=False),
        ]
    )
    ws.control.remove_interest("u0", "a")
    ws.control.set_personalisation("u2", None, ["inferred_interests", "location"])
    ws.control.reset("u3")
    ws.control.set_consents("v1", {"adult": False})
    ws.control.edit("v1", {"region": "north"})
    assert ws.state() is old
    assert old.version == ws.store.data_version()
    _same(old, _from_storage(ws))


def test_a_user_created_by_another_process_is_read_with_this_process_s_events(
    lp: Launchpoint, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    state = ws.state()
    monkeypatch.setattr(ws, "_start_build_beside", lambda: None)
    with _other_process(lp, clock) as other:
        other.add_users([UserIn(id="w1", attributes={"tier": "platinum"})])
        ws.add_events([_event("w1", "i2")])
    assert ws.state() is state
    assert state.user_rows[state.user_index["w1"]]["tier"] == "platinum"
    assert state.version < ws.store.data_version()  # behind: the next build catches up


def test_a_surface_written_is_loaded_without_a_rebuild(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    old = ws.state()
    ws.put_surface("home", SurfaceSpec(layers=2, cards=5))
    assert ws.state() is old and old.version == ws.store.data_version()
    assert ws.surface("home").cards == 5
    with HeldBuild(ws, monkeypatch) as build:  # one written while a build runs beside
        ws.put_surface("home", SurfaceSpec(layers=1, cards=3))
        ws.put_surface("email", SurfaceSpec(layers=1, cards=4))
    assert build.result == [True]
    assert ws.state() is not old and ws.state().version == ws.store.data_version()
    assert (ws.surface("home").cards, ws.surface("email").cards) == (3, 4)


def test_many_users_at_once_rebuild_the_state(lp: Launchpoint) -> None:
    ws = lp.workspace()
    old = ws.state()
    ws.add_users([UserIn(id=f"bulk{n:03d}") for n in range(TAKE_IN_ROWS + 1)])
    new = ws.state()
    assert new is not old and len(new.user_ids) == 4 + TAKE_IN_ROWS + 1


def test_users_taken_in_during_a_build_beside_are_in_the_new_state(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    old = ws.state()
    with HeldBuild(ws, monkeypatch) as build:
        ws.add_events([_event("late", "i5"), _event("late", "i7", days=3)])
        ws.add_users([UserIn(id="u2", attributes={"interests": ["a"]})])
        ws.control.remove_interest("u0", "a")
        assert ws.state() is old and "late" in old.user_index
    assert build.result == [True]
    new = ws.state()
    assert new is not old and new.version == ws.store.data_version()
    _same(new, _from_storage(ws))


def test_events_the_state_was_built_after_change_nothing(lp: Launchpoint) -> None:
    ws = lp.workspace()
    result = ws.store.insert_events([_event("u1", "i6")])
    state = ws.state()  # stale: built after the events were stored
    ws._take_in(result)  # what add_events does once its write committed
    assert not ws._stale and ws.state() is state
    assert len(user_events(state, 1)) == 2


def test_what_requests_read_is_made_before_a_state_built_beside_serves(
    lp: Launchpoint,
) -> None:
    """Made on a request, each would hold every request queued behind it (at 1M users, the
    events by user took 2.3 s)."""
    ws = lp.workspace()
    ws.state()
    assert ws.build_beside()
    made = ws.state().__dict__
    assert {"events_by_user", "item_norms", "category_interest"} <= made.keys()
    assert "item_categories_by_column" in made


def test_a_replaced_state_and_one_not_kept_are_freed(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    ws.ribbons(RibbonRequest("u0"))  # the guardrails' tools made for the state serving
    old = weakref.ref(ws.state())
    assert ws.build_beside()
    ws.ribbons(RibbonRequest("u0"))
    gc.collect()
    assert old() is None
    made: list[weakref.ref[WorkspaceState]] = []
    prepare = ws._prepare

    def remembered(state: WorkspaceState, surfaces: Any) -> None:
        made.append(weakref.ref(state))
        prepare(state, surfaces)
        ws._mark_stale()  # as a write meanwhile could (without a schedule)

    monkeypatch.setattr(ws, "_prepare", remembered)
    assert not ws.build_beside()
    gc.collect()
    assert made and made[0]() is None


def test_a_state_replaced_by_one_with_new_items_is_freed(lp: Launchpoint) -> None:
    ws = lp.workspace()
    ws.ribbons(RibbonRequest("u0"))
    old = weakref.ref(ws.state())
    ws.add_items([ItemIn(id="late", title="Late", categories=["a"])])
    ws.ribbons(RibbonRequest("u0"))
    gc.collect()
    assert old() is None
    assert "late" in ws.state().item_index


def test_a_build_leaves_no_reference_cycles(lp: Launchpoint) -> None:
    """A server freezes each new state without a collection (``launchpoint.heap``): cycles
    a build left would never be collected. Segments naming segments included."""
    ws = lp.workspace()
    ws.put_segment(
        SegmentSpec.model_validate(
            {
                "id": "busy_gold",
                "name": "Busy and gold",
                "users": "segment('busy') and tier = 'gold'",
                "items": "id is not null",
                "min_users": 0,
                "min_items": 0,
            }
        )
    )
    ws.state()
    gc.collect()
    gc.disable()
    try:
        assert ws.build_beside()
        left = gc.collect()
    finally:
        gc.enable()
    assert left == 0


def test_a_build_beside_gives_way_to_requests_and_builds_the_same_state(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    ws.ribbons(RibbonRequest("u0"))
    in_flight: list[int] = []
    monkeypatch.setattr(ws.pace, "tick", lambda: in_flight.append(ws.pace.in_flight))
    monkeypatch.setattr(ws, "_prepare", lambda state, surfaces: ws.ribbons(RibbonRequest("u1")))
    with ws.pace.request():  # a request being served while the state is built
        assert ws.build_beside()
    assert len(in_flight) >= 4 and set(in_flight) == {1}  # users, items, events, segments
    _same(ws.state(), _from_storage(ws))
    ws.state()  # a build on the request path does not wait for itself
    assert ws.pace.in_flight == 0


def test_writers_waiting_for_a_build_share_the_next_one(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    ws.state()
    builds = ws._builds
    with HeldBuild(ws, monkeypatch):
        writers = [
            threading.Thread(target=ws.put_signals, args=({"like": float(n)}, 10.0)) for n in (6, 7)
        ]
        for writer in writers:
            writer.start()
        assert wait_until(lambda: ws._writes == 2)  # both wait for the build held
    for writer in writers:
        writer.join(10)
    # The held build (without the writes), then one build holding both: not one each.
    assert ws._builds == builds + 2
    assert ws._state is not None and ws._state.version == ws.store.data_version()


def test_a_request_does_not_wait_for_a_write_being_taken_in_to_look_at_the_version(
    lp: Launchpoint,
) -> None:
    ws = lp.workspace()
    state = ws.state()
    ws._checked_at = 0.0  # a look at the data version is due
    with ws._lock:  # as while a write is taken in
        answered: list[WorkspaceState] = []
        thread = threading.Thread(target=lambda: answered.append(ws.state()))
        thread.start()
        thread.join(5)
        assert answered == [state]


def test_a_build_that_cannot_take_in_a_write_the_state_serving_has_does_not_serve(
    lp: Launchpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = lp.workspace()
    old = ws.state()
    with HeldBuild(ws, monkeypatch) as build:
        ws.add_items([ItemIn(id="late", title="Late", categories=["a"])])
        serving = ws._state
        monkeypatch.setattr(engine_state, "_take", lambda state, taken, now: None)
    assert build.result == [False]  # it would have lacked the item
    assert ws._state is serving and serving is not old and "late" in serving.item_index
    assert ws._next_beside == 0.0  # the next check builds again, at once
