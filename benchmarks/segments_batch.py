"""Batch segment membership: generated users x rules with aggregates over generated events,
Launchpoint's batch path next to the same rules written by hand in DuckDB SQL, and the
real-time path (one user, one new event, every membership again).

Data (numpy, seeded): users with categorical, numeric, boolean, date-as-text, list and nested
attributes, held as the list of row dicts the serving state holds; a catalogue with
categories, prices, brands and risk levels; events of ten types over a year, users and items
drawn with a long tail. 50 rules in the shape of DESIGN.md's examples: attribute conditions,
count/sum/distinct/first_seen/last_seen within windows, conditions on the event's item,
affinity, and segment() references two levels deep.

Side by side, in this process, on the same data:

- Launchpoint: ``aggregate_values`` (event conditions vectorised) and
  ``evaluate_segments_in_order`` over one ``RuleBatch`` (user columns built once, one Polars
  pass per dependency level): aggregates + rules, from the event arrays and the user dicts;
- DuckDB: one hand-written query (a FILTERed aggregate per aggregate over the events joined to
  the items, then the 50 predicates per user, segment references as nested levels) over tables
  loaded beforehand: the floor of the ratio.

Both give every user's membership in every rule; the counts are printed per rule, with any
user on whom they disagree. Affinity columns (the state's category interest, not membership's
work) are computed once beforehand and given to both.

Run:  .venv/bin/python benchmarks/segments_batch.py --help
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from _common import (
    add_profile_argument,
    emit_json,
    machine_line,
    maybe_profile,
    peak_rss_mb,
    percentiles_ms,
    print_table,
    rss_mb,
)

from launchpoint.segments.compiler import (
    NOW_KEY,
    CompiledRule,
    affinity_key,
    compile_rule,
    segment_key,
)
from launchpoint.segments.membership import (
    BatchStats,
    EventColumns,
    RuleBatch,
    aggregate_calls,
    aggregate_values,
    evaluate_segments_in_order,
)
from launchpoint.segments.realtime import UserEvent, evaluate_user, user_aggregate_values

NOW = 1_735_689_600.0  # 2025-01-01T00:00:00Z
DAY = 86_400.0
TYPES = ("view", "click", "save", "like", "share", "purchase", "rate", "dismiss", "search", "dwell")
TYPE_SHARES = (0.52, 0.2, 0.05, 0.06, 0.02, 0.03, 0.03, 0.03, 0.03, 0.03)
REGIONS = ("north", "south", "east", "west", "central", "islands")
PLANS = ("free", "pro", "business")
RISK_PROFILES = ("cautious", "balanced", "growth", "aggressive")
GOALS = ("income", "growth", "retirement", "saving", "learning", "trading")
COUNTRIES = ("NO", "SE", "DK", "FI", "DE", "NL", "FR", "UK")
CATEGORIES = ("equity", "etf", "bond", "crypto", "real_estate", "dividends", "commodities",
              "cash", "green", "tech", "health", "energy", "emerging", "small_caps", "value",
              "momentum", "esg", "gold", "infrastructure", "options")  # fmt: skip
ASSET_CLASSES = ("equity", "etf", "bond", "crypto", "fund")
AFFINITY = ("equity", "bond", "crypto", "real_estate")


@dataclass(frozen=True)
class BenchRule:
    id: str
    rule: str  # Launchpoint's rule language
    sql: str  # the same rule by hand, over the DuckDB columns below


def w(days: int) -> str:
    """A window's lower bound in SQL: events with ts in [now - days, now]."""
    return f"e.ts BETWEEN {NOW - days * DAY} AND {NOW}"


