"""Serving at the scale of DESIGN.md section 9: a generated catalogue of 100k items, 1M users
and 15M events, five segments whose rules use attributes and aggregates, and a home page of 3
ribbons x 10 cards with every guardrail on; then ribbons_latency.py's measurements: the state
build (seconds and resident memory), the page latency in-process and over HTTP, next to a
numpy top-k and implicit's ALS recommend for the same users.

The data is seeded numpy with latent tastes: items have 1-3 of 24 categories (a long tail of
category sizes and of popularity), a format, a level, a price and a creation date (a few
percent each month); users have a region, a plan, an age band and consents, two favourite
categories and a long tail of activity; three events in four land in a favourite category,
dated over the last year (never before the item existed), oldest first. The rows are
written straight into the engine's SQLite tables (one transaction per 250k events) rather
than through the API, whose import path import_throughput.py measures on its own: here the
subject is serving. SQLite only.

If the machine cannot hold the full size, give a smaller --users/--items/--events: the
script prints a linear projection of build time and memory to 1M users.

Run:  .venv/bin/python benchmarks/serving_scale.py --help
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    bench_database,
    emit_json,
    machine_line,
    peak_rss_mb,
    print_table,
    reset_peak_rss,
)
from ribbons_latency import (
    Dataset,
    add_serving_arguments,
    guarded_surface,
    measure,
    settle_serving_arguments,
)

from launchpoint.domain.segments import SegmentSpec
from launchpoint.engine import Launchpoint
from launchpoint.ranking.state import item_row
from launchpoint.segments.compiler import compile_rule
from launchpoint.segments.membership import evaluate_items

DAY = 86_400.0
CATEGORIES = tuple(f"c{k:02d}" for k in range(24))
FORMATS = ("article", "video", "course", "podcast")
REGIONS = ("eu-west", "eu-north", "us-east", "us-west", "apac", "latam")
PLANS = ("free", "pro", "team")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
EVENT_TYPES = ("view", "click", "save", "like", "share", "purchase", "dismiss", "thumbs_down")
EVENT_SHARES = (0.55, 0.25, 0.06, 0.05, 0.02, 0.04, 0.02, 0.01)
FAVOURITE_SHARE = 0.75  # events in one of the user's two favourite categories
EVENT_CHUNK = 250_000  # events per transaction when loading
TARGET_USERS = 1_000_000

# Attributes and aggregates (count, distinct, windows, item fields inside the count, affinity),
# broad enough that a typical active user is in three of them.
SEGMENTS = [
    SegmentSpec(
        id="active_learners", name="Active learners", priority=1,
        users="count(event in ('click', 'save', 'like'), within = '90d') >= 1",
        items="format in ('course', 'video') and level >= 2",
        title="Keep learning",
    ),
    SegmentSpec(
        id="recent_buyers", name="Recent buyers", priority=2,
        users="count(event = 'purchase', within = '365d') >= 1",
        items="format = 'course' and price >= 20", title="More to learn",
    ),
    SegmentSpec(
        id="pros", name="Pro members", priority=3,
        users="plan in ('pro', 'team') and distinct(event = 'view', within = '90d') >= 2",
        items="level >= 3", title="For pros",
    ),
    SegmentSpec(
        id="readers", name="Readers", priority=4,
        users="region in ('eu-west', 'eu-north', 'us-east', 'us-west') and "
              "count(event = 'view' and format in ('article', 'podcast'), within = '180d') >= 2",
        items="format in ('article', 'podcast')", title="Worth a read",
    ),
    SegmentSpec(
        id="c01_lovers", name="c01 lovers", priority=5,
        users="affinity('c01') >= 0.5 and age_band in ('25-34', '35-44', '45-54')",
        items="categories contains 'c01'", title="Because you like c01",
    ),
]  # fmt: skip


@dataclass
class Generated:
    now: float
    item_categories: list[list[str]]
    item_format: np.ndarray
    item_level: np.ndarray
    item_price: np.ndarray
    item_created: np.ndarray
    item_available: np.ndarray
    item_sensitive: np.ndarray
    user_region: np.ndarray
    user_plan: np.ndarray
    user_age: np.ndarray
    user_created: np.ndarray
    user_consent: np.ndarray
    user_personal: np.ndarray
    ev_user: np.ndarray  # int32, oldest first
    ev_item: np.ndarray  # int32
    ev_type: np.ndarray  # int8, into EVENT_TYPES
    ev_value: np.ndarray  # float64, NaN where none
    ev_ts: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.user_region)

    @property
    def n_items(self) -> int:
        return len(self.item_format)

    def item_records(self) -> list[dict[str, Any]]:
        return [
            {"id": item_id(n), "title": f"Item {n}", "text": "", "categories": cats,
             "attributes": {"format": FORMATS[f], "level": lvl, "price": price},
             "available": avail, "created_at": created,
             "sensitive": ["crypto"] if sens else []}
            for n, (cats, f, lvl, price, avail, created, sens) in enumerate(zip(
                self.item_categories, self.item_format.tolist(), self.item_level.tolist(),
                self.item_price.tolist(), self.item_available.tolist(),
                self.item_created.tolist(), self.item_sensitive.tolist(), strict=True))
        ]  # fmt: skip


def item_id(n: int) -> str:
    return f"i{n:06d}"


def user_id(n: int) -> str:
    return f"u{n:07d}"


def generate(n_users: int, n_items: int, n_events: int, seed: int) -> Generated:
    rng = np.random.default_rng(seed)
    now = time.time()
    n_cats = len(CATEGORIES)
    cat_weight = 1.0 / np.arange(1, n_cats + 1) ** 0.7
    cat_p = cat_weight / cat_weight.sum()
    primary = rng.choice(n_cats, n_items, p=cat_p)
    extra = rng.integers(0, 3, n_items)  # 0-2 more categories
    others = rng.choice(n_cats, (n_items, 2), p=cat_p)
    item_categories = [
        list(dict.fromkeys(CATEGORIES[c] for c in (p, *o[:k])))
        for p, o, k in zip(primary.tolist(), others.tolist(), extra.tolist(), strict=True)
    ]
    created = now - np.minimum(rng.exponential(180 * DAY, n_items), 3 * 365 * DAY)
    # A global popularity rank; within a category, popularity follows it.
    rank = rng.permutation(n_items)
    weight = 1.0 / (rank + 10.0) ** 0.9

    favourites = rng.choice(n_cats, (n_users, 2), p=cat_p)
    activity = rng.lognormal(0.0, 1.1, n_users)
    counts = rng.poisson(activity / activity.sum() * n_events)
    ev_user = np.repeat(np.arange(n_users, dtype=np.int32), counts)
    n = len(ev_user)
    category = np.where(
        rng.random(n) < FAVOURITE_SHARE,
        favourites[ev_user, rng.integers(0, 2, n)],
        rng.choice(n_cats, n, p=cat_p),
    )
    ev_item = np.empty(n, dtype=np.int32)
    for c in range(n_cats):
        where = np.flatnonzero(category == c)
        items = np.flatnonzero(primary == c)
        if len(items) == 0:
            items = np.arange(n_items)
        cdf = np.cumsum(weight[items])
        pick = np.searchsorted(cdf, rng.random(len(where)) * cdf[-1])
        ev_item[where] = items[np.minimum(pick, len(items) - 1)]
    # Never before the item existed; denser lately.
    span = np.minimum(now - created[ev_item], 365 * DAY)
    ts = now - span * rng.random(n) ** 1.3
    ev_type = rng.choice(len(EVENT_TYPES), n, p=EVENT_SHARES).astype(np.int8)
    price = np.round(rng.lognormal(3.0, 0.9, n_items), 2)
    value = np.where(ev_type == EVENT_TYPES.index("purchase"), price[ev_item], np.nan)
    order = np.argsort(ts, kind="stable")
    return Generated(
        now=now,
        item_categories=item_categories,
        item_format=rng.choice(len(FORMATS), n_items, p=[0.4, 0.25, 0.2, 0.15]),
        item_level=rng.integers(1, 6, n_items),
        item_price=price,
        item_created=created,
        item_available=rng.random(n_items) >= 0.03,
        item_sensitive=rng.random(n_items) < 0.02,
        user_region=rng.choice(len(REGIONS), n_users, p=[0.22, 0.1, 0.25, 0.18, 0.17, 0.08]),
        user_plan=rng.choice(len(PLANS), n_users, p=[0.7, 0.25, 0.05]),
        user_age=rng.choice(len(AGE_BANDS), n_users),
        user_created=now - rng.uniform(0, 3 * 365 * DAY, n_users),
        user_consent=rng.random(n_users) < 0.3,
        user_personal=rng.random(n_users) >= 0.01,
        ev_user=ev_user[order],
        ev_item=ev_item[order],
        ev_type=ev_type[order],
        ev_value=value[order],
        ev_ts=ts[order],
    )


# -- loading -----------------------------------------------------------------------------------
def _user_rows(g: Generated, workspace: str) -> Iterator[tuple[Any, ...]]:
    for n, (region, plan, age, created, consent, personal) in enumerate(zip(
        g.user_region.tolist(), g.user_plan.tolist(), g.user_age.tolist(),
        g.user_created.tolist(), g.user_consent.tolist(), g.user_personal.tolist(),
        strict=True)):  # fmt: skip
        attributes = {"region": REGIONS[region], "plan": PLANS[plan], "age_band": AGE_BANDS[age]}
        consents = '{"crypto": true}' if consent else "{}"
        yield (workspace, user_id(n), json.dumps(attributes), consents, personal, created)


def _event_rows(g: Generated, workspace: str, start: int, end: int) -> Iterator[tuple[Any, ...]]:
    users = g.ev_user[start:end].tolist()
    items = g.ev_item[start:end].tolist()
    kinds = g.ev_type[start:end].tolist()
    values = g.ev_value[start:end].tolist()
    stamps = g.ev_ts[start:end].tolist()
    for n, (u, i, k, v, ts) in enumerate(zip(users, items, kinds, values, stamps, strict=True)):
        yield (workspace, f"e{start + n:09d}", user_id(u), item_id(i), EVENT_TYPES[k],
               None if v != v else v, ts, "{}", "{}", g.now)  # fmt: skip


def load(path: Path, workspace: str, g: Generated) -> dict[str, float]:
    """Write the generated rows into the engine's tables with sqlite3 alone; seconds per part."""
    took: dict[str, float] = {}
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")  # a throwaway database: no need to be durable
        conn.execute("PRAGMA cache_size=-1000000")  # 1 GB: the user index is written at random
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO items (workspace_id, id, title, text, categories, attributes, available,"
            " created_at, sensitive) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((workspace, r["id"], r["title"], r["text"], json.dumps(r["categories"]),
              json.dumps(r["attributes"]), r["available"], r["created_at"],
              json.dumps(r["sensitive"])) for r in g.item_records()),
        )  # fmt: skip
        conn.execute("COMMIT")
        took["items"] = time.perf_counter() - start
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO users (workspace_id, id, attributes, consents, personalisation, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            _user_rows(g, workspace),
        )
        conn.execute("COMMIT")
        took["users"] = time.perf_counter() - start
        start = time.perf_counter()
        n_events = len(g.ev_user)
        for first in range(0, n_events, EVENT_CHUNK):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO events (workspace_id, message_id, user_id, item_id, type, value, ts,"
                " context, properties, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _event_rows(g, workspace, first, min(first + EVENT_CHUNK, n_events)),
            )
            conn.execute("COMMIT")
        conn.execute(
            "UPDATE workspaces SET data_version = data_version + 1 WHERE id = ?", (workspace,)
        )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        took["events"] = time.perf_counter() - start
    finally:
        conn.close()
    return took


