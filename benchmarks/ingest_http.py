"""Event ingestion over HTTP on loopback, next to floors that do less of the work.

Launchpoint runs as ``uvicorn launchpoint.api:create_app --factory`` in a subprocess on
127.0.0.1, over a workspace holding the demo (customers, products, events and the demo's
segments, as ``launchpoint demo --no-serve`` loads them). One httpx client with a keep-alive
connection sends, request by request:

- single events, ``POST /v1/events``: each is answered after its commit and after the serving
  state took it in (the user's interests, aggregates and segment memberships recomputed). The
  state is built first (one ribbons request), and every event names a known user, so every one
  takes the real-time path. Latency p50/p95/p99/max. Goal (DESIGN section 9): p99 <= 5 ms.
- batches, ``POST /v1/events/batch`` of 500 events (the most that are taken into the state at
  once) and of 1,000 (an import: the state is rebuilt on the next read): events/s.

Floors, request by request in turn with Launchpoint (so a busy machine slows them alike):

- HTTP floor: the same FastAPI + uvicorn setup with endpoints that take the same JSON (FastAPI
  parses it) and do nothing;
- HTTP + validation: the same, validating the body into the same models (EventIn,
  EventBatch), and storing nothing;
- database floor: the same rows written by the driver alone into an equivalent table (see
  import_throughput.py): sqlite3 executemany; on PostgreSQL psycopg COPY into a staging
  table merged with ON CONFLICT DO NOTHING for batches, and one INSERT + commit per event.

Runs on a temporary SQLite file, and on PostgreSQL too when --postgres-url (or the
LAUNCHPOINT_TEST_POSTGRES_URL variable) gives one; every workspace it makes is deleted after.

Run:  .venv/bin/python benchmarks/ingest_http.py --help
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from _common import (
    BenchDatabase,
    bench_database,
    emit_json,
    machine_line,
    percentiles_ms,
    print_table,
    process_cpu_seconds,
)
from import_throughput import Floor, event_rows, open_floors
from ribbons_latency import LOAD_BATCH, REFRESH_SECONDS, _apply, _batches, free_port, server

from launchpoint.api.schemas import EventBatch, IngestPublic
from launchpoint.demo import generate_demo
from launchpoint.domain.records import EventIn
from launchpoint.engine import Launchpoint

BATCH_SIZES = (500, 1000)
TARGET_P99_MS = 5.0
_EVENT_FIELDS = ("message_id", "user_id", "item_id", "type", "value", "timestamp")


@dataclass
class Backend:
    """What one database's run measured."""

    name: str
    single: dict[str, list[float]] = field(default_factory=dict)  # what -> seconds
    single_cpu_ms: float = float("nan")  # Launchpoint server CPU per single event
    bulk: dict[int, dict[str, float]] = field(default_factory=dict)  # size -> what -> seconds
    bulk_cpu_us: dict[int, float] = field(default_factory=dict)  # server CPU per event
    events: dict[int, int] = field(default_factory=dict)  # size -> events sent


# -- data ----------------------------------------------------------------------------------
def load_demo(db: BenchDatabase, args: argparse.Namespace) -> tuple[str, float]:
    """The demo workspace, loaded as ``launchpoint demo --no-serve`` does; its id and the
    seconds it took."""
    workspace = db.new_workspace("demo")
    lp = Launchpoint(db.settings())
    start = time.perf_counter()
    try:
        ws = lp.workspace(workspace)
        data = generate_demo(n_users=args.demo_users, n_items=args.demo_items,
                             n_events=args.demo_events, seed=args.seed)  # fmt: skip
        for records, add in ((data.items(), ws.add_items), (data.users(), ws.add_users),
                             (data.events(), ws.add_events)):  # fmt: skip
            for batch in _batches(records, LOAD_BATCH):
                add(batch)
        with resources.as_file(resources.files("launchpoint.demo") / "segments.yaml") as path:
            _apply(ws, Path(path))
    finally:
        lp.close()
    return workspace, time.perf_counter() - start


