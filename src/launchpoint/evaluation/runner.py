"""Fit a scorer on a split's training part, recommend for its test users, measure.

``evaluate`` gives one ``Evaluation``: per-user accuracy at each cut-off, and the
beyond-accuracy figures of the lists. ``segment_breakdown`` cuts the per-user figures by
segment (a mask over users each) for the equity audit: every metric per segment, and the gap
between the best and the worst served segment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from launchpoint.evaluation.metrics import (
    ACCURACY_METRICS,
    METRIC_FUNCTIONS,
    coverage,
    intra_list_diversity,
    long_tail_share,
    novelty,
    popularity_bias,
    top_k,
)
from launchpoint.evaluation.splits import Split
from launchpoint.recommenders.base import Scorer
from launchpoint.recommenders.data import BoolArray, FloatArray, IntArray, TrainingData

BATCH_CELLS = 8_000_000  # users x items scored at once


def recommend(
    scorer: Scorer[Any],
    users: IntArray,
    k: int,
    *,
    exclude: sparse.csr_matrix | None = None,
    candidates: IntArray | None = None,
) -> IntArray:
    """users x k item indices, best first; items in a user's ``exclude`` row are skipped;
    ``candidates`` limits the items considered (default: all)."""
    n_items = scorer.n_items
    cands = np.arange(n_items, dtype=np.intp) if candidates is None else np.asarray(candidates)
    batch = max(1, BATCH_CELLS // max(1, len(cands)))
    out = np.full((len(users), k), -1, dtype=np.intp)
    position = np.full(n_items, -1, dtype=np.intp)
    position[cands] = np.arange(len(cands))
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        scores = scorer.score_users(chunk, cands)
        if exclude is not None:
            rows, cols = exclude[chunk].nonzero()
            at = position[cols]
            scores[rows[at >= 0], at[at >= 0]] = -np.inf
        chosen = top_k(scores, k)
        out[start : start + len(chunk)] = np.where(chosen >= 0, cands[np.maximum(chosen, 0)], -1)
    return out


@dataclass
class Evaluation:
    name: str
    k: int
    users: IntArray
    per_user: dict[str, FloatArray]  # "ndcg@10" -> one value per test user
    summary: dict[str, float]
    recommended: IntArray
    fit_seconds: float
    score_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate(
    scorer: Scorer[Any],
    split: Split,
    *,
    name: str | None = None,
    k: int = 10,
    cutoffs: Sequence[int] = (10, 20),
    data: TrainingData | None = None,
    fit: bool = True,
    half_life_days: float | None = None,
    candidates: IntArray | None = None,
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Fit ``scorer`` on the split's training events (unless ``fit`` is False), recommend
    max(cutoffs) items to every test user, excluding what they liked in training, and
    measure. Diversity, novelty and popularity figures are over the top ``k``."""
    if data is None:
        data = split.log.subset(split.train).training_data(half_life_days=half_life_days)
    if split.name == "item_cold_start" and candidates is None:
        candidates = np.flatnonzero(data.popularity == 0)  # items the model never saw liked
    if fit:
        if progress:
            progress(f"fitting {name or scorer.family}")
        scorer.fit(data)
    relevant_all = split.relevant("test")
    users = np.flatnonzero(np.diff(relevant_all.indptr) > 0)
    depth = max(max(cutoffs), k)
    if progress:
        progress(f"scoring {len(users):,} test users with {name or scorer.family}")
    start = time.perf_counter()
    recs = recommend(scorer, users, depth, exclude=data.positive, candidates=candidates)
    score_seconds = time.perf_counter() - start
    relevant = relevant_all[users]
    per_user: dict[str, FloatArray] = {}
    for cutoff in sorted(set(cutoffs) | {k}):
        for metric in ACCURACY_METRICS:
            per_user[f"{metric}@{cutoff}"] = METRIC_FUNCTIONS[metric](recs, relevant, cutoff)
    head = recs[:, :k]
    per_user[f"diversity@{k}"] = intra_list_diversity(head, data.item_categories)
    per_user[f"novelty@{k}"] = novelty(head, data.popularity, data.n_users)
    per_user[f"popularity_bias@{k}"] = popularity_bias(head, data.popularity)
    summary = {key: _mean(values) for key, values in per_user.items()}
    summary[f"coverage@{k}"] = coverage(head, data.n_items)
    summary[f"long_tail@{k}"] = long_tail_share(head, data.popularity)
    summary["users"] = float(len(users))
    return Evaluation(
        name or scorer.family, k, users, per_user, summary, recs, scorer.fit_seconds, score_seconds
    )


def _mean(values: FloatArray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


@dataclass(frozen=True)
class SegmentRow:
    segment: str
    users: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class SegmentAudit:
    """Each metric per segment, and per metric the best and worst segment and their gap."""

    model: str
    rows: list[SegmentRow]
    gaps: dict[str, tuple[str, str, float]]  # metric -> (best segment, worst segment, gap)


def segment_breakdown(
    evaluation: Evaluation,
    segments: Mapping[str, BoolArray],
    metrics: Sequence[str] | None = None,
    min_users: int = 1,
) -> SegmentAudit:
    """Per-user figures averaged over each segment's test users (``segments``: id -> mask
    over all users). Segments with fewer than ``min_users`` test users are listed but left
    out of the gaps: a mean over two users says little."""
    keys = list(metrics or [m for m in evaluation.per_user if "@" in m])
    rows = []
    for segment_id, mask in segments.items():
        inside = np.asarray(mask, dtype=bool)[evaluation.users]
        values = {key: _mean(evaluation.per_user[key][inside]) for key in keys}
        rows.append(SegmentRow(segment_id, int(inside.sum()), values))
    gaps: dict[str, tuple[str, str, float]] = {}
    counted = [r for r in rows if r.users >= min_users]
    for key in keys:
        scored = [(r.metrics[key], r.segment) for r in counted if np.isfinite(r.metrics[key])]
        if len(scored) >= 2:
            (low, worst), (high, best) = min(scored), max(scored)
            gaps[key] = (best, worst, high - low)
    return SegmentAudit(evaluation.name, rows, gaps)
