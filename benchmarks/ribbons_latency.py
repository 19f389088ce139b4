"""Latency of a home page's ribbons (layers x cards), in-process and over HTTP on loopback,
next to floors that do only the ranking.

Datasets: the demo population (its own segments.yaml) and ml-latest-small with genre segments
(ml_genre_segments.yaml beside this file). For each, the state is built by the first request
of a fresh engine (its time is printed), then N requests for random users are timed with:

- Launchpoint: WorkspaceEngine.ribbons(RibbonRequest(...)), the real path (it checks the data
  version and reads the surface on every request);
- build_ribbons only: the ranking module given the state and the surface;
- floor, numpy top-k: the same ribbons' candidate items (built beforehand), scored by a
  precomputed vector, argpartition + sort of the top k: what ranking itself costs;
- floor, implicit ALS (when the `implicit` package is installed): recommend() for the same
  user over the same segment's items, one call per ribbon.

The four run request by request in turn, so a noisy machine slows them alike: read the ratios.
Over HTTP, uvicorn serves launchpoint.api.create_app in a subprocess on 127.0.0.1; httpx
clients send requests at a fixed rate (open loop: latency counts from when a request was due),
then as fast as a fixed number of concurrent clients can (closed loop: maximum throughput).
An HTTP floor, the same FastAPI + uvicorn stack answering a prebuilt page of the same shape
through the same response model, shows what the HTTP stack costs without the engine.

Run:  .venv/bin/python benchmarks/ribbons_latency.py --help
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import warnings
from collections.abc import Iterator, Sequence
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
    machine_line,
    maybe_profile,
    percentiles_ms,
    print_table,
    process_cpu_seconds,
    process_rss_mb,
    rss_mb,
)

from launchpoint.domain.ribbons import RibbonPage
from launchpoint.domain.segments import WorkspaceConfig
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.ranking.ribbons import RibbonRequest, build_ribbons
from launchpoint.ranking.state import WorkspaceState

HERE = Path(__file__).resolve().parent
ML_SEGMENTS = HERE / "ml_genre_segments.yaml"
# Long enough that no rebuild falls inside a run (a rebuild is timed on its own, as the
# first request); production's default is 300 s.
REFRESH_SECONDS = 86_400.0
LOAD_BATCH = 5000


@dataclass
class Dataset:
    name: str
    workspace: str
    description: str
    load_seconds: float
    apply_seconds: float
    report: list[Any] = field(default_factory=list)


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
                add(batch)  # type: ignore[operator]
        load = time.perf_counter() - start
        segments = resources.files("launchpoint.demo").joinpath("segments.yaml")
        with resources.as_file(segments) as path:
            apply_seconds, report = _apply(ws, Path(path))
    finally:
        lp.close()
    description = (f"demo ({args.demo_users:,} users, {args.demo_items:,} items, "
                   f"{args.demo_events:,} events; demo/segments.yaml)")  # fmt: skip
    return Dataset("demo", workspace, description, load, apply_seconds, report)


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
    finally:
        lp.close()
    description = f"ml-latest-small ({args.movielens}; {args.segments.name})"
    return Dataset("ml", workspace, description, load, apply_seconds, report)


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
def in_process(
    dataset: Dataset, db: BenchDatabase, args: argparse.Namespace, figures: dict[str, Any]
) -> dict[str, Any]:
    """Build the state with a fresh engine's first request, then time N requests per layers
    setting; returns a page to serve from the HTTP floor."""
    lp = Launchpoint(db.settings(refresh_seconds=REFRESH_SECONDS), migrate=False)
    try:
        ws = lp.workspace(dataset.workspace)
        before = rss_mb()
        start = time.perf_counter()
        state = ws.state()
        first_user = state.user_ids[0]
        ws.ribbons(RibbonRequest(first_user, layers=max(args.layers), cards=args.cards))
        build = time.perf_counter() - start
        after = rss_mb()
        qualifying = sum(1 for s in state.segments if s.qualification.qualifies)
        print(f"\n== {dataset.description}")
        print(f"    {len(state.user_ids):,} users, {len(state.item_ids):,} items, "
              f"{state.interactions.nnz:,} user-item pairs; {len(state.segments)} segments, "
              f"{qualifying} qualify")  # fmt: skip
        print(f"    load {dataset.load_seconds:.1f} s, apply {dataset.apply_seconds:.2f} s; "
              f"state build (first request of a fresh engine) {build:.2f} s; "
              f"resident memory {before:.0f} -> {after:.0f} MB")  # fmt: skip
        prefix = dataset.name
        figures[f"{prefix}_state_build_s"] = build
        figures[f"{prefix}_apply_s"] = dataset.apply_seconds
        figures[f"{prefix}_serving_rss_mb"] = after

        als = make_implicit_floor(state, args)
        if als is not None:
            print(f"    implicit ALS fitted in {als.fit_seconds:.1f} s "
                  f"({args.als_factors} factors, {args.als_iterations} iterations)")  # fmt: skip
        surface = ws.surface("home")
        rng = np.random.default_rng(args.seed)
        users = [str(u) for u in rng.choice(np.array(state.user_ids, dtype=object), args.requests)]
        best_page: RibbonPage | None = None
        rows = []
        for layers in args.layers:
            timings: dict[str, list[float]] = {"lp": [], "build": [], "numpy": [], "als": []}
            ribbons = cards = 0
            for warm in users[: min(50, len(users))]:
                ws.ribbons(RibbonRequest(warm, layers=layers, cards=args.cards))
            for user in users:
                request = RibbonRequest(user, layers=layers, cards=args.cards)
                t0 = time.perf_counter()
                page = ws.ribbons(request)
                t1 = time.perf_counter()
                build_ribbons(state, request, surface)
                t2 = time.perf_counter()
                inputs = candidate_sets(state, page)
                t3 = time.perf_counter()
                numpy_top_k(inputs, args.cards)
                t4 = time.perf_counter()
                if als is not None:
                    als.recommend(page, args.cards)
                t5 = time.perf_counter()
                timings["lp"].append(t1 - t0)
                timings["build"].append(t2 - t1)
                timings["numpy"].append(t4 - t3)
                if als is not None:
                    timings["als"].append(t5 - t4)
                ribbons += len(page.ribbons)
                cards += sum(len(r.cards) for r in page.ribbons)
                if best_page is None or len(page.ribbons) > len(best_page.ribbons):
                    best_page = page
            stats = {k: percentiles_ms(v) for k, v in timings.items() if v}
            floor99 = stats["numpy"]["p99"]
            labels = {
                "lp": "Launchpoint ws.ribbons",
                "build": "build_ribbons only",
                "numpy": "floor: numpy top-k",
                "als": "floor: implicit ALS recommend",
            }
            for key, s in stats.items():
                ratio = s["p99"] / floor99 if floor99 else None
                rows.append([f"layers={layers}: {labels[key]}", s["p50"], s["p95"], s["p99"],
                             s["max"], s["mean"], ratio])  # fmt: skip
            print(f"    layers={layers}: {ribbons / len(users):.2f} ribbons and "
                  f"{cards / len(users):.1f} cards per page on average")  # fmt: skip
            for key, s in stats.items():
                for stat in ("p50", "p95", "p99", "max"):
                    figures[f"{prefix}_l{layers}_{key}_{stat}_ms"] = s[stat]
            figures[f"{prefix}_l{layers}_lp_vs_numpy_p99"] = (
                stats["lp"]["p99"] / floor99 if floor99 else None
            )
        print_table(
            f"in-process latency, ms, {args.requests:,} requests of {args.cards} cards for "
            "random users (ratio: p99 / numpy floor p99)",
            ["what", "p50", "p95", "p99", "max", "mean", "ratio"],
            rows,
        )
        assert best_page is not None
        from launchpoint.api.schemas import RibbonPagePublic

        return RibbonPagePublic.of(best_page).model_dump(mode="json")
    finally:
        lp.close()


# -- HTTP ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(command: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    import httpx

    proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"server exited with {proc.returncode}:\n{err[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class LoadResult:
    latencies: list[float]
    errors: int
    seconds: float
    client_cpu: float
    server_cpu: float

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else float("nan")


def _client_threads(
    base: str, headers: dict[str, str], clients: int, jobs: queue.SimpleQueue[Any],
    latencies: list[float], errors: list[int],
) -> list[threading.Thread]:  # fmt: skip
    """`clients` threads, each an httpx.Client with one keep-alive connection, taking
    (path, due) jobs until they get None; a job's latency counts from its due time. They
    return once every client has connected, so building clients is never timed."""
    import httpx

    ready = threading.Barrier(clients + 1)

    def work() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            try:
                client.get("/healthz")  # opens the connection before the clock starts
            finally:
                ready.wait()
            while (job := jobs.get()) is not None:
                path, due = job
                due = due or time.perf_counter()
                try:
                    ok = client.get(path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - due)
                else:
                    errors.append(1)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    return threads


def run_load(
    pid: int, base: str, headers: dict[str, str], paths: Sequence[str], clients: int,
    rate: float | None, limit_s: float,
) -> LoadResult:  # fmt: skip
    """Open loop at `rate` requests/s (request i is due at start + i/rate, and its latency
    counts from then, so a server that falls behind is charged for the wait), or, with no
    rate, a closed loop: every client sends its next request as soon as it has an answer."""
    jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
    latencies: list[float] = []
    errors: list[int] = []
    threads = _client_threads(base, headers, clients, jobs, latencies, errors)
    cpu0, server0 = time.process_time(), process_cpu_seconds(pid)
    start = time.perf_counter()
    deadline = start + limit_s
    for i, path in enumerate(paths):
        if rate is None:
            jobs.put((path, 0.0))
            continue
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if time.perf_counter() > deadline:
            print(f"    (stopped after {limit_s:.0f} s: the run took too long)")
            break
        jobs.put((path, due))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join(max(0.0, deadline - time.perf_counter()) + 30)
    seconds = time.perf_counter() - start
    return LoadResult(list(latencies), len(errors), seconds, time.process_time() - cpu0,
                      process_cpu_seconds(pid) - server0)  # fmt: skip


def over_http(
    dataset: Dataset, db: BenchDatabase, args: argparse.Namespace, page: dict[str, Any],
    figures: dict[str, Any],
) -> None:  # fmt: skip
    import httpx

    rng = np.random.default_rng(args.seed + 1)
    lp = Launchpoint(db.settings(), migrate=False)
    try:
        user_ids = [u["id"] for u in lp.workspace(dataset.workspace).store.iter_users()]
    finally:
        lp.close()
    users = [str(u) for u in rng.choice(np.array(user_ids, dtype=object), args.http_count)]
    headers = {"X-Workspace": dataset.workspace}
    env = {
        "LAUNCHPOINT_DATABASE_URL": db.url,
        "LAUNCHPOINT_DATA_DIR": str(db.folder),
        "LAUNCHPOINT_WORKSPACE": dataset.workspace,
        "LAUNCHPOINT_REFRESH_SECONDS": str(REFRESH_SECONDS),
    }
    payload = db.folder / f"floor-page-{dataset.name}.json"
    payload.write_text(json.dumps(page))
    servers = {
        "Launchpoint": [sys.executable, "-m", "uvicorn", "launchpoint.api:create_app", "--factory",
                        "--log-level", "warning", "--no-access-log"],
        "HTTP floor": [sys.executable, str(Path(__file__).resolve()), "--serve-floor",
                       str(payload)],
    }  # fmt: skip
    rows = []
    limit = args.http_time_limit
    for name, command in servers.items():
        port = free_port()
        command = [*command, "--host", "127.0.0.1", "--port", str(port)]
        base = f"http://127.0.0.1:{port}"
        with server(command, env, port) as proc:
            start = time.perf_counter()
            first = httpx.get(f"{base}/v1/users/{urllib.parse.quote(users[0], safe='')}/ribbons",
                              headers=headers, timeout=300)  # fmt: skip
            first_s = time.perf_counter() - start
            if first.status_code != 200:
                raise RuntimeError(
                    f"{name}: first request failed: {first.status_code} {first.text}"
                )
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
                    tag = "lp" if name == "Launchpoint" else "floor"
                    kind = "rate" if result is fixed else "sat"
                    key = f"{dataset.name}_http_{tag}_l{layers}_{kind}"
                    for stat in ("p50", "p95", "p99", "max"):
                        figures[f"{key}_{stat}_ms"] = s[stat]
                    figures[f"{key}_rps"] = result.throughput
                    figures[f"{key}_errors"] = result.errors
                    figures[f"{key}_server_cpu_ms"] = 1000 * result.server_cpu / n
            server_rss = process_rss_mb(proc.pid)
        tag = "lp" if name == "Launchpoint" else "floor"
        print(
            f"    {name} server: first request {first_s:.2f} s"
            f"{' (builds the state)' if tag == 'lp' else ''}, resident memory {server_rss:.0f} MB"
        )
        figures[f"{dataset.name}_http_{tag}_first_request_s"] = first_s
        figures[f"{dataset.name}_http_{tag}_server_rss_mb"] = server_rss
    print_table(
        "over HTTP on loopback (uvicorn, one process), ms; latency at a fixed rate counts from "
        "when each request was due; cpu = CPU ms per request",
        ["what", "ok", "errors", "p50", "p95", "p99", "max", "req/s", "server cpu", "client cpu"],
        rows,
    )
    for layers in args.layers:
        lp_key, floor_key = (f"{dataset.name}_http_{t}_l{layers}" for t in ("lp", "floor"))
        if figures.get(f"{floor_key}_sat_rps"):
            figures[f"{dataset.name}_http_l{layers}_sat_rps_vs_floor"] = (
                figures[f"{lp_key}_sat_rps"] / figures[f"{floor_key}_sat_rps"]
            )


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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Latency of a home page's ribbons in-process and over HTTP, next to a bare "
        "numpy top-k (and implicit's ALS when installed) on the same candidates. Prints "
        "tables, then one JSON line.",
    )
    add_database_arguments(parser)
    add_profile_argument(parser)
    parser.add_argument(
        "--requests",
        type=int,
        default=1000,
        help="In-process requests per layers setting (default: %(default)s).",
    )
    parser.add_argument(
        "--layers",
        type=int,
        nargs="+",
        default=[2, 3],
        help="Ribbons per page to ask for (default: %(default)s).",
    )
    parser.add_argument(
        "--cards", type=int, default=10, help="Cards per ribbon (default: %(default)s)."
    )
    parser.add_argument("--skip-demo", action="store_true", help="Skip the demo dataset.")
    parser.add_argument(
        "--skip-movielens", action="store_true", help="Skip the ml-latest-small dataset."
    )
    parser.add_argument("--skip-http", action="store_true", help="In-process figures only.")
    parser.add_argument(
        "--demo-users",
        type=int,
        default=2000,
        help="Demo customers (default: %(default)s, the demo's own size).",
    )
    parser.add_argument(
        "--demo-items", type=int, default=400, help="Demo products (default: %(default)s)."
    )
    parser.add_argument(
        "--demo-events", type=int, default=60_000, help="Demo events (default: %(default)s)."
    )
    parser.add_argument("--seed", type=int, default=7, help="Seed (default: %(default)s).")
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
        default=1000,
        help="Requests at the fixed rate, per layers setting (default: %(default)s).",
    )
    parser.add_argument(
        "--http-time-limit",
        type=float,
        default=120.0,
        help="Seconds one HTTP run may take before it is cut short (default: %(default)s).",
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
        "--concurrency",
        type=int,
        default=16,
        help="Client threads in the saturation run, each sending its next request on an "
        "answer (default: %(default)s).",
    )
    args = parser.parse_args(argv)
    if args.cards < 1 or min(args.layers) < 1 or args.requests < 1 or args.http_count < 1:
        parser.error("--cards, --layers, --requests and --http-count must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--serve-floor" in argv:
        serve_floor(argv)
        return
    args = parse_args(argv)
    figures: dict[str, Any] = {}
    with bench_database(args, "ribbons") as db, maybe_profile(args.profile):
        print(f"ribbons_latency on {machine_line(db)}")
        loaders = []
        if not args.skip_demo:
            loaders.append(load_demo)
        if not args.skip_movielens:
            loaders.append(load_movielens)
        for load in loaders:
            dataset = load(db, args)
            if dataset is None:
                continue
            page = in_process(dataset, db, args, figures)
            if args.skip_http:
                continue
            over_http(dataset, db, args, page, figures)
    figures["backend"] = db.dialect
    emit_json(figures)


if __name__ == "__main__":
    main()
