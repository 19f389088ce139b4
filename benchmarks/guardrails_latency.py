"""Micro-timing of the full guardrail chain: a page of 3 ribbons x 10 cards, each ribbon with
a few thousand candidates, over a 100k-item catalogue (run: .venv/bin/python <this file>)."""

from __future__ import annotations

import json
import statistics
import time

import numpy as np

from launchpoint.ranking.guardrails import (
    CandidateList,
    Catalogue,
    DiversityConfig,
    EditorialConfig,
    EditorialPin,
    GuardrailChain,
    GuardrailsConfig,
    RecencyConfig,
    RibbonCandidates,
    RibbonEditorial,
    UserContext,
)

N_ITEMS, N_CATEGORIES, N_CANDIDATES, K, PAGES = 100_000, 20, 3_000, 10, 2_000
rng = np.random.default_rng(7)
now = 1_800_000_000.0
categories = [
    [f"c{c}" for c in rng.choice(N_CATEGORIES, size=rng.integers(1, 4), replace=False)]
    for _ in range(N_ITEMS)
]
sensitive = [
    ["crypto"] if r < 0.03 else ["gambling"] if r < 0.05 else [] for r in rng.random(N_ITEMS)
]
created = now - rng.exponential(90 * 86400, N_ITEMS)
catalogue = Catalogue.build([f"i{n}" for n in range(N_ITEMS)], categories, created, sensitive)

editorial = EditorialConfig(
    hidden=[f"i{n}" for n in range(0, 2000, 7)],
    ribbons={
        "*": RibbonEditorial(
            pins=[EditorialPin(item="i5", position=0)],
            curated=[f"i{n}" for n in range(10, 60)],
            curated_share=0.2,
        )
    },
)
configs = {
    "defaults (diversity floor 3, exploration 20%, no repeats, rotation)": GuardrailsConfig(),
    "all on: cap 3 + floor 3, exploration 20%, recency 20%, editorial": GuardrailsConfig(
        diversity=DiversityConfig(min_categories=3, max_per_category=3),
        recency=RecencyConfig(share=0.2, max_age="7d"),
        editorial=editorial,
    ),
    "all on, MMR (lambda 0.7) instead of cap": GuardrailsConfig(
        diversity=DiversityConfig(min_categories=3, mmr_lambda=0.7),
        recency=RecencyConfig(share=0.2, max_age="7d"),
        editorial=editorial,
    ),
}


def request(n: int) -> tuple[list[RibbonCandidates], UserContext]:
    r = np.random.default_rng(n)
    ribbons = []
    for key in ("s1", "s2", "s3"):
        items = np.sort(r.choice(N_ITEMS, N_CANDIDATES, replace=False)).astype(np.intp)
        items[:60] = np.arange(60)  # editorial items are candidates
        items = np.unique(items)
        ribbons.append(RibbonCandidates(key, CandidateList(items, r.random(len(items)))))
    affinity = np.zeros(N_CATEGORIES)
    affinity[r.choice(N_CATEGORIES, 4, replace=False)] = [1.0, 0.8, 0.5, 0.35]
    ignored = r.choice(N_ITEMS, 200, replace=False).astype(np.intp)
    user = UserContext(
        f"u{n}",
        now,
        frozenset({"crypto"}) if n % 2 else frozenset(),
        affinity,
        ignored,
        r.integers(1, 6, 200).astype(np.intp),
    )
    return ribbons, user


requests = [request(n) for n in range(200)]


def floor(ribbons: list[RibbonCandidates]) -> None:
    """What ranking alone costs on the same candidates: top 10 by argpartition, then sorted."""
    for r in ribbons:
        s = r.candidates.scores
        top = np.argpartition(-s, K)[:K]
        top[np.argsort(-s[top])]


figures = {}
print(
    f"{N_ITEMS:,} items, {N_CATEGORIES} categories, 3 ribbons x {K} cards, "
    f"~{N_CANDIDATES:,} candidates a ribbon; {PAGES:,} pages each; microseconds per page"
)
print(
    "wall: p50/p90/p99 of elapsed time; cpu: p50/p99 of this thread's CPU time (robust on a "
    "busy machine); floor: CPU p50 of a plain top-10 of the same candidates; ratio: cpu p50 / floor"
)
print(
    f"{'configuration':66} {'trace':>5} {'wall50':>6} {'wall90':>6} {'wall99':>6} {'cpu50':>6} "
    f"{'cpu99':>6} {'floor':>6} {'ratio':>6}"
)
for name, config in configs.items():
    chain = GuardrailChain(config, catalogue)
    for trace in (False, True):
        times, cpu, floors = [], [], []
        for n in range(PAGES):  # the chain and the floor in turn, page by page
            ribbons, user = requests[n % len(requests)]
            c0, t0 = time.thread_time(), time.perf_counter()
            chain.page(ribbons, K, user, trace=trace)
            t1, c1 = time.perf_counter(), time.thread_time()
            floor(ribbons)
            c2 = time.thread_time()
            floors.append((c2 - c1) * 1e6)
            times.append((t1 - t0) * 1e6)
            cpu.append((c1 - c0) * 1e6)
        q = statistics.quantiles(times[100:], n=100)
        c = statistics.quantiles(cpu[100:], n=100)
        f = statistics.median(floors[100:])
        print(
            f"{name:66} {'on' if trace else 'off':>5} {q[49]:6.0f} {q[89]:6.0f} {q[98]:6.0f} "
            f"{c[49]:6.0f} {c[98]:6.0f} {f:6.0f} {c[49] / f:6.1f}"
        )
        short = name.split(":")[0].split(" (")[0]
        key = f"{short}|trace={'on' if trace else 'off'}"
        figures[f"{key}|wall_p50_us"] = round(q[49])
        figures[f"{key}|wall_p99_us"] = round(q[98])
        figures[f"{key}|cpu_p50_us"] = round(c[49])
        figures[f"{key}|cpu_p99_us"] = round(c[98])
        figures[f"{key}|cpu_ratio_to_floor"] = round(c[49] / f, 2)
print(json.dumps(figures))
