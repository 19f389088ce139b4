"""Recommendation quality on MovieLens ml-latest-small: Launchpoint's families and its default
hybrid against the peers, side by side in one process, on one split.

Protocol (stated once, used for every model):
- data: ratings.csv, movies.csv (title, genres) and tags.csv (tags join the item text);
- positives: ratings >= 3.5. Launchpoint's models get every rating as a signed signal (a
  rating r >= 3.5 weighs r - 2.5, below 3.5 it weighs r - 3.5: the workspace setting
  rating_threshold=3.5); the peers get the binary matrix of positives, as their documentation
  uses them;
- split: per user, leave-last-5: each user's 5 most recent positive ratings are the test
  (ties in time broken at random, seeded; users with at least 7 positives);
- tuning: the same last-5 cut made again inside the training part gives a validation split;
  every model tries the same number of settings (--budget) from its own short list, keeps
  the best NDCG@10 on validation, and is refitted on the whole training part;
- measured on the test part: NDCG@10, Recall@20 and catalogue coverage of the top 10
  (items already liked in training are never recommended).

Peers: implicit's AlternatingLeastSquares, BayesianPersonalizedRanking, CosineRecommender and
BM25Recommender, a plain EASE (Steck 2019, numpy, as published), and LightFM (WARP) when it
can be imported.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import MOVIELENS_SMALL, emit_json, machine_line, print_table
from scipy import sparse

from launchpoint.evaluation.datasets import movielens_log
from launchpoint.evaluation.metrics import coverage, ndcg_at, recall_at, top_k
from launchpoint.evaluation.runner import recommend
from launchpoint.evaluation.splits import Split, leave_last_k
from launchpoint.recommenders.data import TrainingData
from launchpoint.recommenders.families import make_scorer

THRESHOLD = 3.5
K = 10


# -- models under one interface -------------------------------------------------------------
class Model:
    fit_seconds = 0.0

    def fit(self, data: TrainingData) -> None:
        raise NotImplementedError

    def recommend(self, users: np.ndarray, k: int, data: TrainingData) -> np.ndarray:
        raise NotImplementedError


class LaunchpointModel(Model):
    def __init__(self, family: str, params: dict[str, Any]) -> None:
        self.scorer = make_scorer(family, **params)

    def fit(self, data: TrainingData) -> None:
        start = time.perf_counter()
        self.scorer.fit(data)
        self.fit_seconds = time.perf_counter() - start

    def recommend(self, users: np.ndarray, k: int, data: TrainingData) -> np.ndarray:
        return recommend(self.scorer, users, k, exclude=data.positive)


def binary_positive(data: TrainingData) -> sparse.csr_matrix:
    liked = data.positive.astype(np.float32)
    liked.data[:] = 1.0
    return liked.tocsr()


class ImplicitModel(Model):
    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make

    def fit(self, data: TrainingData) -> None:
        from threadpoolctl import threadpool_limits

        self.user_items = binary_positive(data)
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model = self.make()
            start = time.perf_counter()
            self.model.fit(self.user_items, show_progress=False)
            self.fit_seconds = time.perf_counter() - start

    def recommend(self, users: np.ndarray, k: int, data: TrainingData) -> np.ndarray:
        ids, scores = self.model.recommend(
            users, self.user_items[users], N=k, filter_already_liked_items=True
        )
        return np.where(np.isfinite(scores), ids, -1).astype(np.intp)


class PlainEASE(Model):
    """EASE exactly as published: B = I - P diagMat(1 / diag(P)), P = (XᵀX + λI)⁻¹."""

    def __init__(self, reg: float) -> None:
        self.reg = reg

    def fit(self, data: TrainingData) -> None:
        start = time.perf_counter()
        x = binary_positive(data).astype(np.float64)
        gram = np.asarray((x.T @ x).todense())
        gram[np.diag_indices_from(gram)] += self.reg
        p = np.linalg.inv(gram)
        b = p / (-np.diag(p))
        b[np.diag_indices_from(b)] = 0.0
        self.x, self.b = x, b
        self.fit_seconds = time.perf_counter() - start

    def recommend(self, users: np.ndarray, k: int, data: TrainingData) -> np.ndarray:
        scores = np.asarray(self.x[users] @ self.b)
        scores[self.x[users].nonzero()] = -np.inf
        return top_k(scores, k)


class LightFMModel(Model):
    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def fit(self, data: TrainingData) -> None:
        from lightfm import LightFM

        self.user_items = binary_positive(data)
        epochs = self.params.get("epochs", 30)
        settings = {k: v for k, v in self.params.items() if k != "epochs"}
        self.model = LightFM(loss="warp", random_state=42, **settings)
        start = time.perf_counter()
        self.model.fit(self.user_items.tocoo(), epochs=epochs, num_threads=1)
        self.fit_seconds = time.perf_counter() - start

    def recommend(self, users: np.ndarray, k: int, data: TrainingData) -> np.ndarray:
        n_items = self.user_items.shape[1]
        out = []
        for user in users:
            scores = self.model.predict(int(user), np.arange(n_items), num_threads=1)
            scores[self.user_items[user].indices] = -np.inf
            out.append(top_k(scores[None, :], k)[0])
        return np.array(out, dtype=np.intp)


# -- candidates and their search lists -----------------------------------------------------
@dataclass
class Candidate:
    name: str
    kind: str  # "launchpoint" or "peer"
    settings: list[dict[str, Any]]
    build: Callable[[dict[str, Any]], Model]
    results: dict[str, Any] = field(default_factory=dict)


def launchpoint(name: str, family: str, settings: list[dict[str, Any]]) -> Candidate:
    return Candidate(name, "launchpoint", settings, lambda p: LaunchpointModel(family, p))


def candidates(args: argparse.Namespace) -> list[Candidate]:
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    out = [
        launchpoint("LP popularity", "popularity", [{}]),
        launchpoint(
            "LP item-kNN",
            "item_knn",
            [
                {"recency": 3.0, "n": 200},
                {"recency": 5.0, "n": 200},
                {"recency": 3.0, "n": 50},
                {"n": 200},
                {"recency": 10.0, "n": 100},
                {"recency": 2.0, "n": 400},
            ],
        ),
        launchpoint(
            "LP EASE",
            "ease",
            [
                {"recency": 3.0, "reg": 250.0},
                {"recency": 5.0, "reg": 250.0},
                {"recency": 3.0, "reg": 100.0},
                {"recency": 3.0, "reg": 500.0},
                {"reg": 250.0},
                {"recency": 2.0, "reg": 250.0},
            ],
        ),
        launchpoint(
            "LP ALS",
            "als",
            [
                {"embedding_size": 64, "reg": 0.05},
                {"embedding_size": 128, "reg": 0.1},
                {"embedding_size": 32, "reg": 0.01},
                {"embedding_size": 64, "alpha": 5.0},
                {"embedding_size": 128, "alpha": 1.0},
                {"embedding_size": 64, "weighted": True},
            ],
        ),
        launchpoint(
            "LP BPR",
            "bpr",
            [
                {"embedding_size": 64},
                {"embedding_size": 128, "learning_rate": 0.01},
                {"embedding_size": 64, "reg": 0.001},
                {"embedding_size": 32, "epochs": 200},
                {"embedding_size": 128, "epochs": 200},
                {"embedding_size": 64, "learning_rate": 0.1},
            ],
        ),
        launchpoint(
            "LP content",
            "content",
            [
                {"recency": 3.0},
                {"recency": 10.0},
                {},
                {"recency": 3.0, "ngrams": 2},
                {"recency": 3.0, "popularity_prior": 0.5},
                {"recency": 5.0},
            ],
        ),
        launchpoint("LP hybrid (default)", "hybrid", [{}]),
        Candidate(
            "implicit ALS",
            "peer",
            [
                {"factors": 64, "regularization": 0.05},
                {"factors": 128, "regularization": 0.1},
                {"factors": 32, "regularization": 0.01},
                {"factors": 64, "alpha": 5.0},
                {"factors": 128, "alpha": 1.0, "regularization": 0.01},
                {"factors": 64, "alpha": 10.0, "regularization": 0.1},
            ],
            lambda p: ImplicitModel(
                lambda: AlternatingLeastSquares(random_state=42, num_threads=1, **p)
            ),
        ),
        Candidate(
            "implicit BPR",
            "peer",
            [
                {"factors": 64},
                {"factors": 128, "learning_rate": 0.01},
                {"factors": 64, "regularization": 0.001},
                {"factors": 32, "iterations": 200},
                {"factors": 128, "iterations": 200},
                {"factors": 64, "learning_rate": 0.1},
            ],
            lambda p: ImplicitModel(
                lambda: BayesianPersonalizedRanking(random_state=42, num_threads=1, **p)
            ),
        ),
        Candidate(
            "implicit item-kNN cosine",
            "peer",
            [{"K": 200}, {"K": 50}, {"K": 100}, {"K": 400}, {"K": 20}, {"K": 800}],
            lambda p: ImplicitModel(lambda: CosineRecommender(num_threads=1, **p)),
        ),
        Candidate(
            "implicit BM25",
            "peer",
            [
                {"K": 200},
                {"K": 100, "K1": 1.2, "B": 0.5},
                {"K": 50},
                {"K": 400, "B": 0.9},
                {"K": 100, "K1": 2.0},
                {"K": 200, "B": 0.25},
            ],
            lambda p: ImplicitModel(lambda: BM25Recommender(num_threads=1, **p)),
        ),
        Candidate(
            "plain EASE",
            "peer",
            [{"reg": r} for r in (250.0, 100.0, 500.0, 50.0, 1000.0, 2000.0)],
            lambda p: PlainEASE(p["reg"]),
        ),
    ]
    try:
        import lightfm  # noqa: F401

        out.append(
            Candidate(
                "LightFM WARP",
                "peer",
                [
                    {"no_components": 64},
                    {"no_components": 128, "learning_rate": 0.02},
                    {"no_components": 64, "item_alpha": 1e-6},
                    {"no_components": 32, "epochs": 60},
                    {"no_components": 128, "epochs": 60},
                    {"no_components": 64, "epochs": 10},
                ],
                lambda p: LightFMModel(p),
            )
        )
    except ImportError:
        print(
            "LightFM: not installable here (pip install lightfm fails to build under "
            "build isolation; docs/guides/evaluation.md gives the workaround)"
        )
    selected = set(args.only or [])
    if args.skip_slow:
        selected = selected or {c.name for c in out if c.name not in ("LP BPR", "implicit BPR")}
    return [c for c in out if not selected or c.name in selected]


# -- running -------------------------------------------------------------------------------
def measure(model: Model, split: Split, data: TrainingData, depth: int) -> dict[str, float]:
    relevant = split.relevant("test")
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    recs = model.recommend(users, depth, data)
    rel = relevant[users]
    return {
        "ndcg@10": float(np.nanmean(ndcg_at(recs, rel, 10))),
        "recall@20": float(np.nanmean(recall_at(recs, rel, 20))),
        "coverage@10": coverage(recs[:, :10], data.n_items),
        "users": float(len(users)),
    }


def run(candidate: Candidate, outer: Split, inner: Split, budget: int) -> None:
    inner_data = inner.log.subset(inner.train).training_data()
    outer_data = outer.log.subset(outer.train).training_data()
    best: tuple[float, dict[str, Any]] | None = None
    for params in candidate.settings[:budget]:
        model = candidate.build(params)
        model.fit(inner_data)
        score = measure(model, inner, inner_data, 20)["ndcg@10"]
        print(f"    {candidate.name} {params}: validation NDCG@10 {score:.4f}", flush=True)
        if best is None or score > best[0]:
            best = (score, params)
    assert best is not None
    model = candidate.build(best[1])
    model.fit(outer_data)
    candidate.results = {
        "params": best[1],
        "validation_ndcg@10": best[0],
        "train_s": model.fit_seconds,
        **measure(model, outer, outer_data, 20),
    }
    if isinstance(model, LaunchpointModel) and hasattr(model.scorer, "validation"):
        candidate.results["blend"] = model.scorer.validation.get("weights")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--movielens",
        type=Path,
        default=MOVIELENS_SMALL,
        help="ml-latest-small folder (ratings.csv, movies.csv, tags.csv).",
    )
    parser.add_argument(
        "--budget",
        type=int,
        default=4,
        help="Settings each model tries on validation (the same for all).",
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of the splits' tie-breaks.")
    parser.add_argument("--only", nargs="*", help="Run only these models (by name).")
    parser.add_argument("--skip-slow", action="store_true", help="Leave out the BPR models.")
    parser.add_argument(
        "--skip-full-fit",
        action="store_true",
        help="Do not time the default model on all of ml-latest-small.",
    )
    args = parser.parse_args(argv)
    if not (args.movielens / "ratings.csv").is_file():
        print(
            f"ml-latest-small not found at {args.movielens}: nothing to measure "
            "(DESIGN.md section 10 says where it lives)"
        )
        return 0
    print(machine_line())
    log = movielens_log(args.movielens, THRESHOLD)
    outer = leave_last_k(log, 5, seed=args.seed)
    inner_log = log.subset(outer.train)
    inner = leave_last_k(inner_log, 5, seed=args.seed + 1)
    print(
        f"ml-latest-small: {log.n_users} users, {log.n_items} items, {len(log):,} ratings; "
        f"test users {len(outer.test_users())}, validation users {len(inner.test_users())}; "
        f"budget {args.budget} settings per model"
    )
    models = candidates(args)
    for candidate in models:
        print(f"\n== {candidate.name}", flush=True)
        run(candidate, outer, inner, args.budget)
    rows = []
    for c in models:
        r = c.results
        rows.append(
            [
                c.name,
                c.kind,
                f"{r['ndcg@10']:.4f}",
                f"{r['recall@20']:.4f}",
                f"{r['coverage@10']:.4f}",
                f"{r['train_s']:.1f}",
                f"{r['validation_ndcg@10']:.4f}",
            ]
        )
    print_table(
        "ml-latest-small, leave-last-5, positives = ratings >= 3.5 (test users: "
        f"{int(models[0].results['users'])})",
        ["model", "kind", "NDCG@10", "Recall@20", "coverage@10", "train s", "val NDCG@10"],
        rows,
    )
    for c in models:
        print(
            f"  {c.name}: {c.results['params']}"
            + (f" blend {c.results['blend']}" if c.results.get("blend") else "")
        )
    default = next((c for c in models if c.name == "LP hybrid (default)"), None)
    peers = [c for c in models if c.kind == "peer"]
    if default is None or not peers:
        print("\nthe default model or the peers were left out (--only): no ratio")
        return 0
    best_peer = max(peers, key=lambda c: c.results["ndcg@10"])
    widest_peer = max(peers, key=lambda c: c.results["coverage@10"])
    ratio = default.results["ndcg@10"] / best_peer.results["ndcg@10"]
    print(f"\ndefault / best peer ({best_peer.name}) NDCG@10: {ratio:.3f} (goal >= 1.05)")
    print(
        f"coverage@10: default {default.results['coverage@10']:.3f}, best peer "
        f"{best_peer.results['coverage@10']:.3f}, widest peer ({widest_peer.name}) "
        f"{widest_peer.results['coverage@10']:.3f}"
    )
    figures: dict[str, Any] = {
        "default_ndcg10": default.results["ndcg@10"],
        "default_recall20": default.results["recall@20"],
        "default_coverage10": default.results["coverage@10"],
        "best_peer": best_peer.name,
        "best_peer_ndcg10": best_peer.results["ndcg@10"],
        "best_peer_coverage10": best_peer.results["coverage@10"],
        "ratio_ndcg10_default_vs_best_peer": ratio,
        "widest_peer_coverage10": widest_peer.results["coverage@10"],
    }
    for c in models:
        key = c.name.lower().replace(" ", "_").replace("(", "").replace(")", "")
        figures[f"{key}_ndcg10"] = c.results["ndcg@10"]
        figures[f"{key}_train_s"] = c.results["train_s"]
    if not args.skip_full_fit:
        data = log.training_data()
        start = time.perf_counter()
        make_scorer("hybrid").fit(data)
        seconds = time.perf_counter() - start
        print(f"training the default model on all of ml-latest-small: {seconds:.1f} s")
        figures["default_train_full_s"] = seconds
    emit_json(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
