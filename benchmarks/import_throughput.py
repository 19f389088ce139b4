"""Bulk-import throughput of Launchpoint, next to the floor of the same rows written plainly.

(a) ml-latest-small through the real path (open_movielens + load_sources), split into
    parse+validate and store, then the same import again (every event a duplicate);
(b) generated demo events (1M by default) through WorkspaceEngine.add_events in batches.

The floor is the same event rows written into an equivalent table (same columns, primary key
and indexes, same batch size, one transaction per batch, ON CONFLICT DO NOTHING) with the
driver alone: sqlite3 executemany for SQLite; psycopg executemany and psycopg COPY (into a
staging table, then merged with ON CONFLICT DO NOTHING, so it stays idempotent) for
PostgreSQL. Floor and Launchpoint run batch by batch in turn, in one process, so a noisy
machine slows both alike; the ratio is the figure to read.

Run:  .venv/bin/python benchmarks/import_throughput.py --help
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from _common import (
    MOVIELENS_SMALL,
    BenchDatabase,
    add_database_arguments,
    add_profile_argument,
    bench_database,
    emit_json,
    machine_line,
    maybe_profile,
    peak_rss_mb,
    print_table,
    reset_peak_rss,
    rss_mb,
)

from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.engine import IngestResult, Launchpoint, WorkspaceEngine
from launchpoint.importing import ImportSource, open_movielens
from launchpoint.importing.loader import BATCH_SIZE, load_sources

T = TypeVar("T")
EventRow = tuple[Any, ...]

_COLUMNS = ("workspace_id", "message_id", "user_id", "item_id", "type", "value", "ts",
            "context", "properties", "received_at")  # fmt: skip


# -- the floor: the same rows, the driver alone ------------------------------------------
def _ddl(table: str) -> list[str]:
    """The events table of storage/tables.py, column for column, with its two indexes."""
    return [
        f"CREATE TABLE {table} (workspace_id VARCHAR(128) NOT NULL, "
        "message_id VARCHAR(256) NOT NULL, user_id VARCHAR(256) NOT NULL, "
        "item_id VARCHAR(256), type VARCHAR(64) NOT NULL, value FLOAT, ts FLOAT NOT NULL, "
        "context JSON NOT NULL, properties JSON NOT NULL, received_at FLOAT NOT NULL, "
        "PRIMARY KEY (workspace_id, message_id))",
        f"CREATE INDEX {table}_user ON {table} (workspace_id, user_id, ts)",
        f"CREATE INDEX {table}_ts ON {table} (workspace_id, ts)",
    ]


def _json_text(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) if value else "{}"


def event_rows(workspace: str, records: Iterable[EventIn], now: float) -> list[EventRow]:
    """The rows Launchpoint stores for these events (the floor is given them ready-made)."""
    return [
        (workspace, r.resolved_message_id(), r.user_id, r.item_id, r.type, r.value,
         r.timestamp if r.timestamp is not None else now, _json_text(r.context),
         _json_text(r.properties), now)
        for r in records
    ]  # fmt: skip


class Floor:
    name = "floor"

    def write(self, rows: Sequence[EventRow]) -> int:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteFloor(Floor):
    """sqlite3 executemany into its own file, with Launchpoint's pragmas (WAL, NORMAL)."""

    name = "sqlite3 executemany"

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        for statement in _ddl("events"):
            self.conn.execute(statement)
        marks = ", ".join("?" * len(_COLUMNS))
        self.sql = (f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({marks}) "
                    "ON CONFLICT (workspace_id, message_id) DO NOTHING")  # fmt: skip

    def write(self, rows: Sequence[EventRow]) -> int:
        before = self.conn.total_changes
        self.conn.execute("BEGIN")
        self.conn.executemany(self.sql, rows)
        self.conn.execute("COMMIT")
        return self.conn.total_changes - before

    def close(self) -> None:
        self.conn.close()


