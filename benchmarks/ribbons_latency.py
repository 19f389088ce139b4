"""Latency of a home page of 3 ribbons x 10 cards with every guardrail on, in-process and
over HTTP on loopback, next to floors that do only the ranking.

Datasets: the demo population (its own segments.yaml) and ml-latest-small with genre segments
(ml_genre_segments.yaml beside this file); serving_scale.py runs the same measurements on a
generated 100k items / 1M users. Each dataset's home surface is set with every guardrail on
(``guarded_surface``): diversity (a category floor and a per-category cap), exploration 20%,
a recency floor (10% of cards newer than 30 days), editorial (hidden items, two pins and a
curated share per ribbon), no repeats across ribbons and rotation. The state is built by the
first request of a fresh engine (its time and memory are printed), then N requests for random
users are timed, first with the first score (no trained model), then with a model trained on
the workspace (the hybrid by default, what `launchpoint train` fits), each request with:

- Launchpoint: WorkspaceEngine.ribbons_explained, the real path of GET /v1/users/{id}/ribbons
  (data-version check, experiment resolution, rotation, exposure log on its writer thread);
- pipeline only: user_signals + home_page with the engine's tools in hand (scoring,
  guardrails, explanations; no exposure, no state check);
- floor, numpy top-k: the same ribbons' candidate items (built beforehand), scored by a
  precomputed vector, argpartition + sort of the top k: what ranking itself costs;
- floor, implicit ALS (when the `implicit` package is installed): recommend() for the same
  user over the same segment's items, one call per ribbon: the floor a ranking step costs.

They run request by request in turn, so a noisy machine slows them alike: read the ratios.
Over HTTP, uvicorn serves launchpoint.api.create_app in a subprocess on 127.0.0.1 (once with
no model, once with the trained one); httpx clients send requests at a fixed rate (open loop:
latency counts from when a request was due), then as fast as a fixed number of concurrent
clients can (closed loop: maximum throughput). An HTTP floor, the same FastAPI + uvicorn stack
answering a prebuilt page of the same shape through the same response model, shows what the
HTTP stack costs without the engine.

Run:  .venv/bin/python benchmarks/ribbons_latency.py --help
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import urllib.parse
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from _common import (
    MOVIELENS_SMALL,
    BenchDatabase,
    add_database_arguments,
    add_profile_argument,
    bench_database,
    emit_json,
    free_port,
    machine_line,
    peak_rss_mb,
    percentiles_ms,
    print_profile,
    print_table,
    process_rss_mb,
    reset_peak_rss,
    rss_mb,
    run_load,
    server,
)

from launchpoint.domain.ribbons import RibbonPage
from launchpoint.domain.segments import SurfaceSpec, WorkspaceConfig
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.ranking.guardrails import (
    DiversityConfig,
    EditorialConfig,
    EditorialPin,
    ExplorationConfig,
    GuardrailsConfig,
    NoRepeatsConfig,
    RecencyConfig,
    RibbonEditorial,
)
from launchpoint.ranking.pipeline import RibbonRequest, ServingTools, home_page, user_signals
from launchpoint.ranking.relevance import Relevance
from launchpoint.ranking.retrieval import RetrievalConfig
from launchpoint.ranking.state import WorkspaceState
from launchpoint.settings import Settings

__all__ = ["free_port", "server"]  # ingest_http.py takes these from here

HERE = Path(__file__).resolve().parent
ML_SEGMENTS = HERE / "ml_genre_segments.yaml"
# Long enough that no rebuild falls inside a run (a rebuild is timed on its own, as the
# first request); production's default is 300 s.
REFRESH_SECONDS = 86_400.0
LOAD_BATCH = 5000
# Under the run's folder: the data_dir whose model registry holds the trained models. The
# run's folder itself never holds one, so a server pointed at it serves the first score.
TRAINED_DIR = "trained"
# Where editors' picks come from in a segment's popularity ranking: below the top, so pins
# and curated slots change what the model alone would show.
PIN_RANKS = (40, 41)
CURATED_RANKS = range(60, 80)
HIDDEN_TOP = 5  # the most popular items overall, hidden on the surface


@dataclass
class Dataset:
    name: str
    workspace: str
    description: str
    load_seconds: float
    apply_seconds: float
    report: list[Any] = field(default_factory=list)
    surface: SurfaceSpec | None = None


# -- loading -------------------------------------------------------------------------------
def _batches(records: Any, size: int) -> Iterator[list[Any]]:
    it = iter(records)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _apply(ws: WorkspaceEngine, path: Path) -> tuple[float, list[Any]]:
    config = WorkspaceConfig.model_validate(yaml.safe_load(path.read_text()))
    start = time.perf_counter()
    result = ws.apply(config, actor="benchmark")
    return time.perf_counter() - start, result.report


def load_demo(db: BenchDatabase, args: argparse.Namespace) -> Dataset | None:
    try:
        from importlib import resources

        from launchpoint.demo import generate_demo
    except ImportError:
        print("\ndemo dataset skipped: launchpoint.demo is not there yet")
        return None
    workspace = db.new_workspace("demo")
    lp = Launchpoint(db.settings())
    try:
        ws = lp.workspace(workspace)
        data = generate_demo(n_users=args.demo_users, n_items=args.demo_items,
                             n_events=args.demo_events, seed=args.seed)  # fmt: skip
        start = time.perf_counter()
        for records, add in ((data.items(), ws.add_items), (data.users(), ws.add_users),
                             (data.events(), ws.add_events)):  # fmt: skip
            for batch in _batches(records, LOAD_BATCH):
                add(batch)
        load = time.perf_counter() - start
        segments = resources.files("launchpoint.demo").joinpath("segments.yaml")
        with resources.as_file(segments) as path:
            apply_seconds, report = _apply(ws, Path(path))
        surface = configure_home(ws, args)
    finally:
        lp.close()
    description = (f"demo ({args.demo_users:,} users, {args.demo_items:,} items, "
                   f"{args.demo_events:,} events; demo/segments.yaml)")  # fmt: skip
    return Dataset("demo", workspace, description, load, apply_seconds, report, surface)


def load_movielens(db: BenchDatabase, args: argparse.Namespace) -> Dataset | None:
    if not (args.movielens / "ratings.csv").is_file():
        print(f"\nml-latest-small skipped: no MovieLens data at {args.movielens} "
              "(DESIGN.md section 10 says where it lives)")  # fmt: skip
        return None
    from launchpoint.importing import open_movielens
    from launchpoint.importing.loader import load_sources

    workspace = db.new_workspace("movielens")
    lp = Launchpoint(db.settings())
    try:
        ws = lp.workspace(workspace)
        start = time.perf_counter()
        load_sources(ws, open_movielens(args.movielens))
        load = time.perf_counter() - start
        apply_seconds, report = _apply(ws, args.segments)
        surface = configure_home(ws, args)
    finally:
        lp.close()
    description = f"ml-latest-small ({args.movielens}; {args.segments.name})"
    return Dataset("ml", workspace, description, load, apply_seconds, report, surface)


# -- the surface: every guardrail on -----------------------------------------------------------
def guarded_surface(
    item_ids: Sequence[str],
    eligible: Mapping[str, np.ndarray],
    popularity: Mapping[str, np.ndarray],
    overall: np.ndarray,
    layers: int,
    cards: int,
) -> SurfaceSpec:
    """The home surface with every guardrail on. ``eligible``: per segment, a boolean mask of
    the items it may show (available ones); ``popularity``: per segment, a score per item;
    ``overall``: every item's popularity. The editors' picks of each segment are items from
    the middle of its popularity ranking, so they move what the model alone would show."""
    hidden_idx = np.argsort(-overall, kind="stable")[:HIDDEN_TOP]
    hidden = {int(i) for i in hidden_idx}
    ribbons = {}
    for segment_id, mask in eligible.items():
        items = np.flatnonzero(mask)
        ranked = [int(i) for i in items[np.argsort(-popularity[segment_id][items], kind="stable")]
                  if int(i) not in hidden]  # fmt: skip
        if len(ranked) <= max(PIN_RANKS):
            continue
        pins = [EditorialPin(item=item_ids[ranked[r]], position=p)
                for r, p in zip(PIN_RANKS, (0, 5), strict=True)]  # fmt: skip
        curated = [item_ids[ranked[r]] for r in CURATED_RANKS if r < len(ranked)]
        ribbons[segment_id] = RibbonEditorial(pins=pins, curated=curated, curated_share=0.2)
    guardrails = GuardrailsConfig(
        diversity=DiversityConfig(min_categories=3, max_per_category=4),
        exploration=ExplorationConfig(share=0.2),
        recency=RecencyConfig(share=0.1, max_age="30d"),
        editorial=EditorialConfig(hidden=[item_ids[i] for i in sorted(hidden)], ribbons=ribbons),
        no_repeats=NoRepeatsConfig(across_ribbons=True, rotate_after=3, rotation_window="7d"),
    )
    return SurfaceSpec(layers=layers, cards=cards, fallback="popular", guardrails=guardrails)


def describe_surface(spec: SurfaceSpec) -> str:
    g = spec.guardrails
    return (
        f"home: {spec.layers} layers x {spec.cards} cards, fallback {spec.fallback}; "
        f"diversity >= {g.diversity.min_categories} categories, <= "
        f"{g.diversity.max_per_category} per category; exploration {g.exploration.share:.0%}; "
        f"recency {g.recency.share:.0%} within {g.recency.max_age}; editorial "
        f"{len(g.editorial.hidden)} hidden, pins and a {0.2:.0%} curated share on "
        f"{len(g.editorial.ribbons)} ribbons; no repeats across ribbons, rotation after "
        f"{g.no_repeats.rotate_after} impressions in {g.no_repeats.rotation_window}"
    )


def configure_home(ws: WorkspaceEngine, args: argparse.Namespace) -> SurfaceSpec:
    """Store the guarded home surface, its picks taken from the workspace's segments."""
    state = ws.state()
    qualifying = [s for s in state.segments if s.qualification.qualifies]
    spec = guarded_surface(
        state.item_ids,
        {s.spec.id: s.eligible & state.available for s in qualifying},
        {s.spec.id: s.popularity for s in qualifying},
        state.popularity,
        max(args.layers),
        args.cards,
    )
    ws.put_surface("home", spec)
    return spec


