"""What the benchmark scripts share: the database and workspace they run in, memory readings,
percentiles, a plain-text table and the closing JSON line."""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
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


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (Linux): a server's worker processes."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with suppress(OSError):
                queue += [int(child) for child in task.read_text().split()]
    return found


def process_rss_mb(pid: int) -> float:
    """Resident memory of a process and its live descendants (a server's workers), in MB."""
    total = 0.0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process and its live descendants (Linux), 0 where
    unknown."""
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


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


def add_profile_argument(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument(
        "--profile",
        action="store_true",
        help=help
        or "Run under cProfile and print the functions that took the most time (in this "
        "process's main thread) before the JSON line. The profiler slows Python code, not "
        "the database, so read the figures of a profiled run as where the time goes only.",
    )


def print_profile(profiler: Any, top: int = 30, title: str = "") -> None:
    """The functions with the most time of their own, then with callees included."""
    import pstats

    print(f"\nprofile{title}: the {top} functions with the most time of their own")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    print(f"profile{title}: the {top} functions with the most time, callees included")
    stats.sort_stats("cumulative").print_stats(top)


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


# -- HTTP load ---------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


STARTED = "Application startup complete."  # what uvicorn logs (level info) as a worker starts


@contextmanager
def server(
    command: list[str],
    env: dict[str, str],
    port: int,
    ready_seconds: float = 60.0,
    workers: int = 1,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server subprocess on 127.0.0.1:port, yielded once /healthz answers and, with several
    ``workers`` (uvicorn at log level info), once each has logged that its startup is
    complete. Its stderr goes to a file (a pipe nobody reads could fill and stall it) and is
    shown if it dies."""
    import httpx

    with tempfile.NamedTemporaryFile(prefix="launchpoint-bench-server-", suffix=".log") as log:
        proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                stderr=log)  # fmt: skip
        try:
            deadline = time.monotonic() + ready_seconds
            while True:
                if proc.poll() is not None:
                    err = Path(log.name).read_text(errors="replace")
                    raise RuntimeError(f"server exited with {proc.returncode}:\n{err[-3000:]}")
                try:
                    url = f"http://127.0.0.1:{port}/healthz"
                    log_text = Path(log.name).read_text(errors="replace")
                    started = workers == 1 or log_text.count(STARTED) >= workers
                    if started and httpx.get(url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server did not answer /healthz with {workers} worker(s) started "
                        f"within {ready_seconds:.0f} s"
                    )
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


def client_threads(
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
    threads = client_threads(base, headers, clients, jobs, latencies, errors)
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