# The aggregates the SQL rules read, by column name. count/sum/distinct are 0 without events.
SQL_AGGREGATES: dict[str, str] = {
    "click_30d": f"count(*) FILTER (WHERE e.type = 'click' AND {w(30)})",
    "purchase_90d": f"count(*) FILTER (WHERE e.type = 'purchase' AND {w(90)})",
    "spend_180d": f"sum(e.value) FILTER (WHERE e.type = 'purchase' AND {w(180)})",
    "dismiss_30d": f"count(*) FILTER (WHERE e.type = 'dismiss' AND {w(30)})",
    "engage_30d": f"count(*) FILTER (WHERE e.type IN ('save', 'like', 'share') AND {w(30)})",
    "good_rates_180d": f"count(*) FILTER (WHERE e.type = 'rate' AND e.value >= 4 AND {w(180)})",
    "any_7d": f"count(*) FILTER (WHERE {w(7)})",
    "any_ever": "count(*)",
    "spend_ever": "sum(e.value) FILTER (WHERE e.type = 'purchase')",
    "purchases_ever": "count(*) FILTER (WHERE e.type = 'purchase')",
    "crypto_buys_180d": "count(*) FILTER "
                        f"(WHERE e.type = 'purchase' AND i.category = 'crypto' AND {w(180)})",
    "etf_views_30d": "count(*) FILTER (WHERE e.type IN ('view', 'click') "
                     f"AND i.category IN ('equity', 'etf') AND {w(30)})",
    "risky_saves": "count(*) FILTER (WHERE e.type = 'save' AND i.risk >= 5)",
    "bond_spend": "sum(e.value) FILTER (WHERE e.type = 'purchase' AND i.category = 'bond')",
    "pricey_clicks_30d": f"count(*) FILTER (WHERE e.type = 'click' AND i.price > 100 AND {w(30)})",
    "dividend_saves_180d": "count(*) FILTER (WHERE list_contains(i.categories, 'dividends') "
                           f"AND e.type IN ('save', 'purchase') AND {w(180)})",
    "crypto_views_7d": "count(*) FILTER "
                       f"(WHERE e.type = 'view' AND i.asset_class = 'crypto' AND {w(7)})",
    "click_7d": f"count(*) FILTER (WHERE e.type = 'click' AND {w(7)})",
    "view_30d": f"count(*) FILTER (WHERE e.type = 'view' AND {w(30)})",
    "last_seen": "max(e.ts)",
    "first_seen": "min(e.ts)",
    "last_purchase": "max(e.ts) FILTER (WHERE e.type = 'purchase')",
}  # fmt: skip
# distinct(...): the number of distinct items among the events WHERE this holds. Written as a
# DISTINCT subquery each: DuckDB's count(DISTINCT ...) FILTER (...) takes ten times longer.
SQL_DISTINCT: dict[str, str] = {
    "viewed_30d": f"e.type = 'view' AND {w(30)}",
    "bought_items_365d": f"e.type = 'purchase' AND {w(365)}",
    "brand_views_90d": f"e.type = 'view' AND i.brand = 'brand_7' AND {w(90)}",
}
NULL_WHEN_NONE = {"last_seen", "first_seen", "last_purchase"}


def d(days: int) -> float:
    return NOW - days * DAY