# -- the trained model ----------------------------------------------------------------------
def trained_dir(db: BenchDatabase) -> Path:
    return db.folder / TRAINED_DIR


def train_active_model(
    state: WorkspaceState, db: BenchDatabase, workspace: str, args: argparse.Namespace
) -> str | None:
    """Train ``args.model_family`` on the state, as `launchpoint train` does, and activate it
    in the trained registry; None (with the reason printed) when it cannot."""
    if args.no_model:
        return None
    try:
        from launchpoint.recommenders.data import training_data_from_state
        from launchpoint.recommenders.model import train_model
        from launchpoint.recommenders.registry import ModelRegistry

        start = time.perf_counter()
        data = training_data_from_state(state)
        model = train_model(data, args.model_family)
        registry = ModelRegistry.for_workspace(trained_dir(db), workspace)
        manifest = registry.save(model, activate=True)
    except Exception as exc:  # training is another engineer's work in progress: say so
        print(f"    training {args.model_family} failed ({type(exc).__name__}: {exc}); "
              "measured with the first score only")  # fmt: skip
        return None
    print(f"    trained {args.model_family} {manifest.version} in "
          f"{time.perf_counter() - start:.1f} s ({data.positive.nnz:,} liked pairs); "
          f"resident memory {rss_mb():.0f} MB")  # fmt: skip
    return str(manifest.version)


