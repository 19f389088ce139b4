"""Matrix factorisation with the ``implicit`` library (CPU): ALS and BPR.

Training is implicit's; what the scorer keeps is two plain numpy arrays (user and item
factors), so a saved model loads and serves without implicit's objects. A history given at
request time is folded in: exactly for ALS (the least-squares step implicit itself takes for
one user), approximately for BPR (the weighted mean of the history's item factors).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from scipy import sparse

from launchpoint.recommenders.base import Scorer, ScorerConfig
from launchpoint.recommenders.data import FloatArray, IntArray, TrainingData


class ALSConfig(ScorerConfig):
    embedding_size: int = Field(64, ge=1, description="Factors per user and item.")
    reg: float = Field(0.05, ge=0, description="L2 regularisation of the factors.")
    alpha: float = Field(2.0, gt=0, description="Confidence per unit of signal weight.")
    epochs: int = Field(15, ge=1, description="Alternating least-squares sweeps.")
    weighted: bool = Field(False, description="Confidence from signal weights, not 1.")
    threads: int = Field(1, ge=0, description="Threads implicit may use (0: all cores).")


class BPRConfig(ScorerConfig):
    embedding_size: int = Field(64, ge=1, description="Factors per user and item.")
    reg: float = Field(0.01, ge=0, description="L2 regularisation of the factors.")
    learning_rate: float = Field(0.05, gt=0, description="SGD step size.")
    epochs: int = Field(100, ge=1, description="Passes over the positive pairs.")
    threads: int = Field(1, ge=0, description="Threads implicit may use (0: all cores).")


class _Factors(ABC):
    """Scoring shared by factor models: a score is the inner product of a user vector and an
    item vector (which is what lets a large catalogue be searched approximately,
    ``recommenders.ann``), related items the cosine of item vectors. A family says how a
    history row becomes a user vector."""

    user_factors: FloatArray
    item_factors: FloatArray

    @abstractmethod
    def _rows_vectors(self, rows: sparse.csr_matrix) -> FloatArray:
        """The user vector of each history row."""

    def _score_known(self, users: IntArray, candidates: IntArray) -> FloatArray:
        return self._dot(self.user_factors[users], candidates)

    def _score_rows(self, rows: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        return self._dot(self._rows_vectors(rows), candidates)

    def _related(self, item: int, candidates: IntArray) -> FloatArray:
        return self._cosine(item, candidates)

    def user_vector(self, user: int) -> FloatArray:
        """A trained user's vector."""
        vector: FloatArray = self.user_factors[user]
        return vector

    def history_vector(self, row: sparse.csr_matrix) -> FloatArray:
        """The vector of a user known by one history row (``Scorer._history_row``)."""
        vector: FloatArray = self._rows_vectors(row)[0]
        return vector

    def _dot(self, users: FloatArray, candidates: IntArray) -> FloatArray:
        return np.asarray(users @ self.item_factors[candidates].T, dtype=np.float64)

    def _cosine(self, item: int, candidates: IntArray) -> FloatArray:
        vectors = self.item_factors[candidates]
        norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(self.item_factors[item])
        dots = vectors @ self.item_factors[item]
        result: FloatArray = np.divide(dots, norms, out=np.zeros(len(candidates)), where=norms > 0)
        return result


class ALSScorer(_Factors, Scorer[ALSConfig]):
    family: ClassVar[str] = "als"
    config_class = ALSConfig

    def _fit(self, data: TrainingData) -> None:
        from implicit.cpu.als import AlternatingLeastSquares  # type: ignore[import-untyped]

        c = self.config
        with quiet_blas():  # implicit checks BLAS threads when the model is made
            model = AlternatingLeastSquares(
                factors=c.embedding_size,
                regularization=c.reg,
                alpha=c.alpha,
                iterations=c.epochs,
                random_state=c.seed,
                num_threads=c.threads,
            )
            model.fit(_user_items(data, c.weighted), show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float64)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float64)
        self.gram = self.item_factors.T @ self.item_factors

    def _rows_vectors(self, rows: sparse.csr_matrix) -> FloatArray:
        """Each row's least-squares user vector with item factors fixed (implicit's ALS
        objective: confidence 1 + alpha·w on liked items, preference 1)."""
        y, alpha = self.item_factors, self.config.alpha
        reg = self.config.reg * np.eye(y.shape[1])
        out = np.zeros((rows.shape[0], y.shape[1]))
        for n in range(rows.shape[0]):
            start, end = rows.indptr[n], rows.indptr[n + 1]
            items, w = rows.indices[start:end], rows.data[start:end]
            liked = w > 0
            items, w = items[liked], (w[liked] if self.config.weighted else np.ones(liked.sum()))
            if len(items) == 0:
                continue
            yi = y[items]
            confidence = 1.0 + alpha * w
            a = self.gram + (yi.T * (confidence - 1.0)) @ yi + reg
            out[n] = np.linalg.solve(a, yi.T @ confidence)
        return out


class BPRScorer(_Factors, Scorer[BPRConfig]):
    family: ClassVar[str] = "bpr"
    config_class = BPRConfig

    def _fit(self, data: TrainingData) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking  # type: ignore[import-untyped]

        c = self.config
        model = BayesianPersonalizedRanking(
            factors=c.embedding_size,
            learning_rate=c.learning_rate,
            regularization=c.reg,
            iterations=c.epochs,
            random_state=c.seed,
            num_threads=c.threads,
        )
        with quiet_blas():
            model.fit(_user_items(data, weighted=False), show_progress=False)
        # implicit appends a bias column: users carry a 1 there, items their bias.
        self.user_factors = np.asarray(model.user_factors, dtype=np.float64)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float64)

    def _rows_vectors(self, rows: sparse.csr_matrix) -> FloatArray:
        liked = rows.copy()
        liked.data = np.clip(liked.data, 0.0, None)
        totals = np.asarray(liked.sum(axis=1)).ravel()
        weights = np.maximum(totals, 1e-12)[:, None]
        users: FloatArray = np.asarray(liked @ self.item_factors) / weights
        users[:, -1] = 1.0  # the bias column, as in trained user factors
        return users


def _user_items(data: TrainingData, weighted: bool) -> Any:
    liked = data.positive.astype(np.float32)
    if not weighted:
        liked.data = np.ones_like(liked.data)
    return liked.tocsr()


@contextmanager
def quiet_blas() -> Iterator[None]:
    """implicit warns when BLAS runs several threads under its own; give it one."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