def new_events(args: argparse.Namespace) -> list[EventIn]:
    """Events of the demo's own customers and products (another seed: new message ids, the
    same user and item ids), stamped inside the demo's windows."""
    n = args.single_events + args.warmup + len(BATCH_SIZES) * args.bulk_events
    data = generate_demo(n_users=args.demo_users, n_items=args.demo_items, n_events=n,
                         seed=args.seed + 1)  # fmt: skip
    return list(data.events())


def body_of(event: EventIn) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _EVENT_FIELDS}


# -- one database ----------------------------------------------------------------------------
def post(client: httpx.Client, path: str, body: bytes) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    response = client.post(path, content=body)
    elapsed = time.perf_counter() - start
    if response.status_code != 201:
        raise RuntimeError(f"{client.base_url}{path}: {response.status_code} {response.text}")
    return elapsed, response.json()


def run_backend(db: BenchDatabase, args: argparse.Namespace) -> Backend:
    result = Backend(db.dialect)
    workspace, load_s = load_demo(db, args)
    print(f"\n[{db.dialect}] demo loaded in {load_s:.1f} s ({args.demo_users:,} users, "
          f"{args.demo_items:,} items, {args.demo_events:,} events)")  # fmt: skip
    events = new_events(args)
    env = {
        "LAUNCHPOINT_DATABASE_URL": db.url,
        "LAUNCHPOINT_DATA_DIR": str(db.folder),
        "LAUNCHPOINT_WORKSPACE": workspace,
        "LAUNCHPOINT_REFRESH_SECONDS": str(REFRESH_SECONDS),
    }
    lp_port, floor_port = free_port(), free_port()
    lp_cmd = [sys.executable, "-m", "uvicorn", "launchpoint.api:create_app", "--factory",
              "--log-level", "warning", "--no-access-log", "--host", "127.0.0.1",
              "--port", str(lp_port)]  # fmt: skip
    floor_cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-floor",
                 "--port", str(floor_port)]  # fmt: skip
    headers = {"content-type": "application/json", "x-workspace": workspace}
    floors = open_floors(db, "ingest")
    try:
        with (
            server(lp_cmd, env, lp_port) as lp_proc,
            server(floor_cmd, {}, floor_port),
            httpx.Client(base_url=f"http://127.0.0.1:{lp_port}", headers=headers,
                         timeout=120) as lp,
            httpx.Client(base_url=f"http://127.0.0.1:{floor_port}", headers=headers,
                         timeout=120) as floor,
        ):  # fmt: skip
            start = time.perf_counter()
            first_user = events[0].user_id
            if lp.get(f"/v1/users/{first_user}/ribbons").status_code != 200:
                raise RuntimeError("the first ribbons request failed")
            print(f"[{db.dialect}] serving state built by the first request in "
                  f"{time.perf_counter() - start:.2f} s")  # fmt: skip
            cursor = single_events(lp, floor, floors, lp_proc.pid, workspace, events, args, result)
            bulk(lp, floor, floors, lp_proc.pid, workspace, events[cursor:], args, result)
    finally:
        for f in floors:
            f.close()
    return result


def single_events(
    lp: httpx.Client, floor: httpx.Client, floors: list[Floor], pid: int, workspace: str,
    events: list[EventIn], args: argparse.Namespace, result: Backend,
) -> int:  # fmt: skip
    """Events one at a time, each through Launchpoint, both HTTP floors and the database
    floor in turn (the order rotates); returns how many events it used."""
    db_floor = floors[-1]  # sqlite3 executemany, or psycopg executemany: one INSERT + commit
    names = ("Launchpoint", "HTTP floor", "HTTP + validation", f"db: {db_floor.name}")
    samples: dict[str, list[float]] = {name: [] for name in names}
    cpu = 0.0
    n = int(args.warmup + args.single_events)
    for i, event in enumerate(events[:n]):
        body = json.dumps(body_of(event)).encode()
        rows = event_rows(workspace, [event], time.time())
        timed: dict[str, float] = {}
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            if name == "Launchpoint":
                before = process_cpu_seconds(pid)
                timed[name], answer = post(lp, "/v1/events", body)
                cpu += process_cpu_seconds(pid) - before
                if answer["stored"] != 1:
                    raise RuntimeError(f"event {event.message_id} was not stored: {answer}")
            elif name == "HTTP floor":
                timed[name], _ = post(floor, "/v1/events", body)
            elif name == "HTTP + validation":
                timed[name], _ = post(floor, "/validated/v1/events", body)
            else:
                start = time.perf_counter()
                db_floor.write(rows)
                timed[name] = time.perf_counter() - start
        if i >= args.warmup:  # the first ones open connections and fill caches
            for name, seconds in timed.items():
                samples[name].append(seconds)
    result.single = samples
    result.single_cpu_ms = 1000 * cpu / n
    return n


