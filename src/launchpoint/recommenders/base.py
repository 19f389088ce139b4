"""The one protocol every recommender family implements.

A scorer is built from a typed config (shared vocabulary: ``n``, ``seed``, ``embedding_size``,
``epochs``, ``reg``), trained once with ``fit(TrainingData)``, then asked for scores as often
as needed: for a user's candidate items, for items related to a context item, for a user
known only by a fresh history, or for a new user known only by the categories they chose.
Scores are comparable within one call only; the hybrid normalises them before blending.

A family implements four hooks: ``_fit``, ``_score_rows`` (scores from history rows),
``_related`` and, where it learns user vectors, ``_score_known``. The base class keeps the
bookkeeping (index checks, cold users, timing) in one place, so every family answers a user
with no history the same way: by popularity.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, NamedTuple, Self, TypeVar, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy import sparse

from launchpoint.errors import ErrorDetail, InvalidInput, LaunchpointError
from launchpoint.recommenders.data import FloatArray, IntArray, TrainingData

# History.significant: the share of a history's weight that may be left out, and the length
# from which it looks for such a tail.
NEGLIGIBLE = 1e-9
SIGNIFICANT_FROM = 128


class History(NamedTuple):
    """One user's history as parallel arrays (item indices, signal weights), what a request
    scores from. Building a one-row scipy matrix costs 50-130 microseconds in index checks,
    more than most families take to score the row."""

    items: IntArray
    weights: FloatArray

    @classmethod
    def of(cls, rows: sparse.csr_matrix, n: int = 0) -> History:
        """Row ``n`` of a CSR matrix."""
        start, end = rows.indptr[n], rows.indptr[n + 1]
        return cls(rows.indices[start:end], rows.data[start:end])

    def significant(self, longer_than: int = SIGNIFICANT_FROM) -> History:
        """The history without the items whose weights, all together, come to less than
        ``NEGLIGIBLE`` of its total (absolute) weight; the items kept stay in their order.
        With recency weighting a long history's oldest items weigh next to nothing (halved
        every few moments: the 100th latest of 2,000 weighs 1e-10 of the latest), yet summing
        their rows cost item-kNN 3 ms a request for the heaviest users of ml-latest-small.
        Every score moves by at most NEGLIGIBLE x total weight x the largest entry of a row.
        Histories of ``longer_than`` items or fewer are kept whole (sorting costs more than
        their rows do)."""
        if len(self.items) <= longer_than:
            return self
        size = np.abs(np.asarray(self.weights, dtype=np.float64))
        order = np.argsort(-size, kind="stable")
        from_here = np.cumsum(size[order][::-1])[::-1]  # weight of each item and all lighter
        keep = int(np.count_nonzero(from_here >= NEGLIGIBLE * from_here[0]))
        if keep == len(order):
            return self
        kept = np.sort(order[:keep])
        return History(self.items[kept], self.weights[kept])

    def row(self, n_items: int) -> sparse.csr_matrix:
        indptr = np.array([0, len(self.items)])
        return sparse.csr_matrix((self.weights, self.items, indptr), shape=(1, n_items))


def runs_of(indptr: IntArray, rows: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Where the entries of a compressed matrix's ``rows`` (columns, for CSC) lie, as one
    gather: (positions in ``indices``/``data``, each row's entry count, where each row's run
    starts in the gather). Reading a few rows this way costs a handful of numpy calls; scipy's
    row indexing costs more in index checks than the arithmetic a request then does."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    first = np.cumsum(lengths) - lengths
    at = np.arange(int(lengths.sum())) + np.repeat(starts - first, lengths)
    return at, lengths, first


def sum_of_rows(matrix: sparse.csr_matrix, rows: IntArray, weights: FloatArray) -> FloatArray:
    """sum_k weights[k] * matrix[rows[k]] as a dense vector, reading only the named rows'
    entries (``runs_of``, then one bincount)."""
    at, lengths, _ = runs_of(matrix.indptr, rows)
    if len(at) == 0:
        return np.zeros(matrix.shape[1])
    summed = np.bincount(
        matrix.indices[at],
        weights=matrix.data[at] * np.repeat(np.asarray(weights, np.float64), lengths),
        minlength=matrix.shape[1],
    )
    return np.asarray(summed, dtype=np.float64)  # float64 already: no copy


class NotFitted(LaunchpointError):
    """A scorer was asked for scores before ``fit``."""

    code = "not_fitted"


class ScorerConfig(BaseModel):
    """Settings every family shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(42, description="Seed of every random step, so a fit is repeatable.")