# -- floors ---------------------------------------------------------------------------------
def candidate_sets(state: WorkspaceState, page: RibbonPage) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each ribbon of the page: its candidate items (what build_ribbons ranks) and the
    precomputed score vector the numpy floor ranks them by."""
    by_id = {s.spec.id: s for s in state.segments}
    user = state.user_index[page.user_id]
    consumed = state.consumed.indices[state.consumed.indptr[user] : state.consumed.indptr[user + 1]]
    out = []
    for ribbon in page.ribbons:
        if ribbon.segment_id is None:
            pool, scores = np.ones(len(state.item_ids), dtype=bool), state.popularity
        else:
            segment = by_id[ribbon.segment_id]
            pool, scores = segment.eligible.copy(), segment.popularity
        mask = pool & state.available
        mask[consumed] = False
        out.append((np.flatnonzero(mask), scores))
    return out


def numpy_top_k(inputs: list[tuple[np.ndarray, np.ndarray]], k: int) -> list[np.ndarray]:
    out = []
    for candidates, scores in inputs:
        s = scores[candidates]
        if len(s) > k:
            part = np.argpartition(-s, k - 1)[:k]
            out.append(candidates[part[np.argsort(-s[part], kind="stable")]])
        else:
            out.append(candidates[np.argsort(-s, kind="stable")])
    return out


class ImplicitFloor:
    """implicit's ALS, fitted on the same interactions, asked for the same users' ribbons."""

    def __init__(self, state: WorkspaceState, factors: int, iterations: int, seed: int) -> None:
        from implicit.als import AlternatingLeastSquares

        positive = state.interactions.copy().astype(np.float32)
        positive.data = np.clip(positive.data, 0.0, None)
        positive.eliminate_zeros()
        self.user_items = positive.tocsr()
        start = time.perf_counter()
        with _one_blas_thread(), warnings.catch_warnings():
            # implicit warns about BLAS threads when it is built; _one_blas_thread sees to them.
            warnings.simplefilter("ignore")
            self.model = AlternatingLeastSquares(
                factors=factors, iterations=iterations, random_state=seed
            )
            self.model.fit(self.user_items, show_progress=False)
        self.fit_seconds = time.perf_counter() - start
        self.segment_items = {s.spec.id: np.flatnonzero(s.eligible) for s in state.segments}
        self.state = state

    def recommend(self, page: RibbonPage, k: int) -> None:
        user = self.state.user_index[page.user_id]
        row = self.user_items[user]
        for ribbon in page.ribbons:
            items = self.segment_items.get(ribbon.segment_id or "")
            self.model.recommend(user, row, N=k, items=items, filter_already_liked_items=True)


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """implicit asks for single-threaded BLAS; threadpoolctl (its dependency) gives it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, "blas"):
        yield


def make_implicit_floor(state: WorkspaceState, args: argparse.Namespace) -> ImplicitFloor | None:
    if args.no_implicit:
        return None
    try:
        import implicit  # noqa: F401
    except ImportError:
        print("    implicit is not installed: its ALS floor is skipped "
              "(pip install implicit to add it; it is not a project dependency)")  # fmt: skip
        return None
    return ImplicitFloor(state, args.als_factors, args.als_iterations, args.seed)


# -- in-process ------------------------------------------------------------------------------
ANN_FROM = 10_000  # the approximate path's row: from this many candidates in a ribbon
LABELS = {
    "lp": "Launchpoint ribbons_explained",
    "pipeline": "pipeline only (home_page)",
    "every": "pipeline, every candidate ranked (no shortlist)",
    "ann": "pipeline, approximate search from 10k candidates",
    "numpy": "floor: numpy top-k",
    "als": "floor: implicit ALS recommend",
}


def pipeline_page(
    ws: WorkspaceEngine, state: WorkspaceState, tools: ServingTools, relevance: Relevance,
    request: RibbonRequest, surface: SurfaceSpec,
) -> RibbonPage:  # fmt: skip
    """The ranking stages alone: the user's signals (with rotation) and home_page."""
    now = time.time()
    window = surface.guardrails.no_repeats.rotation_window_seconds
    ignored = ws.recent.ignored(request.user_id, state.item_index, now, window)
    user = user_signals(state, request.user_id, now, personal=True, ignored=ignored)
    return home_page(state, tools, relevance, request, surface, user)[0]