def bulk(
    lp: httpx.Client, floor: httpx.Client, floors: list[Floor], pid: int, workspace: str,
    events: list[EventIn], args: argparse.Namespace, result: Backend,
) -> None:  # fmt: skip
    """Batches of each size through Launchpoint, both HTTP floors and every database floor,
    batch by batch in turn."""
    for n_size, size in enumerate(BATCH_SIZES):
        part = events[n_size * args.bulk_events : (n_size + 1) * args.bulk_events]
        seconds = dict.fromkeys(["Launchpoint", "HTTP floor", "HTTP + validation",
                                 *(f"db: {f.name}" for f in floors)], 0.0)  # fmt: skip
        cpu = 0.0
        for start in range(0, len(part), size):
            batch = part[start : start + size]
            body = json.dumps({"events": [body_of(e) for e in batch]}).encode()
            rows = event_rows(workspace, batch, time.time())
            before = process_cpu_seconds(pid)
            elapsed, answer = post(lp, "/v1/events/batch", body)
            cpu += process_cpu_seconds(pid) - before
            if answer["stored"] != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} stored {answer}")
            seconds["Launchpoint"] += elapsed
            seconds["HTTP floor"] += post(floor, "/v1/events/batch", body)[0]
            seconds["HTTP + validation"] += post(floor, "/validated/v1/events/batch", body)[0]
            for f in floors:
                begin = time.perf_counter()
                f.write(rows)
                seconds[f"db: {f.name}"] += time.perf_counter() - begin
        result.bulk[size] = seconds
        result.bulk_cpu_us[size] = 1e6 * cpu / max(len(part), 1)
        result.events[size] = len(part)


