"""Popularity: global, among a segment's members, and trending (decayed over time).

Not personal, but the floor every personal model must beat, the answer for cold users, and
in the hybrid the prior that keeps scores sensible where behaviour is thin.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field
from scipy import sparse

from launchpoint.recommenders.base import Scorer, ScorerConfig
from launchpoint.recommenders.data import (
    SECONDS_PER_DAY,
    BoolArray,
    FloatArray,
    IntArray,
    TrainingData,
)


class PopularityConfig(ScorerConfig):
    log: bool = Field(True, description="Score log(1 + count): tames the head of the curve.")


class PopularityScorer(Scorer[PopularityConfig]):
    """Users with a positive interaction per item; the same for every user."""

    family: ClassVar[str] = "popularity"
    config_class = PopularityConfig

    def _fit(self, data: TrainingData) -> None:
        self.positive = data.positive
        self.item_scores = self._scale(data.popularity)

    def _refresh(self, data: TrainingData) -> None:
        self._fit(data)

    def _scale(self, counts: FloatArray) -> FloatArray:
        return np.log1p(counts) if self.config.log else counts.astype(np.float64)

    def _score_rows(self, rows: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        return np.tile(self.item_scores[candidates], (rows.shape[0], 1))

    def _score_known(self, users: IntArray, candidates: IntArray) -> FloatArray:
        return np.tile(self.item_scores[candidates], (len(users), 1))

    def _related(self, item: int, candidates: IntArray) -> FloatArray:
        return self.item_scores[candidates].copy()

    def segment_popularity(self, members: BoolArray) -> FloatArray:
        """Per item, how many of the segment's members liked it (mask over trained users);
        compute it once per segment and pass it to ``score_in_segment``."""
        if len(members) != self.n_users:
            raise ValueError(f"members mask has {len(members)} entries for {self.n_users} users")
        liked = self.positive[np.flatnonzero(members)]
        return np.bincount(liked.indices, minlength=self.n_items).astype(np.float64)

    def score_in_segment(self, segment_popularity: FloatArray, candidates: IntArray) -> FloatArray:
        """Popularity among a segment's members, with global popularity breaking ties."""
        cands = self._candidates(candidates)
        tie = self.item_scores[cands] / (1.0 + float(self.item_scores.max(initial=0.0)))
        return self._scale(segment_popularity[cands]) + 1e-3 * tie


class TrendingConfig(ScorerConfig):
    half_life_days: float = Field(
        14.0, gt=0, description="An interaction counts half as much this many days later."
    )


class TrendingScorer(Scorer[TrendingConfig]):
    """Popularity decayed to the training data's clock: what is liked *lately*. Each liked
    pair counts 2^(-age / half-life), its age taken from its latest event."""

    family: ClassVar[str] = "trending"
    config_class = TrendingConfig

    def _fit(self, data: TrainingData) -> None:
        times = data.positive_times
        age_days = np.clip(data.now - times.data, 0.0, None) / SECONDS_PER_DAY
        decayed = np.exp2(-age_days / self.config.half_life_days)
        trend = np.bincount(times.indices, weights=decayed, minlength=data.n_items)
        # log1p of a per-mille scale keeps the ordering and tames a single hit.
        self.item_scores = np.log1p(1000.0 * trend / max(float(trend.max(initial=0.0)), 1e-12))
        self.now = data.now

    def _refresh(self, data: TrainingData) -> None:
        self._fit(data)

    def _score_rows(self, rows: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        return np.tile(self.item_scores[candidates], (rows.shape[0], 1))

    def _score_known(self, users: IntArray, candidates: IntArray) -> FloatArray:
        return np.tile(self.item_scores[candidates], (len(users), 1))

    def _related(self, item: int, candidates: IntArray) -> FloatArray:
        result: FloatArray = self.item_scores[candidates].copy()
        return result

    def _cold_scores(self, candidates: IntArray) -> FloatArray:
        top = float(self.item_scores.max(initial=0.0))
        return self.item_scores[candidates] / top if top > 0 else np.zeros(len(candidates))
