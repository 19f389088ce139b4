"""What this process's own writes about users and items cost the next page: a new user's
first event, a user created or changed through the users API, a user's profile edits (an
interest removed, consents), an item created or changed through the items API. Each is now
taken into the serving state (users in place, items into a new state sharing the users'
side); before, each marked the state stale and the next request rebuilt it from storage.

For each kind of write, in one process on the same data: N writes, each followed by the
written user's home page (3 ribbons x 10 cards, every guardrail on), timed from the write's
call to the page's return (an item write's page is a random user's); then the same write
followed by what the previous version did (the state marked stale, so the page rebuilds
it), a few times, as the peer. The rebuild path is the one the engine still takes for other
writes (segments, settings, bulk loads), so it is the previous behaviour, measured, not a
figure carried over.

On ml-latest-small (the default) or on generated data at 1M users x 100k items
(``--generated``, serving_scale.py's data; minutes to generate and load, about 90 s per
rebuild). Prints a table, then one JSON line.

Run:  .venv/bin/python benchmarks/writes_taken_in.py --help
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    bench_database,
    emit_json,
    machine_line,
    percentiles_ms,
    print_table,
)
from ribbons_latency import (
    ML_SEGMENTS,
    MOVIELENS_SMALL,
    REFRESH_SECONDS,
    Dataset,
    add_serving_arguments,
    load_movielens,
    settle_serving_arguments,
)

from launchpoint.domain import EventIn, ItemIn, UserIn
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.ranking.pipeline import RibbonRequest

# A write of one kind: (engine, n-th write, random draws) -> the user whose page follows.
Write = Callable[[WorkspaceEngine, int, np.random.Generator], str]


def _first_event(ws: WorkspaceEngine, n: int, rng: np.random.Generator) -> str:
    state = ws.state()
    user = f"newcomer-{uuid.uuid4().hex[:8]}"
    item = state.item_ids[int(rng.integers(len(state.item_ids)))]
    ws.add_events([EventIn(user_id=user, item_id=item, type="click")])
    return user


def _user_created(ws: WorkspaceEngine, n: int, rng: np.random.Generator) -> str:
    state = ws.state()
    user = f"created-{uuid.uuid4().hex[:8]}"
    interest = state.categories[int(rng.integers(len(state.categories)))]
    ws.add_users([UserIn(id=user, attributes={"interests": [interest]})])
    return user


def _existing(ws: WorkspaceEngine, rng: np.random.Generator) -> str:
    state = ws.state()
    return state.user_ids[int(rng.integers(len(state.user_ids)))]


def _user_changed(ws: WorkspaceEngine, n: int, rng: np.random.Generator) -> str:
    user = _existing(ws, rng)
    record = ws.store.get_user(user) or {}
    attributes = {**record.get("attributes", {}), "benchmark_edit": n}
    ws.add_users([UserIn(id=user, attributes=attributes, consents=record.get("consents", {}))])
    return user


def _interest_removed(ws: WorkspaceEngine, n: int, rng: np.random.Generator) -> str:
    state = ws.state()
    user = _existing(ws, rng)
    category = state.categories[int(np.argmax(state.category_affinity(state.user_index[user])))]
    ws.control.remove_interest(user, category)
    return user


def _consents(ws: WorkspaceEngine, n: int, rng: np.random.Generator) -> str:
    user = _existing(ws, rng)
    ws.control.set_consents(user, {"benchmark": bool(n % 2)})
    return user


def _item_created(ws: WorkspaceEngine, n: int, rng: np.random.Generator) -> str:
    state = ws.state()
    category = state.categories[int(rng.integers(len(state.categories)))]
    ws.add_items(
        [ItemIn(id=f"new-{uuid.uuid4().hex[:8]}", title=f"New {n}", categories=[category])]
    )
    return _existing(ws, rng)


def _item_changed(ws: WorkspaceEngine, n: int, rng: np.random.Generator) -> str:
    """An item taken off sale, or put back (every other write)."""
    state = ws.state()
    record = ws.store.get_item(state.item_ids[int(rng.integers(len(state.item_ids)))]) or {}
    fields = ("id", "title", "text", "categories", "attributes", "sensitive", "created_at")
    ws.add_items([ItemIn(**{k: record[k] for k in fields}, available=bool(n % 2))])
    return _existing(ws, rng)


WRITES: dict[str, Write] = {
    "new user's first event": _first_event,
    "user created (users API)": _user_created,
    "user changed (users API)": _user_changed,
    "interest removed (profile)": _interest_removed,
    "consents changed (profile)": _consents,
    "item created (items API)": _item_created,
    "item changed (items API)": _item_changed,
}


def measure(dataset: Dataset, db: Any, args: argparse.Namespace, figures: dict[str, Any]) -> None:
    lp = Launchpoint(db.settings(refresh_seconds=REFRESH_SECONDS), migrate=False)
    try:
        ws = lp.workspace(dataset.workspace)
        start = time.perf_counter()
        state = ws.state()
        build = time.perf_counter() - start
        print(f"\n== {dataset.description}: {len(state.user_ids):,} users, "
              f"{len(state.item_ids):,} items; state build {build:.2f} s")  # fmt: skip
        rng = np.random.default_rng(args.seed)

        def page(user: str) -> None:
            ws.ribbons(RibbonRequest(user, layers=max(args.layers), cards=args.cards))

        page(_existing(ws, rng))  # the first page's structures, made once
        rows: list[list[Any]] = []
        for name, write in WRITES.items():
            if args.only and not any(word in name for word in args.only):
                continue
            # As a server's state is, at its start and before a state built beside it serves
            # (the rebuilds below are on the request path, as before, and are not).
            ws.warm()
            taken, rebuilds = [], 0
            for n in range(args.writes):
                serving = ws.state()
                t = time.perf_counter()
                page(write(ws, n, rng))
                taken.append(time.perf_counter() - t)
                rebuilds += ws.state().built_at != serving.built_at
            before = []
            # What these writes did before: the state marked stale, not taken in, so the
            # next request rebuilds it.
            ws._take_in_write = lambda taken, too_big: ws._mark_stale()  # type: ignore[method-assign]
            try:
                for n in range(args.rebuilds):
                    t = time.perf_counter()
                    page(write(ws, args.writes + n, rng))
                    before.append(time.perf_counter() - t)
            finally:
                del ws._take_in_write
            now, then = percentiles_ms(taken), percentiles_ms(before)
            ratio = then["p50"] / now["p50"] if before else None
            rows.append([name, now["p50"], now["p99"], now["max"], rebuilds, then["p50"], ratio])
            key = name.split(" (")[0].replace("'s", "").replace(" ", "_")
            figures[f"{dataset.name}_{key}_p50_ms"] = now["p50"]
            figures[f"{dataset.name}_{key}_max_ms"] = now["max"]
            figures[f"{dataset.name}_{key}_rebuilt_ms"] = then["p50"] if before else None
        figures[f"{dataset.name}_state_build_s"] = build
        print_table(
            f"a write and the written user's next page, ms ({args.writes} writes each, taken "
            f"in; then {args.rebuilds} with a rebuild, as before)",
            ["write", "p50", "p99", "max", "rebuilds", "before p50", "x faster"],
            rows,
        )
    finally:
        lp.close()


def load_generated(db: Any, args: argparse.Namespace) -> Dataset:
    from serving_scale import configure, generate, load

    # A temporary database goes with its folder (deleting 15M rows first would take minutes);
    # a given one is left as found, its workspace deleted afterwards (as serving_scale.py).
    workspace = db.new_workspace("scale") if args.database_url else f"{db.prefix}-scale"
    g = generate(args.users, args.items, args.events, args.seed)
    lp = Launchpoint(db.settings())
    try:
        lp.workspace(workspace)
        took = load(Path(db.url.removeprefix("sqlite:///")), workspace, g)
        configure(lp, workspace, g, args)
    finally:
        lp.close()
    description = f"generated ({args.users:,} users, {args.items:,} items, {args.events:,} events)"
    return Dataset("scale", workspace, description, sum(took.values()), 0.0)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="A write about a user (first event, users API, profile edits) or an item "
        "(items API) and the next page: taken into the serving state, against the rebuild "
        "each write made before. Prints a table, then one JSON line.",
    )
    add_serving_arguments(parser)
    parser.add_argument("--writes", type=int, default=50, help="Writes per kind, taken in.")
    parser.add_argument(
        "--rebuilds", type=int, default=3, help="Writes per kind with a rebuild, as before."
    )
    parser.add_argument(
        "--generated",
        action="store_true",
        help="Generated data (serving_scale.py's) instead of ml-latest-small. SQLite only.",
    )
    parser.add_argument("--users", type=int, default=1_000_000, help="With --generated.")
    parser.add_argument("--items", type=int, default=100_000, help="With --generated.")
    parser.add_argument("--events", type=int, default=15_000_000, help="With --generated.")
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="WORD",
        help="Only the kinds of write whose name has one of these words (e.g. item).",
    )
    parser.add_argument("--movielens", type=Path, default=MOVIELENS_SMALL)
    parser.add_argument("--segments", type=Path, default=ML_SEGMENTS)
    args = settle_serving_arguments(parser, parser.parse_args(argv), argv)
    if args.writes < 1 or args.rebuilds < 0:
        parser.error("--writes must be at least 1 and --rebuilds at least 0")
    if args.generated and args.database_url and not args.database_url.startswith("sqlite"):
        parser.error("--generated loads its rows with sqlite3: SQLite only")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    figures: dict[str, Any] = {}
    with bench_database(args, "writes") as db:
        print(f"writes_taken_in on {machine_line(db)}")
        dataset = load_generated(db, args) if args.generated else load_movielens(db, args)
        if dataset is not None:
            measure(dataset, db, args, figures)
    figures["backend"] = db.dialect
    emit_json(figures)


if __name__ == "__main__":
    main()