RULES: list[BenchRule] = [
    BenchRule("north", "region = 'north'", "region = 'north'"),
    BenchRule("paying_30plus", "plan in ('pro', 'business') and age >= 30",
              "plan IN ('pro', 'business') AND age >= 30"),
    BenchRule("risk_takers", "risk_profile in ('growth', 'aggressive')",
              "risk_profile IN ('growth', 'aggressive')"),
    BenchRule("young_adults", "age between 25 and 34", "age BETWEEN 25 AND 34"),
    BenchRule("rich_quiet", "balance > 10000 and not newsletter",
              "balance > 10000 AND NOT coalesce(newsletter, false)"),
    BenchRule("income_goal", "goals contains 'income'", "list_contains(goals, 'income')"),
    BenchRule("norwegians", "address.country = 'NO'", "country = 'NO'"),
    BenchRule("recent_signups", "signup_date > now() - 90d", f"epoch(signup_date) > {d(90)}"),
    BenchRule("old_accounts", "created_at < now() - 365d", f"created_at < {d(365)}"),
    BenchRule("no_plan", "plan is null", "plan IS NULL"),
    BenchRule("seniors_or_cautious", "age > 60 or risk_profile = 'cautious'",
              "coalesce(age > 60, false) OR risk_profile = 'cautious'"),
    BenchRule("retirement_50", "goals contains 'retirement' and age >= 50",
              "list_contains(goals, 'retirement') AND age >= 50"),
    BenchRule("active_explorers",
              "count(event = 'click', within = '30d') >= 5 "
              "and risk_profile in ('growth', 'aggressive')",
              "click_30d >= 5 AND risk_profile IN ('growth', 'aggressive')"),
    BenchRule("recent_buyers", "count(event = 'purchase', within = '90d') >= 1",
              "purchase_90d >= 1"),
    BenchRule("spenders_180d", "sum(event = 'purchase', within = '180d') >= 500",
              "spend_180d >= 500"),
    BenchRule("browsers", "distinct(event = 'view', within = '30d') >= 10", "viewed_30d >= 10"),
    BenchRule("lapsed", "last_seen() < now() - 60d", f"last_seen < {d(60)}"),
    BenchRule("seen_this_week", "last_seen() > now() - 7d", f"last_seen > {d(7)}"),
    BenchRule("newcomers", "first_seen() > now() - 30d", f"first_seen > {d(30)}"),
    BenchRule("dismissers", "count(event = 'dismiss', within = '30d') >= 3", "dismiss_30d >= 3"),
    BenchRule("engaged", "count(event in ('save', 'like', 'share'), within = '30d') >= 3",
              "engage_30d >= 3"),
    BenchRule("happy_raters", "count(event = 'rate' and value >= 4, within = '180d') >= 2",
              "good_rates_180d >= 2"),
    BenchRule("very_active", "count(within = '7d') >= 10", "any_7d >= 10"),
    BenchRule("never_active", "count() = 0", "any_ever = 0"),
    BenchRule("big_spenders", "sum(event = 'purchase') >= 2000", "spend_ever >= 2000"),
    BenchRule("collectors", "distinct(event = 'purchase', within = '365d') >= 3",
              "bought_items_365d >= 3"),
    BenchRule("lapsed_buyers",
              "last_seen(event = 'purchase') < now() - 180d and count(event = 'purchase') >= 1",
              f"last_purchase < {d(180)} AND purchases_ever >= 1"),
    BenchRule("crypto_buyers",
              "count(event = 'purchase' and category = 'crypto', within = '180d') >= 1",
              "crypto_buys_180d >= 1"),
    BenchRule("etf_watchers",
              "count(event in ('view', 'click') and item.category in ('equity', 'etf'), "
              "within = '30d') >= 5",
              "etf_views_30d >= 5"),
    BenchRule("risky_savers", "count(event = 'save' and item.risk >= 5) >= 2", "risky_saves >= 2"),
    BenchRule("bond_buyers", "sum(event = 'purchase' and category = 'bond') >= 300",
              "bond_spend >= 300"),
    BenchRule("brand_fans",
              "distinct(event = 'view' and item.brand = 'brand_7', within = '90d') >= 2",
              "brand_views_90d >= 2"),
    BenchRule("premium_clickers", "count(event = 'click' and price > 100, within = '30d') >= 3",
              "pricey_clicks_30d >= 3"),
    BenchRule("dividend_savers",
              "count(categories contains 'dividends' and event in ('save', 'purchase'), "
              "within = '180d') >= 1",
              "dividend_saves_180d >= 1"),
    BenchRule("income_seekers",
              "goals contains 'income' or count(event in ('save', 'purchase') "
              "and categories contains 'dividends', within = '180d') >= 1",
              "coalesce(list_contains(goals, 'income'), false) OR dividend_saves_180d >= 1"),
    BenchRule("young_crypto_curious",
              "count(event = 'view' and asset_class = 'crypto', within = '7d') >= 3 and age < 35",
              "crypto_views_7d >= 3 AND age < 35"),
    BenchRule("equity_fans", "affinity('equity') >= 0.8", "aff_equity >= 0.8"),
    BenchRule("bond_seniors", "affinity('bond') > 0.5 and age >= 50",
              "aff_bond > 0.5 AND age >= 50"),
    BenchRule("crypto_aggressive", "affinity('crypto') >= 0.3 and risk_profile = 'aggressive'",
              "aff_crypto >= 0.3 AND risk_profile = 'aggressive'"),
    BenchRule("property_browsers",
              "affinity('real_estate') > 0 and count(event = 'purchase', within = '90d') = 0",
              "aff_real_estate > 0 AND purchase_90d = 0"),
    BenchRule("north_west_clickers",
              "region in ('north', 'west') and count(event = 'click', within = '7d') >= 2",
              "region IN ('north', 'west') AND click_7d >= 2"),
    BenchRule("upsell", "plan = 'free' and count(event = 'view', within = '30d') >= 20",
              "plan = 'free' AND view_30d >= 20"),
    BenchRule("wealthy_active", "balance >= 50000 and last_seen() > now() - 30d",
              f"balance >= 50000 AND last_seen > {d(30)}"),
    BenchRule("subscribed_silent",
              "newsletter = true and count(event = 'click', within = '30d') = 0",
              "coalesce(newsletter, false) AND click_30d = 0"),
    BenchRule("city_3_active", "address.city = 'city_3' and count() > 0",
              "city = 'city_3' AND any_ever > 0"),
    BenchRule("explorers_with_money", "segment('active_explorers') and balance > 1000",
              "active_explorers AND balance > 1000"),
    BenchRule("vip", "segment('big_spenders') or segment('recent_buyers')",
              "big_spenders OR recent_buyers"),
    BenchRule("loyal", "not segment('lapsed') and segment('collectors')",
              "NOT lapsed AND collectors"),
    BenchRule("bold_not_cautious",
              "segment('crypto_aggressive') and not segment('seniors_or_cautious')",
              "crypto_aggressive AND NOT seniors_or_cautious"),
    BenchRule("vip_north", "segment('vip') and region = 'north'", "vip AND region = 'north'"),
]  # fmt: skip


# -- data -------------------------------------------------------------------------------
@dataclass
class Data:
    user_rows: list[dict[str, Any]]
    user_columns: dict[str, Any]  # the same users, column by column, for DuckDB
    item_rows: list[dict[str, Any]]
    item_columns: dict[str, Any]
    item_ids: list[str]
    events: EventColumns
    affinity: dict[str, np.ndarray]  # category -> every user's affinity


