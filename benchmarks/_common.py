"""What the benchmark scripts share: the database and workspace they run in, memory readings,
percentiles, a plain-text table and the closing JSON line."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launchpoint.engine import Launchpoint
from launchpoint.settings import Settings
from launchpoint.storage import tables

# Read in place, never copied into the repo (DESIGN.md section 10).
MOVIELENS_SMALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-latest-small"


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default="",
        help="sqlite:///path or postgresql://user@host:port/db (default: a temporary SQLite "
        "file, removed afterwards). Every run uses its own new workspace, so a shared "
        "PostgreSQL database is safe.",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="Keep the benchmark's workspace (and temporary files) instead of deleting them.",
    )


@dataclass
class BenchDatabase:
    """Where a benchmark writes: a database URL, a fresh workspace id, and a folder for
    side files (the floor's own SQLite file)."""

    url: str
    prefix: str
    folder: Path
    dialect: str
    workspaces: list[str]

    def new_workspace(self, name: str) -> str:
        """A fresh workspace id for one part of the run; deleted with the run's others."""
        workspace = f"{self.prefix}-{name}"
        self.workspaces.append(workspace)
        return workspace

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {"database_url": self.url, "data_dir": self.folder}
        values.update(overrides)
        return Settings(**values)

    def psycopg_conninfo(self) -> str:
        """The URL as psycopg takes it (no SQLAlchemy driver suffix)."""
        url = self.url
        for prefix in ("postgresql+psycopg://", "postgres://"):
            if url.startswith(prefix):
                url = "postgresql://" + url[len(prefix) :]
        return url

    def sqlite_floor_path(self, name: str) -> Path:
        return self.folder / f"floor-{name}.sqlite"


@contextmanager
def bench_database(args: argparse.Namespace, name: str) -> Iterator[BenchDatabase]:
    """A database for one run, whose workspaces are removed afterwards unless --keep."""
    folder = Path(tempfile.mkdtemp(prefix=f"launchpoint-bench-{name}-"))
    url = args.database_url or f"sqlite:///{folder / 'launchpoint.db'}"
    dialect = "postgresql" if url.startswith(("postgres://", "postgresql")) else "sqlite"
    prefix = f"bench-{name}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    db = BenchDatabase(url, prefix, folder, dialect, [])
    try:
        yield db
    finally:
        if args.keep:
            print(f"kept workspaces {db.workspaces} in {redact(url)} (side files in {folder})")
        else:
            if db.workspaces:
                drop_workspaces(db, db.workspaces)
            shutil.rmtree(folder, ignore_errors=True)


def drop_workspaces(db: BenchDatabase, workspaces: Sequence[str]) -> None:
    """Delete every row of these workspaces, so benchmarks leave a shared database as found."""
    if db.dialect == "sqlite" and not Path(db.url.removeprefix("sqlite:///")).exists():
        return
    lp = Launchpoint(db.settings(), migrate=False)
    try:
        with lp.db.write() as conn:
            for table in reversed(tables.metadata.sorted_tables):
                column = "id" if table is tables.workspaces else "workspace_id"
                conn.execute(table.delete().where(table.c[column].in_(list(workspaces))))
    finally:
        lp.close()


# -- memory ------------------------------------------------------------------------------
def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """Resident memory now (Linux); 0 where /proc is not there."""
    kb = _status_kb("VmRSS")
    return (kb or 0) / 1024


def peak_rss_mb() -> float:
    """Peak resident memory: since the last reset_peak_rss() on Linux, else since start
    (resource.getrusage)."""
    kb = _status_kb("VmHWM")
    if kb is None:
        import resource

        scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024**2
    return kb / 1024


def reset_peak_rss() -> bool:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def process_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process (Linux), 0 where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- figures -----------------------------------------------------------------------------
def percentiles_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99, max and mean of durations in seconds, as milliseconds."""
    import numpy as np

    if not samples_s:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"),
                "max": float("nan"), "mean": float("nan")}  # fmt: skip
    a = np.asarray(samples_s, dtype=np.float64) * 1000.0
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(a.max()),
            "mean": float(a.mean())}  # fmt: skip


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in
                    enumerate(zip(headers, widths, strict=True))))  # fmt: skip
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(row, widths, strict=True))))  # fmt: skip


def machine_line(db: BenchDatabase | None = None) -> str:
    parts = [
        f"{os.cpu_count()} CPUs",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
        platform.platform(terse=True),
    ]
    if db is not None:
        parts.append(f"database: {db.dialect} ({redact(db.url)})")
    return ", ".join(parts)


def redact(url: str) -> str:
    """The URL without a password, for printing."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"


def emit_json(figures: dict[str, Any]) -> None:
    """The benchmark's last line: its figures as one JSON object."""
    clean = {
        k: (None if v != v else round(v, 4)) if isinstance(v, float) else v
        for k, v in figures.items()
    }
    print(json.dumps(clean, separators=(", ", ": ")))


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        action="store_true",
        help="Run under cProfile and print the functions that took the most time (in this "
        "process's main thread) before the JSON line. The profiler slows Python code, not "
        "the database, so read the figures of a profiled run as where the time goes only.",
    )


@contextmanager
def maybe_profile(enabled: bool, top: int = 30) -> Iterator[None]:
    if not enabled:
        yield
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        print(f"\nprofile: the {top} functions with the most time of their own")
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.strip_dirs().sort_stats("tottime").print_stats(top)
        print(f"profile: the {top} functions with the most time, callees included")
        stats.sort_stats("cumulative").print_stats(top)
