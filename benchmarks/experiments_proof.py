"""Proof that the experiment statistics do what they claim, and what personalisation does in
the closed-loop simulator.

(a) A/A: many synthetic experiments with no effect, users assigned by the real hashing and
    analysed by the real analysis code: the share with p < 0.05 must sit in [3%, 7%]; the
    always-valid p-value and the sample-ratio check must fire less often still.
(b) Power: a true CTR lift sized so the design predicts 80% power (the true difference over
    the standard error a large pilot of the same design measures); the share of experiments
    that detect it must match the prediction.
(c) A broken split: 50/50 declared, 55/45 realised (a share of the control's exposures never
    logged); the sample-ratio check must flag it.
(d) The closed loop: synthetic users with hidden tastes answer what the real engine serves over
    HTTP (in-process), day after day; personalised ribbons against the non-personalised
    control (the popular fallback), with the lift in interactions and diversity and their
    intervals.

Run:  .venv/bin/python benchmarks/experiments_proof.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import emit_json, fmt, machine_line, print_table

from launchpoint.experiments.analysis import Analysis
from launchpoint.experiments.simulator import SimulationConfig, run_simulation
from launchpoint.experiments.synthetic import (
    Population,
    lift_for_power,
    predicted_ctr_power,
    run_batch,
)


def _share(analyses: list[Analysis], test: str) -> float:
    hits = []
    for a in analyses:
        c = a.comparison("ctr", "B")
        if test == "fixed":
            hits.append(c.p_value < 0.05)
        elif test == "always_valid":
            hits.append(c.always_valid_p < 0.05)
        else:
            hits.append(a.srm.flagged)
    return float(np.mean(hits))


def _band(share: float, runs: int) -> str:
    se = math.sqrt(max(share * (1 - share), 1e-12) / runs)
    return f"{share:.1%} +- {1.96 * se:.1%}"


def closed_loop(users: int, days: int, seed: int) -> tuple[object, float]:
    from fastapi.testclient import TestClient

    from launchpoint.api import create_app
    from launchpoint.engine import Launchpoint
    from launchpoint.settings import Settings

    with tempfile.TemporaryDirectory(prefix="launchpoint-proof-") as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'sim.db'}",
                            data_dir=Path(folder), workspace="proof")  # fmt: skip
        lp = Launchpoint(settings)
        began = time.perf_counter()
        try:
            with TestClient(create_app(settings, launchpoint=lp)) as client:
                result = run_simulation(
                    client, SimulationConfig(users=users, items=max(100, users // 4), days=days,
                                             seed=seed),
                )  # fmt: skip
        finally:
            lp.close()
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500, help="Synthetic experiments per batch.")
    parser.add_argument("--users", type=int, default=2000, help="Users per synthetic experiment.")
    parser.add_argument("--sim-users", type=int, default=600, help="Closed-loop users.")
    parser.add_argument("--sim-days", type=int, default=10, help="Closed-loop days.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="Small sizes, for a smoke run.")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.users, args.sim_users, args.sim_days = 100, 1000, 150, 3
    print(machine_line())
    population = Population(users=args.users)
    figures: dict[str, object] = {"runs": args.runs, "users_per_experiment": args.users}

    began = time.perf_counter()
    aa = run_batch(args.runs, population, first_seed=0)
    aa_fixed, aa_always, aa_srm = (_share(aa, t) for t in ("fixed", "always_valid", "srm"))
    figures.update(aa_false_positive_rate=aa_fixed, aa_always_valid_rate=aa_always,
                   aa_srm_flag_rate=aa_srm, aa_seconds=time.perf_counter() - began)  # fmt: skip

    began = time.perf_counter()
    lift = lift_for_power(population, 0.8)
    predicted = predicted_ctr_power(population, lift)
    ab = run_batch(args.runs, population, lift=lift, first_seed=100_000)
    observed = _share(ab, "fixed")
    power_se = math.sqrt(predicted * (1 - predicted) / args.runs)
    figures.update(injected_lift=lift, predicted_power=predicted, observed_power=observed,
                   power_within_tolerance=abs(observed - predicted) <= max(0.05, 3 * power_se),
                   power_seconds=time.perf_counter() - began)  # fmt: skip

    broken_runs = max(20, args.runs // 5)
    broken = run_batch(broken_runs, Population(users=max(args.users, 10_000)),
                       lose_control=0.18, first_seed=200_000)  # fmt: skip
    realised = np.mean([a.srm.counts[0] / sum(a.srm.counts) for a in broken])
    median_p = float(np.median([a.srm.p_value for a in broken]))
    figures.update(broken_split_control_share=float(realised),
                   broken_split_flag_rate=_share(broken, "srm"),
                   broken_split_median_p=median_p)  # fmt: skip

    rows = [
        ["(a) A/A, fixed-horizon z-test, p < 0.05", _band(aa_fixed, args.runs), "3% .. 7%",
         "yes" if 0.03 <= aa_fixed <= 0.07 else "NO"],
        ["(a) A/A, always-valid p < 0.05", _band(aa_always, args.runs), "<= 5%",
         "yes" if aa_always <= 0.05 + 1.96 * math.sqrt(0.0475 / args.runs) else "NO"],
        ["(a) A/A, SRM flagged (p < 0.001)", _band(aa_srm, args.runs), "~0.1%",
         "yes" if aa_srm <= 0.01 else "NO"],
        [f"(b) power at lift {lift:+.1%} (predicted {predicted:.1%})", _band(observed, args.runs),
         f"{predicted:.1%} +- {max(0.05, 3 * power_se):.1%}",
         "yes" if figures["power_within_tolerance"] else "NO"],
        [f"(c) 55/45 split declared 50/50 (control {realised:.1%})",
         _band(figures["broken_split_flag_rate"], broken_runs), ">= 99%",  # type: ignore[arg-type]
         "yes" if figures["broken_split_flag_rate"] >= 0.99 else "NO"],  # type: ignore[operator]
    ]  # fmt: skip
    print_table(f"Statistics over {args.runs} synthetic experiments of {args.users} users",
                ["check", "measured", "expected", "holds"], rows)  # fmt: skip

    result, seconds = closed_loop(args.sim_users, args.sim_days, args.seed)
    sim = result.analysis  # type: ignore[attr-defined]
    loop_rows = []
    for metric in ("engagement", "ctr", "conversion", "diversity", "negative_feedback"):
        c = sim.comparison(metric, "personalised")
        loop_rows.append([metric, c.control_value, c.value, f"{c.lift:+.1%}",
                          f"[{c.ci_low:+.1%}, {c.ci_high:+.1%}]", c.p_value])  # fmt: skip
        figures[f"loop_{metric}_lift"] = c.lift
        figures[f"loop_{metric}_ci"] = [round(c.ci_low, 4), round(c.ci_high, 4)]
    r = result.retention  # type: ignore[attr-defined]
    loop_rows.append(["retention", r.control_value, r.value, f"{r.lift:+.1%}",
                      f"[{r.ci_low:+.1%}, {r.ci_high:+.1%}]", r.p_value])  # fmt: skip
    figures.update(loop_retention_lift=r.lift, loop_users=args.sim_users,
                   loop_days=args.sim_days, loop_requests=result.requests,  # type: ignore[attr-defined]
                   loop_srm_p=sim.srm.p_value, loop_seconds=seconds)  # fmt: skip
    print_table(
        f"(d) Closed loop: {args.sim_users} users x {args.sim_days} days, "
        f"{result.requests} ribbon requests over HTTP in {fmt(seconds)} s; "  # type: ignore[attr-defined]
        f"users per arm {sim.srm.counts} (SRM p = {sim.srm.p_value:.2f})",
        ["metric (personalised vs control)", "control", "personalised", "lift", "95% CI", "p"],
        loop_rows,
    )
    emit_json(figures)
    # A quick run is a smoke test: 100 experiments are too few to hold the bands.
    holds = [row[3] == "yes" for row in rows]
    sys.exit(0 if all(holds) or args.quick else 1)


if __name__ == "__main__":
    main()