def generate(n_users: int, n_items: int, n_events: int, seed: int) -> Data:
    rng = np.random.default_rng(seed)
    created = NOW - rng.uniform(0, 3 * 365 * DAY, n_users).round()
    age = rng.integers(18, 91, n_users).astype(np.float64)
    age[rng.random(n_users) < 0.05] = np.nan
    plan = rng.choice(len(PLANS), n_users, p=[0.7, 0.22, 0.08])
    plan_missing = rng.random(n_users) < 0.03
    newsletter = rng.random(n_users) < 0.4
    newsletter_missing = rng.random(n_users) < 0.1
    users = {
        "region": rng.choice(len(REGIONS), n_users, p=[0.25, 0.2, 0.2, 0.15, 0.15, 0.05]),
        "risk_profile": rng.choice(len(RISK_PROFILES), n_users, p=[0.3, 0.35, 0.25, 0.1]),
        "balance": np.round(rng.lognormal(8.5, 1.4, n_users), 2),
        "country": rng.choice(len(COUNTRIES), n_users),
        "city": rng.integers(0, 50, n_users),
        "goal_mask": rng.random((n_users, len(GOALS))) < 0.18,
    }
    signup = np.datetime_as_string(created.astype("datetime64[s]"), unit="D")
    combos = [[g for k, g in enumerate(GOALS) if code >> k & 1] for code in range(2 ** len(GOALS))]
    goal_codes = users["goal_mask"] @ (1 << np.arange(len(GOALS)))
    goal_lists = [list(combos[code]) for code in goal_codes.tolist()]  # one list per user
    user_rows: list[dict[str, Any]] = []
    for n, (reg, risk, bal, cty, city, a, p, pm, nl, nlm, sd, cr) in enumerate(
        zip(users["region"].tolist(), users["risk_profile"].tolist(), users["balance"].tolist(),
            users["country"].tolist(), users["city"].tolist(), age.tolist(), plan.tolist(),
            plan_missing.tolist(), newsletter.tolist(), newsletter_missing.tolist(),
            signup.tolist(), created.tolist(), strict=True)
    ):  # fmt: skip
        user_rows.append(
            {
                "region": REGIONS[reg],
                "plan": None if pm else PLANS[p],
                "risk_profile": RISK_PROFILES[risk],
                "age": None if a != a else int(a),
                "balance": bal,
                "newsletter": None if nlm else nl,
                "signup_date": sd,
                "goals": goal_lists[n],
                "address": {"country": COUNTRIES[cty], "city": f"city_{city}"},
                "id": f"u{n}",
                "created_at": cr,
                NOW_KEY: NOW,
            }
        )
    user_columns = {
        "uid": np.arange(n_users, dtype=np.int32),
        "region": (users["region"], REGIONS),
        "plan": (np.where(plan_missing, -1, plan), PLANS),
        "risk_profile": (users["risk_profile"], RISK_PROFILES),
        "age": age,
        "balance": users["balance"],
        "newsletter": (newsletter, newsletter_missing),
        "signup_date": signup.astype("datetime64[D]"),
        "created_at": created,
        "goals": goal_lists,
        "country": (users["country"], COUNTRIES),
        "city": (users["city"], tuple(f"city_{c}" for c in range(50))),
    }

    category = rng.choice(len(CATEGORIES), n_items)
    second = rng.choice(len(CATEGORIES), n_items)
    has_second = rng.random(n_items) < 0.3
    price = np.round(rng.lognormal(3.5, 1.0, n_items), 2)
    brand = rng.integers(0, 200, n_items)
    risk = rng.integers(1, 8, n_items)
    asset = rng.choice(len(ASSET_CLASSES), n_items)
    item_ids = [f"i{n}" for n in range(n_items)]
    categories = [
        [CATEGORIES[c], CATEGORIES[s]] if h and s != c else [CATEGORIES[c]]
        for c, s, h in zip(category.tolist(), second.tolist(), has_second.tolist(), strict=True)
    ]
    item_rows = [
        {"category": CATEGORIES[c], "price": p, "brand": f"brand_{b}", "risk": r,
         "asset_class": ASSET_CLASSES[a], "id": item_ids[n], "title": "", "text": "",
         "categories": categories[n], "available": True, "created_at": NOW - 400 * DAY,
         "sensitive": [], NOW_KEY: NOW}
        for n, (c, p, b, r, a) in enumerate(
            zip(category.tolist(), price.tolist(), brand.tolist(), risk.tolist(), asset.tolist(),
                strict=True)
        )
    ]  # fmt: skip
    item_columns = {
        "iid": np.arange(n_items, dtype=np.int32),
        "category": (category, CATEGORIES),
        "categories": categories,
        "price": price,
        "brand": (brand, tuple(f"brand_{b}" for b in range(200))),
        "risk": risk.astype(np.int32),
        "asset_class": (asset, ASSET_CLASSES),
    }

    # A long tail of activity and of popularity.
    user_weight = rng.lognormal(0.0, 1.2, n_users)
    user = _draw(rng, user_weight, n_events)
    item = _draw(rng, 1.0 / np.arange(1, n_items + 1) ** 0.8, n_events)
    type_code = rng.choice(len(TYPES), n_events, p=TYPE_SHARES).astype(np.int16)
    item[type_code == TYPES.index("search")] = -1
    value = np.full(n_events, np.nan)
    buy = type_code == TYPES.index("purchase")
    value[buy] = rng.integers(10, 500, int(buy.sum()))  # whole amounts: sums are exact anywhere
    rate = type_code == TYPES.index("rate")
    value[rate] = rng.integers(1, 6, int(rate.sum()))
    dwell = type_code == TYPES.index("dwell")
    value[dwell] = rng.integers(1, 300, int(dwell.sum()))
    ts = NOW - rng.uniform(0, 365 * DAY, n_events).round()
    oldest_first = np.argsort(ts, kind="stable")  # as storage hands them to the state
    events = EventColumns(
        user[oldest_first], item[oldest_first], type_code[oldest_first],
        value[oldest_first], ts[oldest_first], TYPES,
    )  # fmt: skip
    affinity = _affinity(events, category, n_users)
    return Data(user_rows, user_columns, item_rows, item_columns, item_ids, events, affinity)


