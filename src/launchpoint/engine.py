"""Wires storage, segments and ranking together. ``Launchpoint`` is one process's handle on a
database; ``WorkspaceEngine`` does the work for one workspace. No HTTP here."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.domain.ribbons import RibbonPage
from launchpoint.domain.segments import SurfaceSpec
from launchpoint.engine_segments import SegmentOperations
from launchpoint.engine_state import StateOperations
from launchpoint.errors import InvalidInput, NotFound
from launchpoint.experiments.service import ExperimentService
from launchpoint.pacing import RequestsFirst
from launchpoint.profiles.control import UserControl
from launchpoint.profiles.interests import SignalConfig
from launchpoint.profiles.onboarding import Onboarding
from launchpoint.ranking.exposure import ExposureLog, RecentExposures, exposure_row
from launchpoint.ranking.guardrails import GuardedRibbon, GuardrailChain
from launchpoint.ranking.pipeline import (
    RibbonRequest,
    ServingTools,
    home_page,
    user_signals,
)
from launchpoint.ranking.relevance import Relevance
from launchpoint.ranking.retrieval import RetrievalConfig
from launchpoint.ranking.state import WorkspaceState
from launchpoint.ranking.surfaces import RankedItem, rank_items, related_page
from launchpoint.ranking.trace import PageTrace
from launchpoint.recommenders.registry import ModelRegistry
from launchpoint.settings import Settings
from launchpoint.storage import Database, WorkspaceStore
from launchpoint.storage.experiments import ExperimentStore
from launchpoint.storage.people import PeopleStore

_WORKSPACE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
DEFAULT_SURFACE = SurfaceSpec()
# Surface settings an experiment variant may override here; the rest (algorithm, blend
# weights, guardrails) reach the pipeline's stages.
SURFACE_OVERRIDES = frozenset({"layers", "cards", "fallback"})


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int = 0
    suppressed: int = 0  # events of deleted users, dropped

    def as_dict(self) -> dict[str, int]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "suppressed": self.suppressed,
        }


class WorkspaceEngine(StateOperations, SegmentOperations):
    def __init__(
        self,
        store: WorkspaceStore,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        pace: RequestsFirst | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.people = PeopleStore(store.db, store.workspace_id, store)
        self._clock = clock  # what "now" is: injected by tests that move time on
        self.exposures = ExposureLog(self.people.log_exposures)
        self.recent = RecentExposures()  # what rotation reads: shown, not engaged with
        self.models = ModelRegistry.for_workspace(
            settings.data_dir, store.workspace_id, check_interval=settings.version_check_seconds
        )
        self._tools: ServingTools | None = None
        self._prepared: ServingTools | None = None  # made by a build beside, for its state
        self.control = UserControl(
            store,
            self.people,
            self.state,
            self._rebuild_for_write,
            self._users_written,
            clock,
            self.exposures.flush,
            self.recent.forget,
        )
        self._init_state(pace or RequestsFirst())

    # -- data in -------------------------------------------------------------------------
    # Each write marks the state stale, or is taken into it, after it commits: marked before,
    # a request in between could rebuild from the old data and take it for fresh.
    def add_items(self, records: Sequence[ItemIn]) -> IngestResult:
        """Store items; once committed, take them into the serving state (a few at a time;
        a bigger load, or one the state cannot take in, rebuilds it)."""
        stored, version = self.store.upsert_items(records)
        self._items_written(list(dict.fromkeys(r.id for r in records)), version)
        return IngestResult(len(records), stored)

    def add_users(self, records: Sequence[UserIn]) -> IngestResult:
        """Store users; once committed, take them into the serving state (a few at a time;
        a bigger load rebuilds it)."""
        ids = list(dict.fromkeys(r.id for r in records))
        stored, version = self.store.upsert_users(records)
        self._users_written(ids, version)
        return IngestResult(len(records), stored, suppressed=len(ids) - stored)

    def add_events(self, records: Sequence[EventIn]) -> IngestResult:
        """Store events; once committed, take them into the serving state at once (their
        users' interests, aggregates and memberships), so the next request sees them."""
        result = self.store.insert_events(records)
        self._take_in(result)
        for record in records:  # engaging with an item ends its rotation count
            if record.item_id is not None and record.type not in ("view", "dwell"):
                self.recent.engaged(record.user_id, record.item_id)
        return IngestResult(len(records), result.inserted, result.duplicates, result.suppressed)

    def stats(self) -> dict[str, Any]:
        return {"workspace": self.workspace_id, **self.store.stats()}

    def item(self, item_id: str) -> dict[str, Any]:
        row = self.store.get_item(item_id)
        if row is None:
            raise NotFound(f"item {item_id!r} does not exist in workspace {self.workspace_id!r}")
        return row

    def user(self, user_id: str) -> dict[str, Any]:
        row = self.store.get_user(user_id)
        if row is None:
            raise NotFound(f"user {user_id!r} does not exist in workspace {self.workspace_id!r}")
        return row

    # -- workspace documents -------------------------------------------------------------
    def signals(self) -> SignalConfig:
        stored = self.people.setting("signals") or {}
        return SignalConfig(
            weights={**SignalConfig().weights, **stored.get("weights", {})},
            half_life_days=float(stored.get("half_life_days", SignalConfig().half_life_days)),
        )

    def put_signals(self, weights: Mapping[str, float], half_life_days: float) -> SignalConfig:
        self.people.save_setting(
            "signals", {"weights": dict(weights), "half_life_days": half_life_days}
        )
        self._rebuild_for_write()
        return self.signals()

    def onboarding(self) -> Onboarding:
        return Onboarding.model_validate(self.people.setting("onboarding") or {})

    def put_onboarding(self, onboarding: Onboarding) -> Onboarding:
        self.people.save_setting("onboarding", onboarding.model_dump())
        return onboarding

    def answer_onboarding(self, user_id: str, answers: dict[str, Any]) -> dict[str, Any]:
        return self.control.answer_onboarding(user_id, self.onboarding(), answers)

    # -- surfaces and ribbons ------------------------------------------------------------
    def surfaces(self) -> dict[str, SurfaceSpec]:
        self.state()
        return dict(self._surfaces)

    def put_surface(self, surface_id: str, spec: SurfaceSpec) -> None:
        self.store.save_surfaces({surface_id: spec})
        self._surfaces_written()

    def surface(self, surface_id: str) -> SurfaceSpec:
        self.state()  # loads the surfaces with the rest of the state, at most once per version
        surfaces = self._surfaces
        if surface_id in surfaces:
            return surfaces[surface_id]
        if surface_id == "home":
            return DEFAULT_SURFACE
        known = ", ".join(sorted({"home", *surfaces}))
        raise NotFound(f"surface {surface_id!r} is not configured; known surfaces: {known}")

    def ribbons(self, request: RibbonRequest, *, now: float | None = None) -> RibbonPage:
        return self.ribbons_explained(request, now=now)[0]

    def ribbons_explained(
        self, request: RibbonRequest, *, now: float | None = None
    ) -> tuple[RibbonPage, list[GuardedRibbon], dict[str, Any]]:
        """The page, the guardrails' view of each ribbon (notes; a trace with
        ``request.explain``), and how it was served (algorithm, experiment, variant)."""
        surface = self.surface(request.surface)
        state, tools, relevance = self._serving(now)
        clock = state.now if self._pinned else self._clock()
        personal = True
        if request.surface.startswith("email"):
            opted = self.people.profiles_of([request.user_id]).get(request.user_id, {})
            personal = "email" not in (opted.get("opt_outs") or ())
        resolution = self._experiments.resolve(request.user_id, request.surface)
        if resolution.kind == "experiment":
            known = {k: v for k, v in resolution.overrides.items() if k in SURFACE_OVERRIDES}
            surface = SurfaceSpec.model_validate({**surface.model_dump(), **known})
        rotation = surface.guardrails.no_repeats
        ignored = self.recent.ignored(
            request.user_id, state.item_index, clock, rotation.rotation_window_seconds
        )
        user = user_signals(
            state,
            request.user_id,
            clock,
            personal=personal and resolution.personalised,
            ignored=ignored,
        )
        page, guarded = home_page(state, tools, relevance, request, surface, user)
        shown = [card.item_id for ribbon in page.ribbons for card in ribbon.cards]
        self.recent.shown(request.user_id, shown, clock)
        self.exposures.record(
            exposure_row(page, resolution.experiment_id, resolution.exposure_variant)
        )
        served = {
            "algorithm": relevance.algorithm if user.personal else "non_personalised",
            # The version of the model that scored, not a read of the ACTIVE file per request.
            "model_version": (
                relevance.model.model.version if relevance.model and user.personal else None
            ),
            "experiment_id": resolution.experiment_id,
            "variant": resolution.exposure_variant,
        }
        return page, guarded, served

    def warm(self) -> None:
        """Build what serving reads (the state, the guardrails' tools, the active model for
        that state), as the first request would, then score one user over every item and
        compose their home page (logging no exposure): a model and the state make some
        request-time structures on first use (item-kNN's row-major similarity, a factor
        model's float32 item vectors, the events by user behind "Because you rated..."),
        which the first page would pay for (on the demo, 4.5 ms against 1.7 ms after a warm
        start) and, with one request at a time, every request queued behind it."""
        state, tools, relevance = self._serving(None)
        self._warm(state, tools, relevance, self.surface("home"))

    def _prepare(self, state: WorkspaceState, surfaces: Mapping[str, SurfaceSpec]) -> None:
        """What ``warm`` does, for a state built beside the serving one, before it serves."""
        prepared = self._prepared
        if prepared is None or prepared.state is not state:
            prepared = ServingTools.for_state(state)
        tools = self._prepared = prepared
        self.pace.tick()  # it is built beside the state serving: requests first
        model = self.models.active()
        relevance = Relevance(state, model.for_state(state) if model else None, self._retrieval())
        self.pace.tick()
        self._warm(state, tools, relevance, surfaces.get("home", DEFAULT_SURFACE))

    def _prepare_items(
        self, before: WorkspaceState, state: WorkspaceState, written: Sequence[int]
    ) -> None:
        """``_prepare`` for ``state``, made from ``before`` by taking the ``written`` items
        in: the guardrails' catalogue is ``before``'s with those items' entries made again."""
        for tools in (self._tools, self._prepared):
            if tools is not None and tools.state is before:
                self._prepared = tools.with_items(state, written)
                break
        self._prepare(state, self._surfaces)

    def _serve_only(self, state: WorkspaceState) -> None:
        prepared = self._prepared
        if prepared is not None and prepared.state is not state:
            self._prepared = None
        tools = self._tools
        if tools is not None and tools.state is not state:
            self._tools = prepared if prepared is not None and prepared.state is state else None
        model = self.models.active()
        if model is not None:
            model.keep_aligned(state)

    def _warm(
        self,
        state: WorkspaceState,
        tools: ServingTools,
        relevance: Relevance,
        surface: SurfaceSpec,
    ) -> None:
        if not state.user_ids:
            return
        # Made on first use, which would be a request's, with every request queued behind it:
        # at 1M users and 15M events, 1 s for the events by user, a few hundred ms for the
        # item norms that related items read.
        for made in (
            "events_by_user",
            "item_norms",
            "category_interest",
            "item_categories_by_column",
        ):
            getattr(state, made)
            self.pace.tick()  # built beside the state serving: requests first
        busiest = int(np.argmax(np.diff(state.interactions.indptr)))  # a user with history
        if relevance.model is not None:
            relevance.model.score_all(busiest)
        user_id = state.user_ids[busiest]
        user = user_signals(state, user_id, self._clock(), personal=True)
        home_page(state, tools, relevance, RibbonRequest(user_id), surface, user)

    def _serving(self, now: float | None) -> tuple[WorkspaceState, ServingTools, Relevance]:
        state = self.state(now=now)
        tools = self._tools
        if tools is None or tools.state is not state:
            prepared = self._prepared
            if prepared is None or prepared.state is not state:
                prepared = ServingTools.for_state(state)
            tools = self._tools = prepared
        model = self.models.active()
        relevance = Relevance(state, model.for_state(state) if model else None, self._retrieval())
        return state, tools, relevance

    def _retrieval(self) -> RetrievalConfig:
        return RetrievalConfig(self.settings.shortlist, self.settings.ann_min_items)

    def related(
        self,
        item_id: str,
        user_id: str | None,
        surface_id: str = "item_page",
        cards: int | None = None,
        explain: bool = False,
    ) -> tuple[RibbonPage, list[GuardedRibbon], dict[str, Any]]:
        """Items related to ``item_id``, for ``user_id`` when given."""
        surface = self.surface_or_default(surface_id)
        state, tools, relevance = self._serving(None)
        user = None
        if user_id is not None:
            user = user_signals(state, user_id, self._clock(), personal=True)
        page, guarded = related_page(
            state,
            tools,
            relevance,
            item_id,
            user,
            surface_id,
            surface,
            cards or surface.cards,
            explain,
        )
        if user_id is not None:
            self.exposures.record(exposure_row(page))
        return (
            page,
            guarded,
            {"algorithm": relevance.algorithm if relevance.model else "co_occurrence"},
        )

    def rank(
        self, user_id: str, item_ids: list[str], surface_id: str = "search"
    ) -> tuple[str, list[RankedItem], list[dict[str, str]]]:
        """The caller's items ordered for the user: (recommendation id, ranked, removed)."""
        state, _, relevance = self._serving(None)
        resolution = self._experiments.resolve(user_id, surface_id)
        user = user_signals(state, user_id, self._clock(), personal=resolution.personalised)
        ranked, removed = rank_items(state, relevance, user, item_ids)
        recommendation_id = uuid.uuid4().hex
        self.exposures.record(
            {
                "recommendation_id": recommendation_id,
                "user_id": user_id,
                "surface": surface_id,
                "items": [
                    {"item_id": r.item_id, "position": r.position, "ribbon": "rank"} for r in ranked
                ],
                "experiment_id": resolution.experiment_id,
                "variant": resolution.exposure_variant,
                "created_at": time.time(),
            }
        )
        return recommendation_id, ranked, removed

    def surface_or_default(self, surface_id: str) -> SurfaceSpec:
        """A configured surface, or the defaults for the built-in item page and search."""
        try:
            return self.surface(surface_id)
        except NotFound:
            if surface_id in ("item_page", "search"):
                return DEFAULT_SURFACE
            raise

    def check_experiments(self) -> list[str]:
        """Check the guardrails of every running experiment; the ids of those it stopped."""
        self.exposures.flush()  # the analysis reads the exposures served so far
        service = ExperimentService(ExperimentStore(self.store.db, self.workspace_id))
        stopped = []
        for experiment in service.all("running"):
            if service.check(experiment.spec.id).experiment.status == "stopped":
                stopped.append(experiment.spec.id)
        return stopped

    def page_trace(
        self,
        user_id: str,
        surface_id: str,
        guarded: Sequence[GuardedRibbon],
        candidates: Literal["all", "touched", "shown"] = "all",
    ) -> dict[str, Any]:
        """The trace of a page served with ``explain``, JSON-ready, with item ids."""
        state = self._tools.state if self._tools is not None else self.state()
        traces = [r.trace for r in guarded if r.trace is not None]
        return PageTrace(user_id, surface_id, traces).as_dict(state.item_ids, candidates=candidates)

    def guardrail_chain(self, surface_id: str) -> GuardrailChain:
        _, tools, _ = self._serving(None)
        return tools.chain(surface_id, self.surface(surface_id))


class Launchpoint:
    """One process's handle on a database, handing out one engine per workspace."""

    def __init__(
        self,
        settings: Settings,
        *,
        migrate: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.db = Database(settings.resolved_database_url)
        if migrate:
            self.db.migrate()
        self._engines: dict[str, WorkspaceEngine] = {}
        self._seen_builds: dict[str, float] = {}  # workspace -> its state's built_at
        self.pace = RequestsFirst()  # the requests this process is serving, every workspace's
        self._scheduled = False
        self._owns_heap = False
        self._lock = threading.Lock()

    def workspace(self, workspace_id: str | None = None) -> WorkspaceEngine:
        wid = workspace_id or self.settings.workspace
        if not _WORKSPACE_ID.match(wid):
            raise InvalidInput(
                f"workspace id {wid!r} is not valid: use 1-128 letters, digits, '_', '-' or '.'"
            )
        engine = self._engines.get(wid)
        if engine is None:
            with self._lock:
                engine = self._engines.get(wid)
                if engine is None:
                    store = WorkspaceStore(self.db, wid)
                    store.ensure()
                    engine = WorkspaceEngine(store, self.settings, self._clock, self.pace)
                    engine.scheduled = self._scheduled
                    engine.owns_heap = self._owns_heap
                    self._engines[wid] = engine
        return engine

    def made_workspace(self, workspace_id: str | None = None) -> WorkspaceEngine | None:
        """The workspace's engine if this process has made it already, else None (then
        ``workspace`` makes it, checking the id)."""
        return self._engines.get(workspace_id or self.settings.workspace)

    def schedule(self, scheduled: bool, *, owns_heap: bool = False) -> None:
        """Say whether ``refresh`` runs on a schedule (a server's, every refresh_seconds):
        then serving states are rebuilt for age by the schedule, beside the state that
        serves, and requests wait for no build but the one their own process's writes need.
        ``owns_heap``: the process is the server's, so each new state is set aside from
        garbage collection as it takes over (``launchpoint.heap``)."""
        with self._lock:
            self._scheduled = scheduled
            self._owns_heap = owns_heap
            for engine in self._engines.values():
                engine.scheduled = scheduled
                engine.owns_heap = owns_heap

    def refresh(self) -> bool:
        """Bring every workspace this process serves up to date: what a server runs every
        refresh_seconds, so qualification is re-evaluated (and its history kept) even when no
        request comes, and running experiments' guardrails are checked (a breached stopping
        guardrail stops its experiment). On a schedule, each state is rebuilt beside the one
        serving. True when a serving state was built since the last refresh or warm start,
        by this refresh or by a request after a write."""
        for engine in list(self._engines.values()):
            if not engine.scheduled or not engine.build_beside():
                engine.state()
            engine.check_experiments()
        return self._new_builds()

    def warm(self) -> None:
        """Ready the default workspace for serving (``WorkspaceEngine.warm``): what a server
        does before it takes requests, with ``warm_start``."""
        self.workspace().warm()
        self._new_builds()

    def _new_builds(self) -> bool:
        builds = {
            wid: engine._state.built_at
            for wid, engine in list(self._engines.items())
            if engine._state is not None
        }
        changed = builds != self._seen_builds
        self._seen_builds = builds
        return changed

    def close(self) -> None:
        for engine in list(self._engines.values()):
            engine.exposures.close()
        self.db.dispose()