class HistoryConfig(ScorerConfig):
    """Settings of the families that score a user from the items in their history."""

    recency: float | None = Field(
        None,
        gt=0,
        description="Halve a history item's weight for every `recency` more recent moments "
        "of the user's (None: all history weighs alike).",
    )
    negatives: bool = Field(
        False,
        description="Let disliked items (negative signals) push their neighbours down. Off "
        "by default: on MovieLens a low rating still says the user watches such films, and "
        "counting it against them cost recency-weighted EASE a quarter of its NDCG@10.",
    )
    weighted: bool = Field(True, description="Use signal weights, not 1, for history items.")


C = TypeVar("C", bound=ScorerConfig)


class Scorer(ABC, Generic[C]):
    """Base of every family; see the module docstring for the protocol."""

    family: ClassVar[str]
    config_class: ClassVar[type[ScorerConfig]]

    def __init__(self, config: C | None = None, **params: Any) -> None:
        self.config: C = self._make_config(config, params)
        self.fit_seconds = 0.0
        self._fitted = False

    def _make_config(self, config: C | None, params: dict[str, Any]) -> C:
        """``config``, or one built from ``params`` (validated either way), so a bad value is
        an InvalidInput naming the setting, not an error deep inside a fit."""
        if config is not None and not params:
            return config
        values = {**(config.model_dump() if config is not None else {}), **params}
        try:
            made = self.config_class(**values)
        except ValidationError as exc:
            details = [
                ErrorDetail(".".join(str(p) for p in e["loc"]) or self.family, e["msg"])
                for e in exc.errors()
            ]
            raise InvalidInput(
                f"invalid settings for {self.family}: {details[0].loc}: {details[0].message}",
                details,
            ) from None
        return cast(C, made)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # -- training ------------------------------------------------------------------------
    def fit(self, data: TrainingData) -> Self:
        start = time.perf_counter()
        self.n_users, self.n_items = data.n_users, data.n_items
        self.popularity = data.popularity
        self.active = data.active_users
        self.categories = data.categories
        self.item_categories = data.item_categories
        self.history = self._history(data)
        self._fit(data)
        self._fitted = True
        self.fit_seconds = time.perf_counter() - start
        return self

    def refresh(self, data: TrainingData) -> Self:
        """Take in newer behaviour without retraining: users are scored from ``data``'s
        histories (and popularity counts it), while what was learned (similarities, weights,
        factors) stays. ``data`` must have the same users and items as the fit."""
        self._check_fitted()
        if (data.n_users, data.n_items) != (self.n_users, self.n_items):
            raise InvalidInput(
                f"refresh needs the fitted {self.n_users} users x {self.n_items} items, got "
                f"{data.n_users} x {data.n_items}: fit again instead"
            )
        self.popularity = data.popularity
        self.active = data.active_users
        self.history = self._history(data)
        self._refresh(data)
        return self

    def _refresh(self, data: TrainingData) -> None:
        """What a family recomputes from new behaviour beyond the histories (default: none)."""

    def _history(self, data: TrainingData) -> sparse.csr_matrix:
        """The rows a user is scored from; history families shape them by their config."""
        config = self.config
        if isinstance(config, HistoryConfig):
            return data.history(
                recency=config.recency, negatives=config.negatives, weighted=config.weighted
            )
        return data.history(recency=None, negatives=False, weighted=True)

    @abstractmethod
    def _fit(self, data: TrainingData) -> None: ...

    @abstractmethod
    def _score_rows(self, rows: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        """(len(rows), len(candidates)) scores from history rows over all items."""

    @abstractmethod
    def _related(self, item: int, candidates: IntArray) -> FloatArray: ...

    def _score_known(self, users: IntArray, candidates: IntArray) -> FloatArray:
        if len(users) == 1:  # one request: read the user's slice of the history
            return self._score_one(self.user_history(int(users[0])), candidates)
        return self._score_rows(self.history[users], candidates)

    def _score_one(self, history: History, candidates: IntArray) -> FloatArray:
        """(1, len(candidates)) scores of one history; families with a cheaper path for a
        single user than their many-rows product override it."""
        return self._score_rows(history.row(self.n_items), candidates)

    def user_history(self, user: int) -> History:
        """A trained user's history row as arrays, without building a scipy row."""
        return History.of(self.history, user)

    # -- scoring -------------------------------------------------------------------------
    def score(self, user: int, candidates: npt.ArrayLike | None = None) -> FloatArray:
        """Scores of ``candidates`` (item indices; None: every item) for one user. A user
        index outside the training data, or a user with no positive history, is cold."""
        result: FloatArray = self.score_users(np.array([user], dtype=np.intp), candidates)[0]
        return result

    def score_users(
        self, users: npt.ArrayLike, candidates: npt.ArrayLike | None = None
    ) -> FloatArray:
        """(len(users), len(candidates)) scores, for many users at once (evaluation)."""
        self._check_fitted()
        cands = self._candidates(candidates)
        users = np.asarray(users, dtype=np.intp).ravel()
        known = (users >= 0) & (users < self.n_users)
        warm = known.copy()
        warm[known] = self.active[users[known]]
        out = np.empty((len(users), len(cands)))
        if warm.any():
            out[warm] = self._score_known(users[warm], cands)
        if not warm.all():
            out[~warm] = self._cold_scores(cands)
        return out

    def score_history(
        self,
        items: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
        candidates: npt.ArrayLike | None = None,
    ) -> FloatArray:
        """Scores for a user known only by a history given now (a user who arrived after
        training, or whose latest events should count at once): item indices, and their
        signal weights (default 1), most recent last."""
        self._check_fitted()
        cands = self._candidates(candidates)
        row = self._history_row(items, weights)
        if not (row.data > 0).any():
            return self._cold_scores(cands)
        result: FloatArray = self._score_rows(row, cands)[0]
        return result

    def score_for_item(self, item: int, candidates: npt.ArrayLike | None = None) -> FloatArray:
        """How related each candidate is to the context ``item`` (the item page)."""
        self._check_fitted()
        cands = self._candidates(candidates)
        if not 0 <= item < self.n_items:
            raise InvalidInput(f"item index {item} is outside the {self.n_items} trained items")
        return self._related(int(item), cands)

    def score_cold_user(
        self, preferred_categories: Sequence[str], candidates: npt.ArrayLike | None = None
    ) -> FloatArray:
        """Scores for a new user who only named categories they like (onboarding): the share
        of an item's categories among them, ties going to the more popular item."""
        self._check_fitted()
        cands = self._candidates(candidates)
        return category_match(self, preferred_categories, cands) + 0.5 * self._cold_scores(cands)

    # -- shared helpers ------------------------------------------------------------------
    def _cold_scores(self, candidates: IntArray) -> FloatArray:
        """Popularity, log-scaled into [0, 1]: what a user with no history is shown."""
        cached = getattr(self, "_cold", None)  # (the popularity it was scaled from, scaled)
        if cached is None or cached[0] is not self.popularity:
            pop = np.log1p(self.popularity)
            top = float(pop.max(initial=0.0))
            cached = self._cold = (self.popularity, pop / top if top > 0 else np.zeros_like(pop))
        result: FloatArray = cached[1][candidates]
        return result

    def _candidates(self, candidates: npt.ArrayLike | None) -> IntArray:
        if candidates is None:
            return np.arange(self.n_items, dtype=np.intp)
        cands = np.asarray(candidates, dtype=np.intp).ravel()
        if len(cands) and (cands.min() < 0 or cands.max() >= self.n_items):
            bad = int(cands[(cands < 0) | (cands >= self.n_items)][0])
            raise InvalidInput(
                f"candidate item index {bad} is outside the {self.n_items} trained items"
            )
        return cands

    def _history_row(
        self, items: npt.ArrayLike, weights: npt.ArrayLike | None
    ) -> sparse.csr_matrix:
        idx = np.asarray(items, dtype=np.intp).ravel()
        w = np.ones(len(idx)) if weights is None else np.asarray(weights, np.float64).ravel()
        if len(w) != len(idx):
            raise InvalidInput("give one weight per history item")
        keep = (idx >= 0) & (idx < self.n_items)
        idx, w = idx[keep], w[keep]
        config = self.config
        if isinstance(config, HistoryConfig):
            if not config.weighted:
                w = np.sign(w)
            if not config.negatives:
                w = np.clip(w, 0.0, None)
            if config.recency is not None:
                # Most recent last; one moment per event, as the caller gave no times.
                w = w * np.exp2(-np.arange(len(w))[::-1] / config.recency)
        row = sparse.csr_matrix(
            (w, (np.zeros(len(idx), dtype=np.intp), idx)), shape=(1, self.n_items)
        )
        row.sum_duplicates()
        return row

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise NotFitted(f"{self.family} has not been fitted: call fit(training_data) first")

    def memory_bytes(self) -> int:
        """What the fitted arrays take, roughly (for manifests)."""
        total = 0
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                total += value.nbytes
            elif sparse.issparse(value):
                total += value.data.nbytes + value.indices.nbytes + value.indptr.nbytes
        return total


def category_match(
    scorer: Scorer[Any], preferred: Sequence[str], candidates: IntArray
) -> FloatArray:
    """Share of each candidate's categories that are among ``preferred`` (0..1)."""
    wanted = np.zeros(len(scorer.categories))
    names = {c.casefold() for c in preferred}
    for k, name in enumerate(scorer.categories):
        if name.casefold() in names:
            wanted[k] = 1.0
    cats = scorer.item_categories[candidates]
    counts = np.asarray(cats.sum(axis=1)).ravel()
    hits = np.asarray(cats @ wanted).ravel()
    result: FloatArray = np.divide(hits, counts, out=np.zeros(len(candidates)), where=counts > 0)
    return result


def minmax_rows(scores: FloatArray) -> FloatArray:
    """Each row rescaled to [0, 1] over its finite entries (its lowest 0, its highest 1); a
    row with no spread becomes 0, so a component without an opinion adds nothing. Infinite
    entries (excluded items) stay as they are."""
    if scores.shape[-1] == 0:
        return scores.copy()
    low = scores.min(axis=1, keepdims=True)
    high = scores.max(axis=1, keepdims=True)
    if np.isfinite(low).all() and np.isfinite(high).all():  # the usual case: every entry finite
        spread = high - low
        ok = spread > 1e-12
        fast: FloatArray = np.where(ok, (scores - low) / np.where(ok, spread, 1.0), 0.0)
        return fast
    finite = np.isfinite(scores)
    low = np.where(finite, scores, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, scores, -np.inf).max(axis=1, keepdims=True)
    spread = high - low
    ok = np.isfinite(spread) & (spread > 1e-12)
    shifted = np.where(finite & ok, scores - np.where(ok, low, 0.0), 0.0)
    out = np.divide(shifted, spread, out=np.zeros_like(shifted), where=ok)
    result: FloatArray = np.where(finite, out, scores)
    return result