def _draw(rng: np.random.Generator, weight: np.ndarray, n: int) -> np.ndarray:
    cdf = np.cumsum(weight / weight.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n)), len(weight) - 1).astype(np.int32)


def _affinity(events: EventColumns, category: np.ndarray, n_users: int) -> dict[str, np.ndarray]:
    """Positive interest per category, scaled so each user's strongest is 1 (the shape of
    the state's category interest; computed once, given to both sides)."""
    from launchpoint.ranking.signals import event_weights

    weights = np.clip(event_weights(events.types, events.type_code, events.value), 0, None)
    has = events.item >= 0
    cells = events.user[has].astype(np.int64) * len(CATEGORIES) + category[events.item[has]]
    interest = np.bincount(cells, weights=weights[has], minlength=n_users * len(CATEGORIES))
    interest = interest.reshape(n_users, len(CATEGORIES))
    top = interest.max(axis=1, keepdims=True)
    scaled = np.divide(interest, top, out=np.zeros_like(interest), where=top > 0)
    return {c: np.ascontiguousarray(scaled[:, CATEGORIES.index(c)]) for c in AFFINITY}


# -- Launchpoint --------------------------------------------------------------------------
@dataclass(frozen=True)
class Took:
    """Wall-clock seconds, and CPU seconds of every thread of this process: on a shared
    machine the second says how much work there was, the first how long it took today."""

    wall: float
    cpu: float

    def __add__(self, other: Took) -> Took:
        return Took(self.wall + other.wall, self.cpu + other.cpu)


