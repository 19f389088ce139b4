"""Offline evaluation: splits, vectorised metrics, the per-segment audit and reports."""

from launchpoint.evaluation.datasets import movielens_log
from launchpoint.evaluation.metrics import (
    coverage,
    hit_rate_at,
    intra_list_diversity,
    long_tail_share,
    map_at,
    ndcg_at,
    novelty,
    popularity_bias,
    precision_at,
    recall_at,
    top_k,
)
from launchpoint.evaluation.report import EvaluationReport
from launchpoint.evaluation.runner import (
    Evaluation,
    SegmentAudit,
    SegmentRow,
    evaluate,
    recommend,
    segment_breakdown,
)
from launchpoint.evaluation.splits import (
    SPLITS,
    Split,
    item_cold_start_split,
    leave_last_k,
    make_split,
    random_split,
    temporal_split,
)

__all__ = [
    "SPLITS",
    "Evaluation",
    "EvaluationReport",
    "SegmentAudit",
    "SegmentRow",
    "Split",
    "coverage",
    "evaluate",
    "hit_rate_at",
    "intra_list_diversity",
    "item_cold_start_split",
    "leave_last_k",
    "long_tail_share",
    "make_split",
    "map_at",
    "movielens_log",
    "ndcg_at",
    "novelty",
    "popularity_bias",
    "precision_at",
    "random_split",
    "recall_at",
    "recommend",
    "segment_breakdown",
    "temporal_split",
    "top_k",
]
