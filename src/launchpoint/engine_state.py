"""The serving state's life: built from storage when data changes, new events taken into it as
they arrive, and, while a server runs a refresh schedule, rebuilt beside the state that serves
so that no request waits for a build it did not ask for. A part of ``WorkspaceEngine``, kept
in its own module.

Users this process creates or changes (their first events, the users API, profile edits)
are taken into the state in place, as events are (``ranking.user_changes``); items it
creates or changes make a new state that shares the users' side with the one serving
(``ranking.item_changes``), which takes over at once.

A build beside the serving state reads one snapshot of the database (``Database.snapshot``),
so its ``data_version`` says exactly which writes it holds. Events and users this process
takes into the serving state while the build runs are kept with their versions and taken
into the new state before it takes over, those after its snapshot only: none is lost, none
counted twice.

A write of this process's that cannot be taken in (segments, settings, deletions, many users
or items at once) rebuilds the state. Without a server's schedule the state is marked stale
and the next request rebuilds it, every request waiting. On a schedule the writer's own thread
builds it beside the state serving and returns once the new state serves: the writer reads
its write, and no other request waits (at 1M users, 80-90 s in which a server answered
nothing)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from launchpoint.domain.segments import SurfaceSpec
from launchpoint.experiments.service import ExperimentService, ServingExperiments
from launchpoint.heap import building_beside, full_collections_held, set_aside
from launchpoint.pacing import RequestsFirst, no_pace
from launchpoint.profiles.control import LOCATION_FIELDS
from launchpoint.profiles.interests import SignalConfig
from launchpoint.ranking.item_changes import take_items
from launchpoint.ranking.overlay import take_events
from launchpoint.ranking.state import WorkspaceState, build_state
from launchpoint.ranking.user_changes import take_users
from launchpoint.storage.experiments import ExperimentStore

if TYPE_CHECKING:
    from launchpoint.settings import Settings
    from launchpoint.storage import WorkspaceStore
    from launchpoint.storage.people import PeopleStore
    from launchpoint.storage.store import EventInsert

log = logging.getLogger("launchpoint.engine")

HISTORY_EVERY_SECONDS = 3600.0  # an unchanged segment's figures are kept at most hourly
# Up to this many new events (or users) in one write are taken into the serving state user by
# user (each user's view recomputed from all its events); a bigger batch is cheaper to rebuild
# from.
TAKE_IN_ROWS = 50

Records = Sequence[Mapping[str, Any]]  # stored user records, as WorkspaceStore.iter_users
Profiles = Mapping[str, Mapping[str, Any]]  # user id -> profile edits, as PeopleStore.profiles


@dataclass(frozen=True)
class _Taken:
    """A write taken into the serving state while a build ran beside it: replayed into the
    new state when it was committed after the build's snapshot."""

    version: int
    events: Sequence[Sequence[Any]] = ()
    users: Records = ()
    profiles: Profiles | None = None
    items: Records = ()  # stored item records, as WorkspaceStore.iter_items
    surfaces: dict[str, SurfaceSpec] | None = None  # every surface, as stored after the write


@dataclass(frozen=True)
class _Built:
    """A state and what is loaded with it, read from one snapshot."""

    state: WorkspaceState
    surfaces: dict[str, SurfaceSpec]
    experiments: ServingExperiments