class Stopwatch:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> Took:
        wall, cpu = time.perf_counter(), time.process_time()
        took = Took(wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return took


@dataclass
class LaunchpointRun:
    members: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    aggregates: Took
    rules: Took
    rules_again: Took
    stats: BatchStats
    n_aggregates: int


def run_launchpoint(data: Data, compiled: dict[str, CompiledRule]) -> LaunchpointRun:
    n_users = len(data.user_rows)
    stats = BatchStats()
    watch = Stopwatch()
    aggregates = [a for rule in compiled.values() for a in rule.aggregates]
    values = aggregate_values(
        aggregates, data.events, data.item_rows, data.item_ids, n_users, NOW,
        calls=aggregate_calls(compiled.values()), stats=stats,
    )  # fmt: skip
    aggregated = watch.lap()
    for category in AFFINITY:
        values[affinity_key(category)] = data.affinity[category]
    batch = RuleBatch(data.user_rows, "users", stats)
    members = evaluate_segments_in_order(batch, compiled, values)
    ruled = watch.lap()
    # Again over the same batch: the user columns are built, what is left is the rules.
    evaluate_segments_in_order(batch, compiled, dict(values))
    again = watch.lap()
    return LaunchpointRun(
        members, values, aggregated, ruled, again, stats, len({a.key for a in aggregates})
    )


def legacy_seconds(
    data: Data, compiled: dict[str, CompiledRule], values: dict[str, np.ndarray], sample: int
) -> float:
    """What the closure path (one call per user per rule) takes, measured on ``sample`` users
    and scaled to all of them."""
    n_users = len(data.user_rows)
    sample = min(sample, n_users)
    start = time.perf_counter()
    for rule in compiled.values():
        keys = [k for k in values if k in _keys(rule)]
        for i in range(sample):
            row = dict(data.user_rows[i])
            for key in keys:
                value = float(values[key][i])
                row[key] = None if value != value else value
            rule.matches(row)
    return (time.perf_counter() - start) * n_users / max(sample, 1)


def _keys(rule: CompiledRule) -> set[str]:
    return {
        *(a.key for a in rule.aggregates),
        *(affinity_key(c) for c in rule.affinities),
        *(segment_key(s) for s in rule.segments),
    }


# -- DuckDB -------------------------------------------------------------------------------
def load_duckdb(data: Data) -> Any:
    import duckdb
    import pandas as pd

    def categorical(codes_and_names: tuple[np.ndarray, tuple[str, ...]]) -> Any:
        codes, names = codes_and_names
        return pd.Categorical.from_codes(codes, categories=list(names))

    u = data.user_columns
    newsletter, missing = u["newsletter"]
    users = pd.DataFrame(
        {
            "uid": u["uid"],
            "region": categorical(u["region"]),
            "plan": categorical(u["plan"]),
            "risk_profile": categorical(u["risk_profile"]),
            "age": u["age"],
            "balance": u["balance"],
            "newsletter": pd.arrays.BooleanArray(newsletter, missing),
            "signup_date": pd.Series(u["signup_date"].astype("datetime64[s]")),
            "created_at": u["created_at"],
            "goals": u["goals"],
            "country": categorical(u["country"]),
            "city": categorical(u["city"]),
            **{f"aff_{c}": data.affinity[c] for c in AFFINITY},
        }
    )
    i = data.item_columns
    items = pd.DataFrame(
        {
            "iid": i["iid"],
            "category": categorical(i["category"]),
            "categories": i["categories"],
            "price": i["price"],
            "brand": categorical(i["brand"]),
            "risk": i["risk"],
            "asset_class": categorical(i["asset_class"]),
        }
    )
    e = data.events
    events = pd.DataFrame(
        {
            "uid": e.user,
            "iid": e.item,
            "type": pd.Categorical.from_codes(e.type_code, categories=list(TYPES)),
            "value": e.value,  # NaN reads as NULL
            "ts": e.ts,
        }
    )
    con = duckdb.connect()
    for name, frame in (("users", users), ("items", items), ("events", events)):
        con.register(f"{name}_frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_frame")
        con.unregister(f"{name}_frame")
    return con


def duckdb_query(rules: Sequence[BenchRule]) -> str:
    ids = {r.id for r in rules}
    words = {word for r in rules for word in re.findall(r"[a-z_0-9]+", r.sql)}
    used = [name for name in SQL_AGGREGATES if name in words]
    distinct = [name for name in SQL_DISTINCT if name in words]
    level: dict[str, int] = {}
    for r in rules:  # rules name only earlier rules
        refs = [word for word in re.findall(r"[a-z_0-9]+", r.sql) if word in ids and word != r.id]
        level[r.id] = 1 + max((level[x] for x in refs), default=-1)

    def items_join(sql: str) -> str:
        return " LEFT JOIN items i ON i.iid = e.iid" if "i." in sql else ""

    parts = []
    joins = ""
    columns = []
    if used:
        aggregates = ",\n  ".join(f"{SQL_AGGREGATES[n]} AS {n}" for n in used)
        join = items_join(" ".join(SQL_AGGREGATES[n] for n in used))
        parts.append(f"agg AS (SELECT e.uid,\n  {aggregates}\n FROM events e{join} GROUP BY e.uid)")
        joins += " LEFT JOIN agg USING (uid)"
    for name in distinct:
        where = SQL_DISTINCT[name]
        parts.append(
            f"d_{name} AS (SELECT uid, count(*) AS {name} FROM (SELECT DISTINCT e.uid, e.iid "
            f"FROM events e{items_join(where)} WHERE e.iid >= 0 AND {where}) GROUP BY uid)"
        )
        joins += f" LEFT JOIN d_{name} USING (uid)"
    for name in [*used, *distinct]:
        columns.append(name if name in NULL_WHEN_NONE else f"coalesce({name}, 0) AS {name}")
    selected = ", ".join(["u.*", *columns])
    parts.append(f"base AS (SELECT {selected} FROM users u{joins})")
    source = "base"
    for depth in range(max(level.values(), default=-1) + 1):
        predicates = ",\n  ".join(
            f"coalesce(({r.sql}), false) AS {r.id}" for r in rules if level[r.id] == depth
        )
        parts.append(f"level{depth} AS (SELECT *,\n  {predicates}\n FROM {source})")
        source = f"level{depth}"
    # The memberships come back as bits of a few integers per user: fetching 50 boolean
    # columns of 1M rows into numpy costs DuckDB more than the query itself.
    packed = [
        " | ".join(f"({r.id}::UBIGINT << {k})" for k, r in enumerate(rules[start : start + 60]))
        + f" AS bits{start // 60}"
        for start in range(0, len(rules), 60)
    ]
    return "WITH " + ",\n".join(parts) + f"\nSELECT uid, {', '.join(packed)} FROM {source}"


def run_duckdb(con: Any, rules: Sequence[BenchRule]) -> tuple[dict[str, np.ndarray], Took]:
    query = duckdb_query(rules)
    watch = Stopwatch()
    result = con.execute(query).fetchnumpy()
    users = np.asarray(result["uid"])
    members = {}
    for k, r in enumerate(rules):
        bits = np.asarray(result[f"bits{k // 60}"], dtype=np.uint64)
        column = np.zeros(len(users), dtype=bool)
        column[users] = (bits >> np.uint64(k % 60)) & np.uint64(1) == 1
        members[r.id] = column
    return members, watch.lap()


# -- real time ----------------------------------------------------------------------------
def run_realtime(
    data: Data,
    compiled: dict[str, CompiledRule],
    order: list[str],
    batch_members: dict[str, np.ndarray],
    samples: int,
    seed: int,
) -> dict[str, Any]:
    """For sampled users: one new event, then every aggregate and membership of that user
    again with realtime.py. Also checks that, before the event, real time gives what the
    batch gave."""
    events = data.events
    by_user = np.argsort(events.user, kind="stable")
    bounds = np.searchsorted(events.user[by_user], np.arange(len(data.user_rows) + 1))
    aggregates = list({a.key: a for rule in compiled.values() for a in rule.aggregates}.values())
    rng = np.random.default_rng(seed + 1)
    users = rng.choice(len(data.user_rows), min(samples, len(data.user_rows)), replace=False)
    timings: list[float] = []
    cpu_timings: list[float] = []  # this thread's CPU: what a busy machine cannot inflate
    sizes: list[int] = []
    disagreements = 0
    # Which aggregates each (event type, item) meets, shared by every user as the serving
    # state shares it: the steady state of a server, not a cold start.
    memo: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for u in users.tolist():
        idx = by_user[bounds[u] : bounds[u + 1]]
        own = [
            UserEvent(i, TYPES[k], None if v != v else v, t)
            for i, k, v, t in zip(
                events.item[idx].tolist(), events.type_code[idx].tolist(),
                events.value[idx].tolist(), events.ts[idx].tolist(), strict=True,
            )
        ]  # fmt: skip
        row = data.user_rows[u]
        affinity = {affinity_key(c): float(data.affinity[c][u]) for c in AFFINITY}
        before = _user_memberships(aggregates, own, row, affinity, data, compiled, order, memo)
        disagreements += any(before[s] != bool(batch_members[s][u]) for s in order)
        own.append(UserEvent(int(rng.integers(len(data.item_ids))), "click", None, NOW))
        start, cpu = time.perf_counter(), time.thread_time()
        _user_memberships(aggregates, own, row, affinity, data, compiled, order, memo)
        timings.append(time.perf_counter() - start)
        cpu_timings.append(time.thread_time() - cpu)
        sizes.append(len(own))
    figures = percentiles_ms(timings)
    figures.update({f"cpu_{k}": v for k, v in percentiles_ms(cpu_timings).items()})
    figures["events_p50"] = float(np.percentile(sizes, 50)) if sizes else 0.0
    figures["events_max"] = float(max(sizes, default=0))
    figures["disagreements"] = disagreements
    figures["users"] = len(timings)
    return figures


def _user_memberships(
    aggregates: list[Any],
    own: list[UserEvent],
    row: dict[str, Any],
    affinity: dict[str, float],
    data: Data,
    compiled: dict[str, CompiledRule],
    order: list[str],
    memo: dict[tuple[Any, ...], tuple[int, ...]],
) -> dict[str, bool]:
    values: dict[str, Any] = dict(affinity)
    values.update(user_aggregate_values(aggregates, own, data.item_rows, data.item_ids, NOW, memo))
    out: dict[str, bool] = {}
    for segment_id in order:
        out[segment_id] = evaluate_user(compiled[segment_id], row, values)
        values[segment_key(segment_id)] = out[segment_id]
    return out


# -- main ---------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rules", type=int, default=len(RULES), help="the first N rules")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--realtime-users", type=int, default=2000,
                        help="users sampled for the real-time path")  # fmt: skip
    parser.add_argument("--legacy-sample", type=int, default=20_000,
                        help="users the closure path is timed on, scaled (0: skip)")  # fmt: skip
    parser.add_argument("--skip-duckdb", action="store_true")
    add_profile_argument(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import polars as pl

    rules = RULES[: args.rules]
    print(f"segments_batch on {machine_line()}, Polars {pl.__version__} "
          f"({pl.thread_pool_size()} threads)")  # fmt: skip
    print(f"{args.users:,} users, {args.items:,} items, {args.events:,} events, "
          f"{len(rules)} rules")  # fmt: skip
    start = time.perf_counter()
    data = generate(args.users, args.items, args.events, args.seed)
    print(f"generated in {time.perf_counter() - start:.1f} s; resident {rss_mb():,.0f} MB")
    compiled = {r.id: compile_rule(r.rule, "users") for r in rules}
    figures: dict[str, Any] = {"users": args.users, "events": args.events, "rules": len(rules)}

    with maybe_profile(args.profile):
        lp = run_launchpoint(data, compiled)
    lp_total = lp.aggregates + lp.rules
    steps: list[list[Any]] = [
        ["Launchpoint: aggregates", lp.aggregates.wall, lp.aggregates.cpu],
        ["Launchpoint: rules (user columns from dicts included)", lp.rules.wall, lp.rules.cpu],
        ["Launchpoint: total", lp_total.wall, lp_total.cpu],
        ["Launchpoint: rules again (columns already built)", lp.rules_again.wall,
         lp.rules_again.cpu],
    ]  # fmt: skip
    figures.update(
        launchpoint_s=lp_total.wall, launchpoint_cpu_s=lp_total.cpu,
        aggregates_s=lp.aggregates.wall, rules_s=lp.rules.wall, rules_again_s=lp.rules_again.wall,
        distinct_aggregates=lp.n_aggregates, fallbacks=len(lp.stats.fallbacks),
    )  # fmt: skip

    counts: list[list[Any]] = []
    if not args.skip_duckdb:
        watch = Stopwatch()
        con = load_duckdb(data)
        print(f"DuckDB tables loaded in {watch.lap().wall:.1f} s (not timed)")
        duck, duck_took = run_duckdb(con, rules)
        ratio = lp_total.wall / duck_took.wall
        steps.append(["DuckDB: the same rules by hand (one query)", duck_took.wall, duck_took.cpu])
        steps.append(["ratio Launchpoint / DuckDB", ratio, lp_total.cpu / duck_took.cpu])
        figures.update(duckdb_s=duck_took.wall, duckdb_cpu_s=duck_took.cpu, ratio=ratio)
        mismatched = 0
        for r in rules:
            ours, theirs = lp.members[r.id], duck[r.id]
            differ = int((ours != theirs).sum())
            mismatched += differ > 0
            counts.append([r.id, int(ours.sum()), int(theirs.sum()), differ])
        figures["mismatched_rules"] = mismatched
        con.close()
        print_table("Members per rule", ["rule", "Launchpoint", "DuckDB", "users differing"],
                    counts)  # fmt: skip
    if args.legacy_sample:
        values = lp.values | _segments(lp.members)
        legacy = legacy_seconds(data, compiled, values, args.legacy_sample)
        sample = min(args.legacy_sample, args.users)
        steps.append(
            [f"closure path, rules only (timed on {sample:,} users, scaled)", legacy, None]
        )
        figures["closure_rules_s"] = legacy
    print_table("Batch membership", ["step", "wall s", "CPU s (all threads)"], steps)
    if lp.stats.fallbacks:
        print("\nevaluated with closures:")
        for fallback in lp.stats.fallbacks:
            print(f"  {fallback.source}: {fallback.reason}")
    else:
        print("\nevery rule and event condition ran vectorised (0 fallbacks)")

    if args.realtime_users:
        order = list(lp.members)  # evaluate_segments_in_order's order: dependencies first
        rt = run_realtime(data, compiled, order, lp.members, args.realtime_users, args.seed)
        print_table(
            f"Real time: one new event, then all {len(rules)} memberships of that user "
            f"(realtime.py), {rt['users']:,} users, their events: p50 {rt['events_p50']:.0f}, "
            f"max {rt['events_max']:.0f}",
            ["ms", "p50", "p95", "p99", "max"],
            [["wall", rt["p50"], rt["p95"], rt["p99"], rt["max"]],
             ["CPU of the thread", rt["cpu_p50"], rt["cpu_p95"], rt["cpu_p99"], rt["cpu_max"]]],
        )  # fmt: skip
        print(f"users where real time, before the event, disagrees with the batch: "
              f"{rt['disagreements']}")  # fmt: skip
        figures.update(realtime_p50_ms=rt["p50"], realtime_p99_ms=rt["p99"],
                       realtime_cpu_p99_ms=rt["cpu_p99"],
                       realtime_disagreements=rt["disagreements"])  # fmt: skip
    figures["peak_rss_mb"] = peak_rss_mb()
    print(f"\npeak resident memory {figures['peak_rss_mb']:,.0f} MB")
    emit_json(figures)


def _segments(members: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {segment_key(s): m.astype(np.float64) for s, m in members.items()}


if __name__ == "__main__":
    main()