def configure(lp: Launchpoint, workspace: str, g: Generated, args: argparse.Namespace) -> None:
    """Store the segments and the guarded home surface. The editors' picks come from each
    segment's eligible items, ranked by how many events they drew."""
    records = g.item_records()
    rows = [item_row(r, g.now) for r in records]
    available = g.item_available
    eligible = {s.id: evaluate_items(compile_rule(s.items, "items"), rows) & available
                for s in SEGMENTS}  # fmt: skip
    popularity = np.bincount(g.ev_item, minlength=g.n_items).astype(np.float64)
    surface = guarded_surface(
        [r["id"] for r in records],
        eligible,
        dict.fromkeys(eligible, popularity),
        popularity,
        max(args.layers),
        args.cards,
    )
    lp.workspace(workspace).store.save_config(SEGMENTS, {"home": surface}, actor="benchmark")
    sizes = ", ".join(f"{k} {int(v.sum()):,}" for k, v in eligible.items())
    print(f"    eligible items per segment: {sizes}")


# -- main ----------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Serving at 100k items / 1M users (generated): state build time and "
        "memory, and the latency of a home page (3 ribbons x 10 cards, every guardrail on) "
        "in-process and over HTTP, next to numpy and implicit ALS floors. Prints tables, then "
        "one JSON line.",
    )
    add_serving_arguments(parser)
    parser.add_argument(
        "--users", type=int, default=TARGET_USERS, help="Users (default: %(default)s)."
    )
    parser.add_argument("--items", type=int, default=100_000, help="Items (default: %(default)s).")
    parser.add_argument(
        "--events", type=int, default=15_000_000, help="Events (default: %(default)s)."
    )
    args = parser.parse_args(argv)
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    if args.quick:
        for option, name, value in (("--users", "users", 20_000), ("--items", "items", 5_000),
                                    ("--events", "events", 300_000)):  # fmt: skip
            if option not in given:
                setattr(args, name, value)
    if "--model-family" not in given and not args.quick:
        # The hybrid's EASE and item-kNN do not train on 1M users x 100k items on a
        # 2-core machine in a benchmark's time; ALS (implicit's, inside Launchpoint) does.
        args.model_family = "als"
    args = settle_serving_arguments(parser, args, argv)
    if args.database_url and not args.database_url.startswith("sqlite"):
        parser.error("serving_scale.py loads its rows with sqlite3: SQLite only")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    figures: dict[str, Any] = {"users": args.users, "items": args.items}
    with bench_database(args, "scale") as db:
        print(f"serving_scale on {machine_line(db)}")
        # A temporary database goes with its folder: deleting 15M rows first would take
        # minutes. A given one is left as found (its workspace is deleted afterwards); a
        # kept one names its workspace.
        named = args.database_url or args.keep
        workspace = db.new_workspace("scale") if named else f"{db.prefix}-scale"
        reset_peak_rss()
        start = time.perf_counter()
        g = generate(args.users, args.items, args.events, args.seed)
        generate_s = time.perf_counter() - start
        figures["events"] = len(g.ev_user)
        print(f"\ngenerated {g.n_users:,} users, {g.n_items:,} items, {len(g.ev_user):,} events "
              f"in {generate_s:.1f} s (peak resident memory {peak_rss_mb():.0f} MB)")  # fmt: skip
        lp = Launchpoint(db.settings())
        try:
            lp.workspace(workspace)  # creates the workspace row
            took = load(Path(db.url.removeprefix("sqlite:///")), workspace, g)
            configure(lp, workspace, g, args)
        finally:
            lp.close()
        size_mb = Path(db.url.removeprefix("sqlite:///")).stat().st_size / 1024**2
        rows = [[part, n, seconds, n / seconds if seconds else None] for part, n, seconds in
                (("items", g.n_items, took["items"]), ("users", g.n_users, took["users"]),
                 ("events", len(g.ev_user), took["events"]))]  # fmt: skip
        print_table(f"loaded with sqlite3 executemany (database {size_mb:,.0f} MB)",
                    ["rows", "count", "seconds", "rows/s"], rows)  # fmt: skip
        figures["load_events_s"] = took["events"]
        figures["database_mb"] = size_mb
        description = (f"generated ({g.n_users:,} users, {g.n_items:,} items, "
                       f"{len(g.ev_user):,} events; {len(SEGMENTS)} segments)")  # fmt: skip
        dataset = Dataset("scale", workspace, description, sum(took.values()), 0.0)
        del g
        measure(dataset, db, args, figures)
        project(args, figures)
    figures["backend"] = db.dialect
    emit_json(figures)


def project(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """At a smaller size than 1M users: build time and memory scaled linearly to 1M users
    (with as many events per user), which is what one pass over the rows costs."""
    if args.users >= TARGET_USERS:
        return
    factor = TARGET_USERS / args.users
    base = figures["scale_rss_before_mb"]
    build = figures["scale_state_build_s"] * factor
    rss = base + (figures["scale_serving_rss_mb"] - base) * factor
    print(f"\nprojection to {TARGET_USERS:,} users ({factor:g} x this run, linear): state build "
          f"{build:.0f} s, serving resident memory {rss:,.0f} MB")  # fmt: skip
    figures["projected_state_build_s"] = build
    figures["projected_serving_rss_mb"] = rss


if __name__ == "__main__":
    main()