def same_cards(page: RibbonPage, reference: RibbonPage) -> float:
    """Share of the reference page's cards that ``page`` shows too (1.0 for two empty pages)."""
    mine = {c.item_id for r in page.ribbons for c in r.cards}
    theirs = {c.item_id for r in reference.ribbons for c in r.cards}
    return len(mine & theirs) / len(theirs) if theirs else float(not mine)


@dataclass
class PassResult:
    best_page: dict[str, Any] | None = None
    algorithms: Counter[str] = field(default_factory=Counter)


def timed_pass(
    ws: WorkspaceEngine, state: WorkspaceState, users: Sequence[str], als: ImplicitFloor | None,
    args: argparse.Namespace, key: str, label: str, figures: dict[str, Any], rows: list[Any],
) -> PassResult:  # fmt: skip
    """Time every user's page through the engine, the pipeline alone and the floors, in turn;
    adds the table rows and figures (``key`` prefixes them). BLAS runs one thread, as in a
    server (api/app.py): with more, numpy's products take less wall time and more CPU than a
    server gives them, and the figures would flatter the server. The heap is settled first
    (``settle_heap``), as a server settles it after its warm start."""
    from launchpoint.heap import settle_heap

    settle_heap()  # as a server does once its state is built
    with _one_blas_thread():
        return _timed_pass(ws, state, users, als, args, key, label, figures, rows)


def _timed_pass(
    ws: WorkspaceEngine, state: WorkspaceState, users: Sequence[str], als: ImplicitFloor | None,
    args: argparse.Namespace, key: str, label: str, figures: dict[str, Any], rows: list[Any],
) -> PassResult:  # fmt: skip
    from launchpoint.api.schemas import RibbonPagePublic
    from launchpoint.ranking.pipeline import notes_of

    surface = ws.surface("home")
    model = ws.models.active()
    if model is not None and model.vector_index(wait=True) is not None:
        index = model.vector_index()
        assert index is not None
        print(f"    {label}: approximate nearest-neighbour index over {index.size:,} item "
              f"vectors built in {index.build_seconds:.1f} s")  # fmt: skip
    scorer = model.for_state(state) if model is not None else None
    settings = ws.settings
    relevance = Relevance(
        state, scorer, RetrievalConfig(settings.shortlist, settings.ann_min_items)
    )
    every = Relevance(state, scorer, RetrievalConfig(shortlist=0))
    # With a factor model: the approximate path from 10k candidates, whatever the setting.
    ann = None
    if model is not None and model.has_vectors:
        ann = Relevance(state, scorer, RetrievalConfig(settings.shortlist, ANN_FROM))
    tools = ServingTools.for_state(state)
    result = PassResult()
    best = -1
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    for layers in args.layers:
        timings: dict[str, list[float]] = {
            "lp": [], "pipeline": [], "every": [], "ann": [], "numpy": [], "als": []
        }  # fmt: skip
        ribbons = cards = notes = 0
        agree: list[float] = []
        agree_ann: list[float] = []
        sources: Counter[str] = Counter()
        for warm in users[: min(50, len(users))]:
            ws.ribbons_explained(RibbonRequest(warm, layers=layers, cards=args.cards))
        for user in users:
            request = RibbonRequest(user, layers=layers, cards=args.cards)
            if profiler is not None:
                profiler.enable()
            t0 = time.perf_counter()
            page, guarded, served = ws.ribbons_explained(request)
            t1 = time.perf_counter()
            if profiler is not None:
                profiler.disable()
            short = pipeline_page(ws, state, tools, relevance, request, surface)
            t2 = time.perf_counter()
            full = pipeline_page(ws, state, tools, every, request, surface)
            t2b = time.perf_counter()
            agree.append(same_cards(short, full))
            if ann is not None:
                t_ann = time.perf_counter()
                approximate = pipeline_page(ws, state, tools, ann, request, surface)
                timings["ann"].append(time.perf_counter() - t_ann)
                agree_ann.append(same_cards(approximate, full))
            inputs = candidate_sets(state, page)
            t3 = time.perf_counter()
            numpy_top_k(inputs, args.cards)
            t4 = time.perf_counter()
            if als is not None:
                als.recommend(page, args.cards)
            t5 = time.perf_counter()
            timings["lp"].append(t1 - t0)
            timings["pipeline"].append(t2 - t1)
            timings["every"].append(t2b - t2)
            timings["numpy"].append(t4 - t3)
            if als is not None:
                timings["als"].append(t5 - t4)
            ribbons += len(page.ribbons)
            cards += sum(len(r.cards) for r in page.ribbons)
            notes += sum(len(g.notes) for g in guarded)
            sources.update(card.source for g in guarded for card in g.cards)
            result.algorithms[str(served["algorithm"])] += 1
            if len(page.ribbons) > best:
                best = len(page.ribbons)
                result.best_page = RibbonPagePublic.of(page, notes_of(guarded), served).model_dump(
                    mode="json"
                )
        stats = {k: percentiles_ms(v) for k, v in timings.items() if v}
        numpy99 = stats["numpy"]["p99"]
        als99 = stats["als"]["p99"] if "als" in stats else float("nan")
        for name, s in stats.items():
            rows.append([f"{label}, layers={layers}: {LABELS[name]}", s["p50"], s["p95"],
                         s["p99"], s["max"], s["mean"], s["p99"] / numpy99 if numpy99 else None,
                         s["p99"] / als99 if als99 == als99 and als99 else None])  # fmt: skip
            for stat in ("p50", "p95", "p99", "max"):
                figures[f"{key}_l{layers}_{name}_{stat}_ms"] = s[stat]
        total = sum(sources.values()) or 1
        shares = ", ".join(f"{name} {n / total:.0%}" for name, n in sources.most_common())
        n = len(users)
        print(f"    {label}, layers={layers}: {ribbons / n:.2f} ribbons, {cards / n:.1f} cards, "
              f"{notes / n:.2f} guardrail notes per page; cards placed by: {shares}")  # fmt: skip
        print(f"    {label}, layers={layers}: cards the same as with every candidate ranked: "
              f"{np.mean(agree):.1%} (lowest page {min(agree):.0%})")  # fmt: skip
        figures[f"{key}_l{layers}_same_cards_share"] = float(np.mean(agree))
        if agree_ann:
            print(f"    {label}, layers={layers}: cards the same with approximate search from "
                  f"{ANN_FROM:,} candidates: {np.mean(agree_ann):.1%} "
                  f"(lowest page {min(agree_ann):.0%})")  # fmt: skip
            figures[f"{key}_l{layers}_ann_same_cards_share"] = float(np.mean(agree_ann))
        figures[f"{key}_l{layers}_ribbons_per_page"] = ribbons / n
        figures[f"{key}_l{layers}_guardrail_cards_share"] = 1 - sources["model"] / total
        figures[f"{key}_l{layers}_lp_vs_numpy_p99"] = (
            stats["lp"]["p99"] / numpy99 if numpy99 else None
        )
        figures[f"{key}_l{layers}_lp_vs_als_p99"] = (
            stats["lp"]["p99"] / als99 if als99 == als99 and als99 else None
        )
    if profiler is not None:
        print_profile(profiler, 25, f" of {label}'s ribbons_explained calls")
    return result


