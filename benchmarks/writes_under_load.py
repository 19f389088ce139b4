"""What a write the serving state must be rebuilt for (a segment changed) costs the other
requests of a server, and the writer.

A server answers home pages (3 ribbons x 10 cards, every guardrail on) at a fixed rate from
many clients while another client changes a segment every few seconds (`PUT
/v1/segments/{id}`, its name changed: a new version, so the state is rebuilt). Now the
writer's own request builds the new state beside the one serving and is answered once it
serves; every other request is answered meanwhile. Before, the write marked the state stale
and the next request rebuilt it holding the engine's lock, every request waiting: the peer,
run here as the same server with that one method put back (``--serve-previous``), on the
same data, in the same run.

On ml-latest-small. Prints a table, then one JSON line.

Run:  .venv/bin/python benchmarks/writes_under_load.py --help
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    add_database_arguments,
    bench_database,
    emit_json,
    free_port,
    machine_line,
    percentiles_ms,
    print_table,
    run_load,
    server,
)
from ribbons_latency import ML_SEGMENTS, MOVIELENS_SMALL, REFRESH_SECONDS, load_movielens

from launchpoint.engine import Launchpoint

SLOW_MS = 100.0  # a page slower than this is counted


def serve_previous(argv: Sequence[str]) -> None:
    """The server as it was: a write the state cannot take in marks it stale, and the next
    request rebuilds it on the request path."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-previous", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    import uvicorn

    from launchpoint.api import create_app
    from launchpoint.engine import WorkspaceEngine

    WorkspaceEngine._rebuild_for_write = WorkspaceEngine._mark_stale  # type: ignore[method-assign]
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


def measure(db: Any, args: argparse.Namespace, figures: dict[str, Any]) -> None:
    dataset = load_movielens(db, args)
    if dataset is None:
        return
    lp = Launchpoint(db.settings(), migrate=False)
    try:
        store = lp.workspace(dataset.workspace).store
        user_ids = [u["id"] for u in store.iter_users()]
        spec = store.list_segments()[0][0].model_dump(mode="json")
    finally:
        lp.close()
    rng = np.random.default_rng(args.seed)
    count = int(args.rate * args.seconds)
    paths = [
        f"/v1/users/{urllib.parse.quote(str(u), safe='')}/ribbons?layers=3&cards=10"
        for u in rng.choice(np.array(user_ids, dtype=object), count)
    ]
    headers = {"X-Workspace": dataset.workspace}
    env = {
        "LAUNCHPOINT_DATABASE_URL": db.url,
        "LAUNCHPOINT_WORKSPACE": dataset.workspace,
        "LAUNCHPOINT_REFRESH_SECONDS": str(REFRESH_SECONDS),
        "LAUNCHPOINT_DATA_DIR": str(db.folder),
    }
    uvicorn = [sys.executable, "-m", "uvicorn", "launchpoint.api:create_app", "--factory",
               "--log-level", "warning", "--no-access-log"]  # fmt: skip
    previous = [sys.executable, str(Path(__file__).resolve()), "--serve-previous"]
    servers = [("now: built beside, in the writer's request", "now", uvicorn),
               ("before: rebuilt by the next request", "before", previous)]  # fmt: skip
    rows = []
    for name, tag, command in servers:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with server([*command, "--host", "127.0.0.1", "--port", str(port)], env, port, 120) as proc:
            run_load(proc.pid, base, headers, paths[:50], 4, None, 60)  # warm
            writes: list[float] = []
            stop = threading.Event()
            writer = threading.Thread(
                target=_change_segment,
                args=(base, headers, spec, args.write_every, stop, writes),
                daemon=True,
            )
            writer.start()
            load = run_load(proc.pid, base, headers, paths, args.connections, args.rate,
                            args.seconds * 3)  # fmt: skip
            stop.set()
            writer.join(600)
        pages, wrote = percentiles_ms(load.latencies), percentiles_ms(writes)
        slow = int(sum(1 for s in load.latencies if s * 1000 > SLOW_MS))
        rows.append([name, len(load.latencies), load.errors, pages["p50"], pages["p99"],
                     pages["max"], slow, len(writes), wrote["p50"], wrote["max"]])  # fmt: skip
        for stat in ("p50", "p99", "max"):
            figures[f"{tag}_pages_{stat}_ms"] = pages[stat]
        figures[f"{tag}_pages_over_{SLOW_MS:g}_ms"] = slow
        figures[f"{tag}_pages_errors"] = load.errors
        figures[f"{tag}_writes"] = len(writes)
        figures[f"{tag}_write_p50_ms"] = wrote["p50"]
        figures[f"{tag}_write_max_ms"] = wrote["max"]
    columns = ["server", "pages", "errors", "p50", "p99", "max", f">{SLOW_MS:g} ms", "writes",
               "write p50", "write max"]  # fmt: skip
    print_table(
        f"{dataset.description}: home pages at {args.rate:g} req/s from {args.connections} "
        f"clients for {args.seconds:g} s, a segment changed every {args.write_every:g} s; ms",
        columns,
        rows,
    )


def _change_segment(
    base: str,
    headers: dict[str, str],
    spec: dict[str, Any],
    every: float,
    stop: threading.Event,
    writes: list[float],
) -> None:
    """Every ``every`` seconds until ``stop``: the segment saved with a new name (a new
    version), each write's seconds into ``writes``."""
    import httpx

    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        n = 0
        while not stop.wait(every):
            n += 1
            body = {**spec, "name": f"{spec['name']} ({n})"}
            start = time.perf_counter()
            response = client.put(f"/v1/segments/{spec['id']}", json=body)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"the write failed: {response.text[:500]}")
            writes.append(time.perf_counter() - start)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Home pages served at a fixed rate while a segment is changed every few "
        "seconds: the server now (the writer's request builds the new state beside the one "
        "serving) against the same server rebuilding on the next request, as before. Prints a "
        "table, then one JSON line.",
    )
    add_database_arguments(parser)
    parser.add_argument("--rate", type=float, default=50.0, help="Pages per second.")
    parser.add_argument("--seconds", type=float, default=30.0, help="How long the load runs.")
    parser.add_argument("--connections", type=int, default=16, help="Clients sending pages.")
    parser.add_argument("--write-every", type=float, default=5.0, help="Seconds between writes.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--movielens", type=Path, default=MOVIELENS_SMALL)
    parser.add_argument("--segments", type=Path, default=ML_SEGMENTS)
    parser.add_argument("--layers", type=int, nargs="+", default=[3], help=argparse.SUPPRESS)
    parser.add_argument("--cards", type=int, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.write_every <= 0 or args.connections < 1:
        parser.error("--rate, --seconds and --write-every must be above 0, --connections 1+")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--serve-previous" in argv:
        serve_previous(argv)
        return
    args = parse_args(argv)
    figures: dict[str, Any] = {}
    with bench_database(args, "underload") as db:
        print(f"writes_under_load on {machine_line(db)}")
        measure(db, args, figures)
    figures["backend"] = db.dialect
    emit_json(figures)


if __name__ == "__main__":
    main()