# -- report ------------------------------------------------------------------------------------
def report(results: list[Backend]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    rows: list[list[Any]] = []
    for r in results:
        lp = percentiles_ms(r.single["Launchpoint"])
        for name, samples in r.single.items():
            s = percentiles_ms(samples)
            rows.append([f"{r.name}: {name}", len(samples), s["p50"], s["p95"], s["p99"],
                         s["max"], r.single_cpu_ms if name == "Launchpoint" else None,
                         lp["p99"] / s["p99"] if name != "Launchpoint" else None])  # fmt: skip
            key = f"{r.name}_single_{_key(name)}"
            for stat in ("p50", "p95", "p99", "max"):
                figures[f"{key}_{stat}_ms"] = s[stat]
        figures[f"{r.name}_single_server_cpu_ms"] = r.single_cpu_ms
        figures[f"{r.name}_single_p99_goal_met"] = lp["p99"] <= TARGET_P99_MS
    print_table(
        "single event, POST /v1/events, ms: Launchpoint answers after the commit and the "
        "real-time update; cpu = Launchpoint server CPU ms per event; x = Launchpoint p99 / "
        "this p99",
        ["what", "events", "p50", "p95", "p99", "max", "cpu", "x"],
        rows,
    )
    rows = []
    for r in results:
        for size, seconds in r.bulk.items():
            n = r.events[size]
            ours = seconds["Launchpoint"]
            for name, spent in seconds.items():
                is_ours = name == "Launchpoint"
                rows.append([f"{r.name}, batches of {size}: {name}", n, n / spent,
                             1e6 * spent / n, r.bulk_cpu_us[size] if is_ours else None,
                             None if is_ours else ours / spent])  # fmt: skip
                figures[f"{r.name}_batch{size}_{_key(name)}_events_per_s"] = n / spent
            figures[f"{r.name}_batch{size}_server_cpu_us_per_event"] = r.bulk_cpu_us[size]
    print_table(
        "batches, POST /v1/events/batch, one client: events/s; us = wall microseconds per "
        "event; cpu = Launchpoint server CPU us per event; x = Launchpoint time / this time",
        ["what", "events", "events/s", "us", "cpu", "x"],
        rows,
    )
    for r in results:
        p99 = percentiles_ms(r.single["Launchpoint"])["p99"]
        verdict = "met" if p99 <= TARGET_P99_MS else "NOT met"
        print(f"goal, {r.name}: single event p99 {p99:.2f} ms vs {TARGET_P99_MS:g} ms: {verdict}")
    return figures


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# -- the HTTP floor server -----------------------------------------------------------------------
def serve_floor(argv: Sequence[str]) -> None:
    """FastAPI + uvicorn, set up as Launchpoint's server is, taking the same JSON and doing
    nothing with it (or validating it into the same models, under /validated)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-floor", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    import uvicorn
    from fastapi import Body, FastAPI

    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/events", response_model=IngestPublic, status_code=201)
    def one(body: dict[str, Any] = Body(...)) -> IngestPublic:
        return IngestPublic(received=1, stored=0)

    @app.post("/v1/events/batch", response_model=IngestPublic, status_code=201)
    def many(body: dict[str, Any] = Body(...)) -> IngestPublic:
        return IngestPublic(received=len(body.get("events", ())), stored=0)

    @app.post("/validated/v1/events", response_model=IngestPublic, status_code=201)
    def one_validated(event: EventIn) -> IngestPublic:
        return IngestPublic(received=1, stored=0)

    @app.post("/validated/v1/events/batch", response_model=IngestPublic, status_code=201)
    def many_validated(batch: EventBatch) -> IngestPublic:
        return IngestPublic(received=len(batch.events), stored=0)

    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Events/s of batch ingestion and single-event latency over HTTP, next to "
        "a bare FastAPI endpoint and the bare database insert. Prints tables, then one JSON "
        "line.",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LAUNCHPOINT_TEST_POSTGRES_URL", ""),
        help="Also run on this PostgreSQL database, in workspaces of its own that are deleted "
        "after (default: $LAUNCHPOINT_TEST_POSTGRES_URL; none: SQLite only).",
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="Only run on PostgreSQL.")
    parser.add_argument("--keep", action="store_true", help="Keep the workspaces and files.")
    parser.add_argument(
        "--single-events", type=int, default=2000, help="Single events timed (%(default)s)."
    )
    parser.add_argument(
        "--warmup", type=int, default=50, help="Single events sent first, not timed (%(default)s)."
    )
    parser.add_argument(
        "--bulk-events", type=int, default=50_000, help="Events per batch size (%(default)s)."
    )
    parser.add_argument("--demo-users", type=int, default=2000)
    parser.add_argument("--demo-items", type=int, default=400)
    parser.add_argument("--demo-events", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--serve-floor" in argv:
        serve_floor(argv)
        return
    args = parse_args(argv)
    urls = [] if args.skip_sqlite else [""]
    if args.postgres_url:
        urls.append(args.postgres_url)
    if not urls:
        raise SystemExit("nothing to run: --skip-sqlite without --postgres-url")
    results = []
    for url in urls:
        with bench_database(argparse.Namespace(database_url=url, keep=args.keep),
                            "ingest-http") as db:  # fmt: skip
            print(f"ingest_http on {machine_line(db)}")
            results.append(run_backend(db, args))
    figures = report(results)
    figures["target_single_p99_ms"] = TARGET_P99_MS
    emit_json(figures)


if __name__ == "__main__":
    main()