class PostgresFloor(Floor):
    """psycopg into a table of its own in the same database: executemany, or COPY."""

    def __init__(self, conninfo: str, table: str, use_copy: bool) -> None:
        import psycopg

        self.conn = psycopg.connect(conninfo)
        self.table, self.use_copy = table, use_copy
        self.name = "psycopg copy+merge" if use_copy else "psycopg executemany"
        with self.conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _ddl(table):
                cur.execute(statement)
            cur.execute(f"CREATE TEMP TABLE {table}_stage (LIKE {table}) ON COMMIT DELETE ROWS")
        self.conn.commit()
        cols = ", ".join(_COLUMNS)
        self.copy_sql = f"COPY {table}_stage ({cols}) FROM STDIN"
        self.merge_sql = (f"INSERT INTO {table} SELECT * FROM {table}_stage "
                          "ON CONFLICT (workspace_id, message_id) DO NOTHING")  # fmt: skip
        marks = ", ".join(["%s"] * len(_COLUMNS))
        self.insert_sql = (f"INSERT INTO {table} ({cols}) VALUES ({marks}) "
                           "ON CONFLICT (workspace_id, message_id) DO NOTHING")  # fmt: skip

    def write(self, rows: Sequence[EventRow]) -> int:
        with self.conn.cursor() as cur:
            if self.use_copy:
                with cur.copy(self.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(self.merge_sql)
                inserted = cur.rowcount
            else:
                cur.executemany(self.insert_sql, rows)
                inserted = cur.rowcount
        self.conn.commit()
        return inserted

    def close(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {self.table}")
        self.conn.commit()
        self.conn.close()


def open_floors(db: BenchDatabase, tag: str) -> list[Floor]:
    if db.dialect == "sqlite":
        return [SqliteFloor(db.sqlite_floor_path(tag))]
    base = f"bench_floor_{db.prefix.rsplit('-', 1)[-1]}_{tag}"
    return [PostgresFloor(db.psycopg_conninfo(), f"{base}_copy", use_copy=True),
            PostgresFloor(db.psycopg_conninfo(), f"{base}_exec", use_copy=False)]  # fmt: skip


def floor_key(floor: Floor) -> str:
    return floor.name.replace(" ", "_").replace("+", "_").replace("sqlite3_", "sqlite_")


# -- timing the real import path ---------------------------------------------------------
class TimedEngine:
    """Passes load_sources' batches to the engine, adding up the time they take to store, and
    hands each batch of events to the floors right after (building their rows is not timed),
    so Launchpoint and the floors write the same rows side by side."""

    def __init__(self, engine: WorkspaceEngine, floors: Sequence[Floor]) -> None:
        self.engine = engine
        self.floors = floors
        self.store_seconds = 0.0
        self.floor_seconds = {floor.name: 0.0 for floor in floors}
        self.untimed_seconds = 0.0

    def _timed(self, call: Any, records: Sequence[Any]) -> IngestResult:
        start = time.perf_counter()
        result: IngestResult = call(records)
        self.store_seconds += time.perf_counter() - start
        return result

    def add_items(self, records: Sequence[ItemIn]) -> IngestResult:
        return self._timed(self.engine.add_items, records)

    def add_users(self, records: Sequence[UserIn]) -> IngestResult:
        return self._timed(self.engine.add_users, records)

    def add_events(self, records: Sequence[EventIn]) -> IngestResult:
        result = self._timed(self.engine.add_events, records)
        start = time.perf_counter()
        rows = event_rows(self.engine.workspace_id, records, time.time())
        self.untimed_seconds += time.perf_counter() - start
        for floor in self.floors:
            start = time.perf_counter()
            floor.write(rows)
            elapsed = time.perf_counter() - start
            self.floor_seconds[floor.name] += elapsed
            self.untimed_seconds += elapsed
        return result


def import_sources(
    engine: WorkspaceEngine, sources: list[ImportSource], floors: Sequence[Floor]
) -> list[dict[str, Any]]:
    """load_sources, one source at a time so each gets its own figures."""
    out = []
    for source in sources:
        timed = TimedEngine(engine, floors)
        start = time.perf_counter()
        summary = load_sources(timed, [source])  # type: ignore[arg-type]
        total = time.perf_counter() - start - timed.untimed_seconds
        out.append({
            "source": source.description, "kind": source.kind,
            "rows": sum(summary.loaded.values()) + summary.duplicates + summary.skipped,
            "stored": sum(summary.loaded.values()), "duplicates": summary.duplicates,
            "skipped": summary.skipped, "total_s": total, "store_s": timed.store_seconds,
            "parse_s": total - timed.store_seconds, "floor_s": timed.floor_seconds,
        })  # fmt: skip
    return out


def batches(records: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(records)
    while batch := list(itertools.islice(it, size)):
        yield batch


def csv_floor(directory: Path) -> tuple[int, float]:
    """The plainest read of the same event files: csv.reader, cells into tuples, no checks."""
    start = time.perf_counter()
    n = 0
    for name in ("ratings.csv", "tags.csv"):
        path = directory / name
        if not path.is_file():
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for cells in reader:
                _ = (cells[0], cells[1], float(cells[2]) if name == "ratings.csv" else cells[2],
                     int(cells[3]))  # fmt: skip
                n += 1
    return n, time.perf_counter() - start


def rate(n: float, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("nan")


# -- (a) ml-latest-small ------------------------------------------------------------------
def bench_movielens(lp: Launchpoint, db: BenchDatabase, args: argparse.Namespace) -> dict[str, Any]:
    directory = args.movielens
    ws = lp.workspace(db.new_workspace("movielens"))
    floors = open_floors(db, "ml")
    try:
        reset_peak_rss()
        base_rss = rss_mb()
        first = import_sources(ws, open_movielens(directory), floors)
        peak = peak_rss_mb()
        second = import_sources(ws, open_movielens(directory), floors)
    finally:
        for floor in floors:
            floor.close()
    csv_rows, csv_seconds = csv_floor(directory)

    table = []
    for label, runs in (("first import", first), ("second import (duplicates)", second)):
        for r in runs:
            table.append([f"{label}: {r['source']}", r["rows"], r["stored"], r["duplicates"],
                          r["parse_s"], r["store_s"], r["total_s"],
                          rate(r["rows"], r["total_s"])])  # fmt: skip
    print_table(
        f"(a) ml-latest-small through open_movielens + load_sources ({directory})",
        ["source", "rows", "stored", "dups", "parse+validate s", "store s", "total s", "rows/s"],
        table,
    )

    def events_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
        ev = [r for r in runs if r["kind"] == "events"]
        out: dict[str, Any] = {k: sum(r[k] for r in ev)
                               for k in ("rows", "parse_s", "store_s", "total_s")}  # fmt: skip
        out["floor_s"] = {f.name: sum(r["floor_s"][f.name] for r in ev) for f in floors}
        return out

    e1, e2 = events_of(first), events_of(second)
    floor_first, floor_second = e1["floor_s"], e2["floor_s"]
    n_floor = n_events = e1["rows"]
    all_rows = sum(r["rows"] for r in first)
    all_seconds = sum(r["total_s"] for r in first)
    summary = [
        ["Launchpoint: whole import, all rows (items+users+events)", all_rows, all_seconds,
         rate(all_rows, all_seconds), None],
        ["Launchpoint: events, parse+validate+store", n_events, e1["total_s"],
         rate(n_events, e1["total_s"]), None],
        ["Launchpoint: events, parse+validate only", n_events, e1["parse_s"],
         rate(n_events, e1["parse_s"]), e1["parse_s"] / csv_seconds],
        ["  floor: csv.reader into tuples", csv_rows, csv_seconds, rate(csv_rows, csv_seconds),
         1.0],
        ["Launchpoint: events, store only", n_events, e1["store_s"],
         rate(n_events, e1["store_s"]), None],
    ]  # fmt: skip
    main_floor = floors[0].name
    for floor in floors:
        summary.append([f"  floor: {floor.name}", n_floor, floor_first[floor.name],
                        rate(n_floor, floor_first[floor.name]),
                        e1["store_s"] / floor_first[floor.name]])  # fmt: skip
    summary.append(["Launchpoint: events again (all duplicates), total", e2["rows"],
                    e2["total_s"], rate(e2["rows"], e2["total_s"]), None])  # fmt: skip
    summary.append(["Launchpoint: events again, store only", e2["rows"], e2["store_s"],
                    rate(e2["rows"], e2["store_s"]), None])  # fmt: skip
    for floor in floors:
        summary.append([f"  floor: {floor.name}, again", n_floor, floor_second[floor.name],
                        rate(n_floor, floor_second[floor.name]),
                        e2["store_s"] / floor_second[floor.name]])  # fmt: skip
    print_table(
        "(a) summary: ratio = Launchpoint seconds / floor seconds on the same rows",
        ["what", "rows", "seconds", "rows/s", "ratio"],
        summary,
    )
    print(f"    resident memory: {base_rss:.0f} MB before, peak {peak:.0f} MB during the import")

    figures: dict[str, Any] = {
        "ml_events": int(n_events),
        "ml_rows_per_s": rate(all_rows, all_seconds),
        "ml_events_per_s": rate(n_events, e1["total_s"]),
        "ml_parse_validate_events_per_s": rate(n_events, e1["parse_s"]),
        "ml_store_events_per_s": rate(n_events, e1["store_s"]),
        "ml_csv_floor_rows_per_s": rate(csv_rows, csv_seconds),
        "ml_parse_vs_csv_floor": e1["parse_s"] / csv_seconds,
        "ml_duplicate_events_per_s": rate(e2["rows"], e2["total_s"]),
        "ml_duplicates": int(sum(r["duplicates"] for r in second)),
        "ml_peak_rss_mb": peak,
    }
    for floor in floors:
        key = floor_key(floor)
        figures[f"ml_floor_{key}_events_per_s"] = rate(n_floor, floor_first[floor.name])
        figures[f"ml_store_vs_{key}"] = e1["store_s"] / floor_first[floor.name]
        figures[f"ml_duplicate_store_vs_{key}"] = e2["store_s"] / floor_second[floor.name]
    figures["ml_store_vs_floor"] = e1["store_s"] / floor_first[main_floor]
    return figures


# -- (b) generated events ----------------------------------------------------------------
def bench_demo(lp: Launchpoint, db: BenchDatabase, args: argparse.Namespace) -> dict[str, Any]:
    try:
        from launchpoint.demo import generate_demo
    except ImportError:
        print("\n(b) skipped: launchpoint.demo is not there yet (generate_demo is missing)")
        return {}
    data = generate_demo(n_users=args.demo_users, n_items=args.demo_items,
                         n_events=args.demo_events, seed=args.seed)  # fmt: skip
    ws = lp.workspace(db.new_workspace("demo"))
    size = args.batch_size

    catalogue = []
    for label, records, add in (("items", data.items(), ws.add_items),
                                ("users", data.users(), ws.add_users)):  # fmt: skip
        n, generate, store = 0, 0.0, 0.0
        it = iter(records)
        while True:
            start = time.perf_counter()
            batch = list(itertools.islice(it, size))
            generate += time.perf_counter() - start
            if not batch:
                break
            start = time.perf_counter()
            add(batch)  # type: ignore[operator]
            store += time.perf_counter() - start
            n += len(batch)
        catalogue.append([f"Launchpoint: add_{label}", n, store, rate(n, store)])

    floors = open_floors(db, "demo")
    floor_seconds = dict.fromkeys((f.name for f in floors), 0.0)
    reset_peak_rss()
    base_rss = rss_mb()
    checkpoints: list[list[Any]] = []
    next_mark = 1
    n = stored = duplicates = 0
    generate = store = rows_build = 0.0
    wall = time.perf_counter()
    try:
        it = data.events()
        while True:
            start = time.perf_counter()
            batch = list(itertools.islice(it, size))
            generate += time.perf_counter() - start
            if not batch:
                break
            start = time.perf_counter()
            result = ws.add_events(batch)
            store += time.perf_counter() - start
            stored += result.stored
            duplicates += result.duplicates
            start = time.perf_counter()
            rows = event_rows(ws.workspace_id, batch, time.time())
            rows_build += time.perf_counter() - start
            for floor in floors:
                start = time.perf_counter()
                floor.write(rows)
                floor_seconds[floor.name] += time.perf_counter() - start
            n += len(batch)
            if n >= next_mark * data.n_events / 10 or n == data.n_events:
                checkpoints.append([n, store, rate(n, store), rss_mb(), peak_rss_mb()])
                while next_mark * data.n_events / 10 <= n:
                    next_mark += 1
    finally:
        for floor in floors:
            floor.close()
    wall = time.perf_counter() - wall
    peak = peak_rss_mb()

    print_table(
        f"(b) generated demo ({args.demo_users:,} users, {args.demo_items:,} items, "
        f"{args.demo_events:,} events, batches of {size:,}): events stored so far",
        ["events", "store s", "events/s", "RSS MB", "peak RSS MB"],
        checkpoints,
    )
    rows_table: list[list[Any]] = [[*row, None] for row in catalogue]
    rows_table.append(["Launchpoint: add_events", n, store, rate(n, store), None])
    for floor in floors:
        seconds = floor_seconds[floor.name]
        rows_table.append([f"  floor: {floor.name}", n, seconds, rate(n, seconds), store / seconds])
    rows_table.append(["(generating the events, not in the above)", n, generate,
                       rate(n, generate), None])  # fmt: skip
    rows_table.append(["(building the floor's rows, not in the above)", n, rows_build,
                       rate(n, rows_build), None])  # fmt: skip
    print_table(
        "(b) summary: ratio = Launchpoint seconds / floor seconds on the same rows",
        ["what", "rows", "seconds", "rows/s", "ratio"],
        rows_table,
    )
    print(f"    stored {stored:,}, duplicates {duplicates:,}; wall time of the loop {wall:.1f} s")
    print(f"    resident memory: {base_rss:.0f} MB before the events, peak {peak:.0f} MB")

    figures: dict[str, Any] = {
        "demo_events": n,
        "demo_events_per_s": rate(n, store),
        "demo_generate_events_per_s": rate(n, generate),
        "demo_peak_rss_mb": peak,
        "demo_rss_growth_mb": peak - base_rss,
        "demo_items_per_s": catalogue[0][3],
        "demo_users_per_s": catalogue[1][3],
    }
    for floor in floors:
        key = floor_key(floor)
        figures[f"demo_floor_{key}_events_per_s"] = rate(n, floor_seconds[floor.name])
        figures[f"demo_store_vs_{key}"] = store / floor_seconds[floor.name]
    figures["demo_store_vs_floor"] = store / floor_seconds[floors[0].name]
    return figures


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Events per second of Launchpoint's bulk import, next to the floor of the "
        "same rows written by the database driver alone. Prints tables, then one JSON line.",
    )
    add_database_arguments(parser)
    add_profile_argument(parser)
    parser.add_argument("--movielens", type=Path, default=MOVIELENS_SMALL,
                        help="ml-latest-small folder (default: %(default)s); part (a) is "
                        "skipped when it is absent.")  # fmt: skip
    parser.add_argument("--skip-movielens", action="store_true", help="Skip part (a).")
    parser.add_argument("--skip-demo", action="store_true", help="Skip part (b).")
    parser.add_argument("--demo-events", type=int, default=1_000_000,
                        help="Generated events for part (b) (default: %(default)s).")  # fmt: skip
    parser.add_argument("--demo-users", type=int, default=50_000,
                        help="Generated users for part (b) (default: %(default)s).")  # fmt: skip
    parser.add_argument("--demo-items", type=int, default=5_000,
                        help="Generated items for part (b) (default: %(default)s).")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7, help="Demo seed (default: %(default)s).")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help="Records per add_events call and per floor transaction "
                        "(default: %(default)s, the loader's).")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    figures: dict[str, Any] = {}
    with bench_database(args, "import") as db, maybe_profile(args.profile):
        print(f"import_throughput on {machine_line(db)}")
        lp = Launchpoint(db.settings())
        try:
            if args.skip_movielens:
                print("\n(a) skipped (--skip-movielens)")
            elif not (args.movielens / "ratings.csv").is_file():
                print(f"\n(a) skipped: no MovieLens data at {args.movielens} "
                      "(DESIGN.md section 10 says where it lives)")  # fmt: skip
            else:
                figures.update(bench_movielens(lp, db, args))
            if args.skip_demo:
                print("\n(b) skipped (--skip-demo)")
            else:
                figures.update(bench_demo(lp, db, args))
        finally:
            lp.close()
    figures["backend"] = db.dialect
    emit_json(figures)


if __name__ == "__main__":
    sys.exit(main())