class StateOperations:
    """The serving-state half of ``WorkspaceEngine``."""

    store: WorkspaceStore
    people: PeopleStore
    settings: Settings
    _clock: Callable[[], float]
    signals: Callable[[], SignalConfig]
    # Makes what serving reads for a state (guardrail tools, the model aligned with it, the
    # structures its first request would make) before it takes over.
    _prepare: Callable[[WorkspaceState, Mapping[str, SurfaceSpec]], None]
    # ``_prepare`` for a state made from another by taking items in (those at the indices).
    _prepare_items: Callable[[WorkspaceState, WorkspaceState, Sequence[int]], None]
    # Lets go of what was made for states other than the one serving, so they are freed.
    _serve_only: Callable[[WorkspaceState], None]

    def _init_state(self, pace: RequestsFirst) -> None:
        self._state: WorkspaceState | None = None
        self._experiments = ServingExperiments()  # loaded with the state
        self._pinned = False  # the state was built at a given ``now``
        self._surfaces: dict[str, SurfaceSpec] = {}
        self._lock = threading.Lock()  # held to build on the request path, and to swap
        # Writes through this engine mark the state stale at once; writes by other processes
        # are seen when data_version is next read, at most version_check_seconds later.
        self._stale = True
        self._checked_at = 0.0
        self._builds = 0  # states built from storage that took over (see _swap_in)
        # Writes rebuilt for (``_rebuild_for_write``), counted; and how many of them the
        # serving state's build was started after: a writer whose write a build holds
        # already does not build again.
        self._writes = 0
        self._writes_held = 0
        # Set while a server's refresh schedule runs (``create_app``): the schedule rebuilds
        # for age, beside the serving state, and requests rebuild only after this process's
        # own writes other than events.
        self.scheduled = False
        # The process is a server's and its heap is the engine's to manage: each new state
        # is set aside from garbage collection as it takes over (``launchpoint.heap``).
        self.owns_heap = False
        self._building = threading.Lock()  # one build beside the serving state at a time
        self._replay: list[_Taken] | None = None
        self._next_beside = 0.0  # monotonic time before which no build beside is started
        self._retry_beside = False  # the last build beside could not take a write in
        self.pace = pace  # the requests being served, which a build gives way to

    # -- the state that serves -------------------------------------------------------------
    def state(self, *, now: float | None = None) -> WorkspaceState:
        """The serving state, rebuilt when data changed or it grew older than the refresh
        interval; ``now`` pins the clock (tests, historical data). While a server's refresh
        schedule runs, neither age nor other processes' writes make a request wait: the
        schedule rebuilds for age and other processes' writes start a build beside."""
        current = self._state
        recently_checked = time.monotonic() - self._checked_at < self.settings.version_check_seconds
        if (
            current is not None
            and not self._stale
            and recently_checked
            and self._fresh(current, now)
        ):
            return current
        usable = None
        if current is not None and not self._stale and self._fresh(current, now):
            usable = current
        if usable is not None and not self._lock.acquire(blocking=False):
            # A write is being taken in (items: up to tens of ms at 100k items): serve, and
            # look at the version next time.
            return usable
        if usable is None:
            self._lock.acquire()
        try:
            stale, self._stale = self._stale, False
            version = self.store.data_version()
            self._checked_at = time.monotonic()
            current = self._state
            if current is not None and self._fresh(current, now):
                if current.version == version:
                    return current
                if self.scheduled and not stale:  # another process wrote
                    self._start_build_beside()
                    return current
            with full_collections_held():
                built = self._read_and_build(now)
                self._take_over(built)
                if self.owns_heap:
                    set_aside()
            self._pinned = now is not None
            self._record_qualification(built.state)
        finally:
            self._lock.release()
        self._serve_only(built.state)
        return built.state

    def _fresh(self, state: WorkspaceState, now: float | None) -> bool:
        if now is not None:
            return state.now == now
        if self._pinned:
            return False
        return self.scheduled or self._clock() - state.now < self.settings.refresh_seconds

    def _read_and_build(self, now: float | None, pace: Callable[[], None] = no_pace) -> _Built:
        with self.store.db.snapshot():
            version = self.store.data_version()
            specs = [spec for spec, _ in self.store.list_segments()]
            surfaces = self.store.list_surfaces()
            profiles = self.people.profiles()
            state = build_state(
                version,
                _without_location(self.store.iter_users(), profiles),
                self.store.iter_items(),
                self.store.iter_event_tuples(),
                specs,
                now=self._clock() if now is None else now,
                signals=self.signals(),
                profiles=profiles,
                pace=pace,
            )
            experiments = ExperimentService(
                ExperimentStore(self.store.db, self.store.workspace_id)
            ).serving()
        return _Built(state, surfaces, experiments)

    def _take_over(self, built: _Built) -> None:
        """Make ``built`` the serving state (the lock held)."""
        self._surfaces = built.surfaces
        self._experiments = built.experiments
        self._state = built.state
        self._builds += 1

    def _record_qualification(self, state: WorkspaceState) -> None:
        rows = [
            (s.spec.id, s.qualification.members, s.qualification.items, s.qualification.qualifies)
            for s in state.segments
        ]
        self.store.record_qualification(rows, at=state.now, every=HISTORY_EVERY_SECONDS)

    def _mark_stale(self) -> None:
        self._stale = True

    def _rebuild_for_write(self) -> None:
        """After a write of this process's that the serving state cannot take in: on a
        server's schedule, build beside the state serving and return once the new one
        serves (waiting for a build already running first, as it may not hold the write);
        else mark the state stale, for the next request to rebuild."""
        beside = self.scheduled and self._state is not None and not self._pinned
        if beside:
            with self._lock:
                self._writes += 1
                mine = self._writes
            try:
                with self.pace.waiting():  # the writer's request waits: the build need not
                    beside = self.build_beside(holding=mine)
            except Exception:  # the write is stored; the state is rebuilt on the next request
                log.exception("building the serving state of %r failed", self.store.workspace_id)
                beside = False
        if not beside:  # not built, overtaken, or made stale meanwhile
            self._stale = True

    # -- events and users in ----------------------------------------------------------------
    def _take_in(self, result: EventInsert) -> None:
        """Take stored events into the serving state: their users' interests, aggregates
        and memberships; a user the state does not know (the user's first events) is read
        from storage and taken in first. A batch too big to take in, or one after another
        process's write, makes the state stale (the next request builds it); while a
        schedule runs, it starts a build beside instead, and this process's events are still
        taken in meanwhile."""
        if result.version is None:
            return
        rows = result.rows
        state = self._state
        users: Records = []
        profiles: Profiles = {}
        if state is not None and rows is not None and len(rows) <= TAKE_IN_ROWS:
            known = state.user_index
            users, profiles = self._records_of({row[0] for row in rows if row[0] not in known})
        self._take_in_write(_Taken(result.version, rows or (), users, profiles), rows is None)

    def _users_written(self, user_ids: Sequence[str], version: int | None) -> None:
        """Take users this process created or changed into the serving state (``version``:
        the write's data version, None when nothing was written)."""
        if version is None:
            return
        if len(user_ids) > TAKE_IN_ROWS:
            self._rebuild_for_write()  # a bulk load
            return
        users, profiles = self._records_of(set(user_ids))
        self._take_in_write(_Taken(version, (), users, profiles), False)

    def _items_written(self, item_ids: Sequence[str], version: int | None) -> None:
        """Take items this process created or changed into the serving state: a new state
        takes over, made ready for requests (the guardrails' tools, the model aligned with
        it) before this returns, so no request pays for that."""
        if version is None:
            return
        if len(item_ids) > TAKE_IN_ROWS:
            self._rebuild_for_write()  # a catalogue load
            return
        records = self.store.items_of(set(item_ids))
        # A state's worth of small objects is made (the guardrails' catalogue): with full
        # collections held, as for a build (on ml-latest-small, 20 ms against 160-180 ms).
        with full_collections_held():
            self._take_in_write(_Taken(version, items=records), False)
        serving = self._state
        if serving is not None:
            self._serve_only(serving)

    def _records_of(self, user_ids: set[str]) -> tuple[Records, Profiles]:
        """The users' stored records and profile edits, as a build reads them."""
        if not user_ids:
            return [], {}
        profiles = self.people.profiles_of(sorted(user_ids))
        return list(_without_location(iter(self.store.users_of(user_ids)), profiles)), profiles

    def _take_in_write(self, taken: _Taken, too_big: bool) -> None:
        """Take a write into the serving state; one it cannot take in (e.g. items bringing
        a category the state does not know) rebuilds it, once the lock is let go."""
        if self._taken_in(taken, too_big):
            self._rebuild_for_write()

    def _taken_in(self, taken: _Taken, too_big: bool) -> bool:
        """``_take_in_write`` under the lock: True when the state is to be rebuilt."""
        with self._lock:
            state = self._state
            if state is None or self._stale or self._pinned:
                self._stale = True
                return False
            if taken.version <= state.version:  # the state was built after this write
                return False
            follows = state.version == taken.version - 1  # no other write since
            if too_big or len(taken.events) > TAKE_IN_ROWS or not (follows or self.scheduled):
                if self.scheduled:
                    self._start_build_beside()
                else:
                    self._stale = True
                return False
            taken_in = _take(state, taken, self._clock())
            if taken_in is None:
                return True
            if taken_in is not state:  # items: ready it before it serves
                written = [taken_in.item_index[r["id"]] for r in taken.items]
                self._prepare_items(state, taken_in, written)
            self._state = taken_in
            if self._replay is not None:
                self._replay.append(taken)
            if follows:
                taken_in.version = taken.version
            else:
                self._start_build_beside()
            return False

    def _surfaces_written(self) -> None:
        """Surfaces are loaded with the state but do not depend on its data: one this
        process wrote is loaded in place, when the write is the only one since the state's
        version (read after the write: one more than the state's is this write's)."""
        surfaces = self.store.list_surfaces()
        version = self.store.data_version()
        with self._lock:
            state = self._state
            fits = state is not None and not self._stale and not self._pinned
            if state is not None and fits and version == state.version + 1:
                self._surfaces = surfaces
                state.version = version
                if self._replay is not None:
                    self._replay.append(_Taken(version, surfaces=surfaces))
                return
        self._rebuild_for_write()

    # -- building beside ---------------------------------------------------------------------
    def _start_build_beside(self) -> None:
        """Start a build beside the serving state in a thread of its own, unless one runs
        or the last ended too recently: builds that other processes' writes call for are
        spaced by their own duration, so they take at most half of a thread's time."""
        if self._building.locked() or time.monotonic() < self._next_beside:
            return
        threading.Thread(
            target=self._build_beside_logged, name="launchpoint-build", daemon=True
        ).start()

    def _build_beside_logged(self) -> None:
        try:
            self.build_beside(wait=False)
        except Exception:  # the serving state stays; the next check or schedule tries again
            log.exception("building the serving state of %r failed", self.store.workspace_id)

    def build_beside(self, *, wait: bool = True, holding: int = 0) -> bool:
        """Build the serving state from storage while the current one goes on serving, and
        swap it in when ready. True when the new state took over; False when another build
        was running (and ``wait`` is false), no state serves yet (the first request builds
        it), or a write made the new one stale before it was ready. ``holding``: the count
        of a write rebuilt for (``_rebuild_for_write``); when a build that started after it
        has taken over meanwhile, nothing is built again (True)."""
        if not self._building.acquire(blocking=wait):
            return False
        try:
            if holding and self._writes_held >= holding:
                return True
            with self._lock:
                if self._state is None or self._pinned:
                    return False
                self._replay = []
                builds = self._builds
                held = self._writes  # committed before the build's snapshot
            started = time.monotonic()
            took_over = False
            try:
                with building_beside():  # no full collection, quick thread switches
                    built = self._read_and_build(None, self.pace.tick)  # requests first
                    self._prepare(built.state, built.surfaces)
                    took_over = self._swap_in(builds, built)
                    if took_over:
                        self._writes_held = max(self._writes_held, held)
                    serving = self._state
                    if took_over and serving is not None and serving is not built.state:
                        # Items written meanwhile made a new state of it: ready it here, not
                        # on the first request.
                        self._prepare(serving, self._surfaces)
                    if took_over and self.owns_heap:
                        set_aside()
            finally:
                with self._lock:
                    self._replay = None
                elapsed = time.monotonic() - started
                self._next_beside = time.monotonic() + max(
                    elapsed, self.settings.version_check_seconds
                )
                if self._retry_beside:  # a write it could not take in: the next check builds
                    self._retry_beside, self._next_beside = False, 0.0
                serving = self._state
                if serving is not None:
                    self._serve_only(serving)  # what was made for a state not kept is freed
            if not took_over:
                return False
            self._record_qualification(built.state)
            log.info(
                "serving state of %r rebuilt beside in %.2f s", self.store.workspace_id, elapsed
            )
            return True
        finally:
            self._building.release()

    def _swap_in(self, builds: int, built: _Built) -> bool:
        """Make ``built`` the serving state unless a write or another build overtook it
        (``builds``: how many had taken over when it started), with the writes taken in
        while it was built. One hold of the lock from taking the writes to the swap: one
        taken into the serving state in between would be missing from the new one."""
        with self._lock:
            replay, self._replay = self._replay or [], None
            if self._builds != builds or self._stale or self._pinned:
                return False
            snapshot = built.state.version
            replayed = self._replay_into(built.state, replay)
            if replayed is None:  # it would lack a write the state serving has: again, soon
                self._retry_beside = True
                return False
            built = replace(built, state=replayed)
            for taken in replay:  # surfaces written after the snapshot, the last one kept
                if taken.surfaces is not None and taken.version > snapshot:
                    built = replace(built, surfaces=taken.surfaces)
            self._take_over(built)
            return True

    def _replay_into(self, state: WorkspaceState, replay: list[_Taken]) -> WorkspaceState | None:
        """Take into ``state`` the writes taken into the serving state while it was built,
        those after its snapshot only; the state that holds them (a new one after items),
        or None when one could not be taken in (the build is then not to serve). Its
        version moves on with an unbroken run of them; a gap (another process's write)
        leaves it behind, so the next check builds again."""
        now = self._clock()
        snapshot = state.version
        for taken in replay:
            if taken.version <= snapshot:  # committed before the snapshot: read by the build
                continue
            taken_in = _take(state, taken, now)
            if taken_in is None:
                return None
            state = taken_in
            if taken.version == state.version + 1:
                state.version = taken.version
        return state


def _take(state: WorkspaceState, taken: _Taken, now: float) -> WorkspaceState | None:
    """Take a write into ``state``: its users, then its events, in place; its items, into a
    new state. The state that holds the write, or None when it cannot be taken in (an event
    names a user that is neither in the state nor stored; items, see ``take_items``): a
    rebuild is needed."""
    if taken.items:
        return take_items(state, taken.items, now)
    if taken.users:
        take_users(state, taken.users, taken.profiles or {}, now)
    if taken.events and not take_events(state, taken.events, now):
        return None
    return state


def _without_location(
    users: Iterator[dict[str, Any]], profiles: Mapping[str, Mapping[str, Any]]
) -> Iterator[dict[str, Any]]:
    """User records as rules may see them: no location for users who opted out of it."""
    for user in users:
        edits = profiles.get(user["id"])
        if edits is not None and "location" in (edits.get("opt_outs") or ()):
            attributes = user["attributes"]
            user["attributes"] = {k: v for k, v in attributes.items() if k not in LOCATION_FIELDS}
        yield user