def in_process(
    dataset: Dataset, db: BenchDatabase, args: argparse.Namespace, figures: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """Build the state with a fresh engine's first request, then time N requests per layers
    setting with the first score, then with a trained model. Returns a page for the HTTP
    floor to serve and whether a model was trained."""
    settings = db.settings(refresh_seconds=REFRESH_SECONDS, data_dir=trained_dir(db))
    lp = Launchpoint(settings, migrate=False)
    try:
        ws = lp.workspace(dataset.workspace)
        reset_peak_rss()
        before = rss_mb()
        start = time.perf_counter()
        state = ws.state()
        first_user = state.user_ids[0]
        ws.ribbons(RibbonRequest(first_user, layers=max(args.layers), cards=args.cards))
        build = time.perf_counter() - start
        after, peak = rss_mb(), peak_rss_mb()
        qualifying = sum(1 for s in state.segments if s.qualification.qualifies)
        print(f"\n== {dataset.description}")
        print(f"    {len(state.user_ids):,} users, {len(state.item_ids):,} items, "
              f"{len(state.events):,} events, {state.interactions.nnz:,} user-item pairs; "
              f"{len(state.segments)} segments, {qualifying} qualify")  # fmt: skip
        print(f"    load {dataset.load_seconds:.1f} s, apply {dataset.apply_seconds:.2f} s; "
              f"state build (first request of a fresh engine) {build:.2f} s; "
              f"resident memory {before:.0f} -> {after:.0f} MB (peak {peak:.0f} MB)")  # fmt: skip
        members = ", ".join(f"{s.spec.id} {s.qualification.members:,}" for s in state.segments)
        print(f"    members: {members}")
        print(f"    {describe_surface(ws.surface('home'))}")
        prefix = dataset.name
        figures[f"{prefix}_state_build_s"] = build
        figures[f"{prefix}_apply_s"] = dataset.apply_seconds
        figures[f"{prefix}_serving_rss_mb"] = after
        figures[f"{prefix}_state_peak_rss_mb"] = peak
        figures[f"{prefix}_rss_before_mb"] = before

        als = make_implicit_floor(state, args)
        if als is not None:
            print(f"    implicit ALS fitted in {als.fit_seconds:.1f} s "
                  f"({args.als_factors} factors, {args.als_iterations} iterations)")  # fmt: skip
        rng = np.random.default_rng(args.seed)
        users = [str(u) for u in rng.choice(np.array(state.user_ids, dtype=object), args.requests)]
        rows: list[Any] = []
        first = timed_pass(ws, state, users, als, args, prefix, "first score", figures, rows)
        version = train_active_model(state, db, dataset.workspace, args)
        if version is not None:
            # The registry looks at its ACTIVE pointer at most every version_check_seconds.
            time.sleep(settings.version_check_seconds + 0.1)
            label = f"{args.model_family} {version}"
            trained = timed_pass(ws, state, users, als, args, f"{prefix}_model", label, figures,
                                 rows)  # fmt: skip
            served = ", ".join(f"{k} {n}" for k, n in trained.algorithms.items())
            print(f"    pages served by: {served}")
        figures[f"{prefix}_model"] = version
        print_table(
            f"in-process latency, ms, {args.requests:,} requests of {args.cards} cards for "
            "random users (goal: p99 <= 10 ms; x numpy, x ALS: p99 / that floor's p99)",
            ["what", "p50", "p95", "p99", "max", "mean", "x numpy", "x ALS"],
            rows,
        )
        assert first.best_page is not None
        return first.best_page, version is not None
    finally:
        lp.close()


# -- HTTP ------------------------------------------------------------------------------------
def over_http(
    dataset: Dataset, db: BenchDatabase, args: argparse.Namespace, page: dict[str, Any],
    figures: dict[str, Any], trained: bool,
) -> None:  # fmt: skip
    import httpx

    rng = np.random.default_rng(args.seed + 1)
    lp = Launchpoint(db.settings(), migrate=False)
    try:
        user_ids = [u["id"] for u in lp.workspace(dataset.workspace).store.iter_users()]
    finally:
        lp.close()
    users = [str(u) for u in rng.choice(np.array(user_ids, dtype=object), args.http_count)]
    del user_ids
    headers = {"X-Workspace": dataset.workspace}
    env = {
        "LAUNCHPOINT_DATABASE_URL": db.url,
        "LAUNCHPOINT_WORKSPACE": dataset.workspace,
        "LAUNCHPOINT_REFRESH_SECONDS": str(REFRESH_SECONDS),
        **dict(pair.split("=", 1) for pair in args.server_env),
    }
    payload = db.folder / f"floor-page-{dataset.name}.json"
    payload.write_text(json.dumps(page))
    # Several workers: uvicorn forks them (as `launchpoint serve --workers N` does); each logs
    # its startup at level info, which is how server() knows every one is ready.
    uvicorn = [sys.executable, "-m", "uvicorn", "launchpoint.api:create_app", "--factory",
               "--log-level", "warning" if args.workers == 1 else "info", "--no-access-log",
               *(["--workers", str(args.workers)] if args.workers > 1 else [])]  # fmt: skip
    processes = "one process" if args.workers == 1 else f"{args.workers} worker processes"
    figures["http_workers"] = args.workers
    # (label, figure tag, command, data_dir, env): the run's folder holds no model;
    # trained_dir holds the one the in-process run trained.
    servers = [("Launchpoint, first score", "lp", uvicorn, db.folder, {})]
    model_dir = trained_dir(db) if trained else db.folder
    if trained:
        servers.append((f"Launchpoint, {args.model_family}", "lpmodel", uvicorn, model_dir, {}))
    if args.rebuild_every:
        # The same server, its state rebuilt on its schedule while the load runs: what a
        # rebuild costs the requests around it (it runs beside the state serving).
        every = args.rebuild_every
        servers.append((f"Launchpoint, {args.model_family if trained else 'first score'}, "
                        f"rebuilt every {every:g} s", "lprebuild", uvicorn, model_dir,
                        {"LAUNCHPOINT_REFRESH_SECONDS": str(every)}))  # fmt: skip
    servers.append(("HTTP floor", "floor",
                    [sys.executable, str(Path(__file__).resolve()), "--serve-floor",
                     str(payload)], db.folder, {}))  # fmt: skip
    rows = []
    limit = args.http_time_limit
    for name, tag, command, data_dir, server_env in servers:
        port = free_port()
        command = [*command, "--host", "127.0.0.1", "--port", str(port)]
        base = f"http://127.0.0.1:{port}"
        workers = args.workers if tag != "floor" else 1
        launched = time.perf_counter()
        with server(command, {**env, **server_env, "LAUNCHPOINT_DATA_DIR": str(data_dir)}, port,
                    args.first_request_timeout, workers) as proc:  # fmt: skip
            ready_s = time.perf_counter() - launched
            start = time.perf_counter()
            first = httpx.get(f"{base}/v1/users/{urllib.parse.quote(users[0], safe='')}/ribbons",
                              headers=headers, timeout=args.first_request_timeout)  # fmt: skip
            first_s = time.perf_counter() - start
            if first.status_code != 200:
                raise RuntimeError(
                    f"{name}: first request failed: {first.status_code} {first.text[:2000]}"
                )
            algorithm = first.json().get("served", {}).get("algorithm", "-")
            if tag in ("lpmodel", "lprebuild") and trained:
                given = env.get("LAUNCHPOINT_ANN_MIN_ITEMS")
                min_items = int(given) if given else Settings().ann_min_items
                wait_for_index(base, headers, users, args.first_request_timeout, min_items)
            for layers in args.layers:
                paths = [f"/v1/users/{urllib.parse.quote(u, safe='')}/ribbons?layers={layers}"
                         f"&cards={args.cards}" for u in users]  # fmt: skip
                warm = run_load(proc.pid, base, headers, paths[:50], 4, None, 60)
                if warm.errors:
                    raise RuntimeError(f"{name}: {warm.errors} of 50 warm-up requests failed")
                fixed = run_load(proc.pid, base, headers, paths, args.connections,
                                 args.http_rate, limit)  # fmt: skip
                sat_paths = list(itertools.islice(itertools.cycle(paths), args.saturation_count))
                sat = run_load(proc.pid, base, headers, sat_paths, args.concurrency, None, limit)
                for mode, result in ((f"{args.http_rate:g} req/s", fixed),
                                     (f"saturation, {args.concurrency} clients", sat)):  # fmt: skip
                    s = percentiles_ms(result.latencies)
                    n = max(len(result.latencies), 1)
                    rows.append([f"{name}, layers={layers}, {mode}", len(result.latencies),
                                 result.errors, s["p50"], s["p95"], s["p99"], s["max"],
                                 result.throughput, 1000 * result.server_cpu / n,
                                 1000 * result.client_cpu / n])  # fmt: skip
                    kind = "rate" if result is fixed else "sat"
                    key = f"{dataset.name}_http_{tag}_l{layers}_{kind}"
                    for stat in ("p50", "p95", "p99", "max"):
                        figures[f"{key}_{stat}_ms"] = s[stat]
                    figures[f"{key}_rps"] = result.throughput
                    figures[f"{key}_errors"] = result.errors
                    figures[f"{key}_server_cpu_ms"] = 1000 * result.server_cpu / n
            server_rss = process_rss_mb(proc.pid)
        what = f" (serves with {algorithm})" if tag != "floor" else ""
        processes_here = f"{workers} process{'es' if workers > 1 else ''}"
        print(f"    {name} server ({processes_here}): ready {ready_s:.2f} s after launch (warm "
              f"start: each builds its serving state first), first request {first_s:.2f} s"
              f"{what}, resident memory {server_rss:.0f} MB")  # fmt: skip
        figures[f"{dataset.name}_http_{tag}_ready_s"] = ready_s
        figures[f"{dataset.name}_http_{tag}_first_request_s"] = first_s
        figures[f"{dataset.name}_http_{tag}_server_rss_mb"] = server_rss
    print_table(
        f"over HTTP on loopback (uvicorn, Launchpoint in {processes}, the floor in one), ms; "
        "latency at a fixed rate counts from "
        "when each request was due (goal: p99 <= 25 ms at 200 req/s); cpu = CPU ms per request",
        ["what", "ok", "errors", "p50", "p95", "p99", "max", "req/s", "server cpu", "client cpu"],
        rows,
    )
    for layers in args.layers:
        floor_rps = figures.get(f"{dataset.name}_http_floor_l{layers}_sat_rps")
        for tag in ("lp", "lpmodel", "lprebuild"):
            rps = figures.get(f"{dataset.name}_http_{tag}_l{layers}_sat_rps")
            if floor_rps and rps is not None:
                figures[f"{dataset.name}_http_{tag}_l{layers}_sat_rps_vs_floor"] = rps / floor_rps


def wait_for_index(
    base: str, headers: dict[str, str], users: Sequence[str], limit: float, min_items: int
) -> None:
    """A server builds its nearest-neighbour index in the background after loading a model;
    wait until a traced page shows it in use, unless no ribbon is large enough for it."""
    import httpx

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        large = False
        for user in users[:30]:
            path = f"/v1/users/{urllib.parse.quote(user, safe='')}/ribbons?explain=full"
            page = httpx.get(base + path, headers=headers, timeout=limit).json()
            for ribbon in page.get("trace", {}).get("ribbons", []):
                if "shortlist_ann" in ribbon.get("steps", []):
                    return
                large = large or ribbon.get("candidates", 0) >= min_items
        if not large:
            return
        time.sleep(1.0)
    print("    (the server's nearest-neighbour index was not ready in time: it scored exactly)")


def measure(
    dataset: Dataset, db: BenchDatabase, args: argparse.Namespace, figures: dict[str, Any]
) -> None:
    """Everything this script measures, for one loaded dataset."""
    page, trained = in_process(dataset, db, args, figures)
    if not args.skip_http:
        over_http(dataset, db, args, page, figures, trained)


def serve_floor(argv: Sequence[str]) -> None:
    """The HTTP floor: FastAPI + uvicorn answering a prebuilt page through the same model."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-floor", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    import uvicorn
    from fastapi import FastAPI

    from launchpoint.api.schemas import RibbonPagePublic

    page = json.loads(args.serve_floor.read_text())
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/users/{user_id}/ribbons", response_model=RibbonPagePublic)
    def ribbons(user_id: str, layers: int | None = None, cards: int | None = None) -> Any:
        body = {**page, "user_id": user_id, "ribbons": page["ribbons"][: layers or 2]}
        return RibbonPagePublic.model_validate(body)

    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


def add_serving_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the measurement itself, shared with serving_scale.py."""
    add_database_arguments(parser)
    add_profile_argument(
        parser,
        help="Profile (cProfile) the engine's page calls alone, and print the functions that "
        "took the most time after each pass. The profiler slows Python code, so the latency "
        "figures of a profiled run are not the ones to quote.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="A smoke run: fewer requests, small data, the ALS model (seconds to train) "
        "unless --model-family says otherwise. Its figures are not the ones to quote.",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=1000,
        help="In-process requests per layers setting and model (default: %(default)s).",
    )
    parser.add_argument(
        "--layers",
        type=int,
        nargs="+",
        default=[3],
        help="Ribbons per page to ask for (default: %(default)s); the surface is set to the "
        "largest.",
    )
    parser.add_argument(
        "--cards", type=int, default=10, help="Cards per ribbon (default: %(default)s)."
    )
    parser.add_argument("--skip-http", action="store_true", help="In-process figures only.")
    parser.add_argument("--seed", type=int, default=7, help="Seed (default: %(default)s).")
    parser.add_argument(
        "--no-model",
        action="store_true",
        help="Measure with the first score only: train no model.",
    )
    parser.add_argument(
        "--model-family",
        default=None,
        help="Recommender family to train and serve in the second pass (default: hybrid, "
        "what `launchpoint train` fits; als with --quick).",
    )
    parser.add_argument(
        "--no-implicit",
        action="store_true",
        help="Leave out the implicit ALS floor even when installed.",
    )
    parser.add_argument(
        "--als-factors", type=int, default=64, help="implicit ALS factors (default: %(default)s)."
    )
    parser.add_argument(
        "--als-iterations",
        type=int,
        default=15,
        help="implicit ALS iterations (default: %(default)s).",
    )
    parser.add_argument(
        "--http-rate",
        type=float,
        default=200.0,
        help="Fixed request rate over HTTP, per second (default: %(default)s).",
    )
    parser.add_argument(
        "--http-count",
        type=int,
        default=6000,
        help="Requests at the fixed rate, per layers setting (default: %(default)s: 30 s at "
        "200/s, long enough for the rare pauses, such as a garbage collection, to count).",
    )
    parser.add_argument(
        "--http-time-limit",
        type=float,
        default=120.0,
        help="Seconds one HTTP run may take before it is cut short (default: %(default)s).",
    )
    parser.add_argument(
        "--first-request-timeout",
        type=float,
        default=600.0,
        help="Seconds a server may take to answer its first request, which builds its state "
        "(default: %(default)s).",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="An environment variable for the Launchpoint servers, repeatable (e.g. "
        "OPENBLAS_NUM_THREADS=1 to see what BLAS threads cost under concurrent requests).",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=32,
        help="Client threads, each an httpx.Client with one keep-alive connection, sending "
        "the fixed-rate requests (default: %(default)s).",
    )
    parser.add_argument(
        "--saturation-count",
        type=int,
        default=1500,
        help="Requests in the saturation run (default: %(default)s).",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Launchpoint server processes (uvicorn --workers, as `launchpoint serve --workers "
        "N`); each builds its own state (default: 1).",
    )
    parser.add_argument(
        "--rebuild-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="Also serve over HTTP with the state rebuilt on the server's schedule every "
        "SECONDS while the load runs (as refresh_seconds does), beside the same server "
        "without (default: off).",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="Client threads in the saturation run, each sending its next request on an "
        "answer (default: %(default)s).",
    )


def settle_serving_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str]
) -> argparse.Namespace:
    """--quick's smaller defaults (where the option was not given), then the checks."""
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    if args.quick:
        quick = {"--requests": ("requests", 200), "--http-count": ("http_count", 300),
                 "--saturation-count": ("saturation_count", 300)}  # fmt: skip
        for option, (name, value) in quick.items():
            if option not in given:
                setattr(args, name, value)
    if args.model_family is None:
        args.model_family = "als" if args.quick else "hybrid"
    if any("=" not in pair for pair in args.server_env):
        parser.error("--server-env takes KEY=VALUE")
    if args.cards < 1 or min(args.layers) < 1 or args.requests < 1 or args.http_count < 1:
        parser.error("--cards, --layers, --requests and --http-count must be at least 1")
    if args.rebuild_every is not None and args.rebuild_every <= 0:
        parser.error("--rebuild-every takes seconds above 0")
    return args


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Latency of a home page (3 ribbons x 10 cards, every guardrail on) "
        "in-process and over HTTP, with the first score and with a trained model, next to a "
        "bare numpy top-k and implicit's ALS recommend on the same candidates. Prints tables, "
        "then one JSON line.",
    )
    add_serving_arguments(parser)
    parser.add_argument("--skip-demo", action="store_true", help="Skip the demo dataset.")
    parser.add_argument(
        "--skip-movielens", action="store_true", help="Skip the ml-latest-small dataset."
    )
    parser.add_argument(
        "--demo-users",
        type=int,
        default=2000,
        help="Demo customers (default: %(default)s, the demo's own size; 500 with --quick).",
    )
    parser.add_argument(
        "--demo-items",
        type=int,
        default=400,
        help="Demo products (default: %(default)s; 200 with --quick).",
    )
    parser.add_argument(
        "--demo-events",
        type=int,
        default=60_000,
        help="Demo events (default: %(default)s; 10,000 with --quick).",
    )
    parser.add_argument(
        "--movielens",
        type=Path,
        default=MOVIELENS_SMALL,
        help="ml-latest-small folder (default: %(default)s); skipped when absent.",
    )
    parser.add_argument(
        "--segments",
        type=Path,
        default=ML_SEGMENTS,
        help="Segments YAML applied to ml-latest-small (default: %(default)s).",
    )
    args = parser.parse_args(argv)
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    if args.quick:
        for option, name, value in (("--demo-users", "demo_users", 500),
                                     ("--demo-items", "demo_items", 200),
                                     ("--demo-events", "demo_events", 10_000)):  # fmt: skip
            if option not in given:
                setattr(args, name, value)
    return settle_serving_arguments(parser, args, argv)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--serve-floor" in argv:
        serve_floor(argv)
        return
    args = parse_args(argv)
    figures: dict[str, Any] = {}
    with bench_database(args, "ribbons") as db:
        print(f"ribbons_latency on {machine_line(db)}")
        loaders = []
        if not args.skip_demo:
            loaders.append(load_demo)
        if not args.skip_movielens:
            loaders.append(load_movielens)
        for load in loaders:
            dataset = load(db, args)
            if dataset is not None:
                measure(dataset, db, args, figures)
    figures["backend"] = db.dialect
    emit_json(figures)


if __name__ == "__main__":
    main()
