"""EASE: a linear item-to-item model in closed form (Steck, 2019).

B = argmin ||X - XB||² + reg·||B||² with diag(B) = 0, solved by one inversion of the item
Gram matrix: P = (XᵀX + reg·I)⁻¹, B = -P / diag(P). The inversion is cubic in items and B is
dense, so the number of items is capped: above ``max_items`` it refuses, or, with
``subset="top_popular"``, trains on the ``max_items`` most liked items and ranks the others
last (the hybrid's other components still score them).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field
from scipy import sparse
from scipy.linalg import lapack

from launchpoint.errors import InvalidInput
from launchpoint.recommenders.base import History, HistoryConfig, Scorer
from launchpoint.recommenders.data import BoolArray, FloatArray, IntArray, TrainingData


class EASEConfig(HistoryConfig):
    reg: float = Field(250.0, gt=0, description="L2 regularisation added to the Gram diagonal.")
    max_items: int = Field(
        20_000, ge=1, description="Most items EASE inverts (memory grows with its square)."
    )
    subset: Literal["refuse", "top_popular"] = Field(
        "refuse", description="Above max_items: refuse, or train on the most popular items."
    )


def spd_inverse(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The inverse of a symmetric positive definite matrix through its Cholesky factor
    (LAPACK potrf + potri, single precision): a quarter of the time of a general inverse in
    double precision, and the regularised Gram matrix is far from singular."""
    factor, info = lapack.spotrf(matrix, lower=False, overwrite_a=True)
    if info != 0:
        raise ValueError(f"Cholesky factorisation failed (LAPACK info {info})")
    inverse, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise ValueError(f"inverse from the Cholesky factor failed (LAPACK info {info})")
    # potri fills the upper triangle; mirror it block by block, without n x n temporaries.
    n, step = inverse.shape[0], 1024
    for start in range(0, n, step):
        stop = min(start + step, n)
        inverse[start:stop, :start] = inverse[:start, start:stop].T
        block = np.triu(inverse[start:stop, start:stop])
        inverse[start:stop, start:stop] = block + np.triu(block, 1).T
    # LAPACK answers in column-major order; the inverse is symmetric, so its transpose is the
    # same matrix in row-major order, where a request reads its rows (``EASEScorer``).
    result: npt.NDArray[np.float32] = inverse.T if inverse.flags.f_contiguous else inverse
    return result


REQUEST_HISTORY = 100  # history items one request is scored from, at most


class EASEScorer(Scorer[EASEConfig]):
    family: ClassVar[str] = "ease"
    config_class = EASEConfig

    def _fit(self, data: TrainingData) -> None:
        liked = np.flatnonzero(data.popularity > 0)  # an item nobody liked has no row in B
        if len(liked) > self.config.max_items:
            if self.config.subset == "refuse":
                raise InvalidInput(
                    f"EASE would invert a {len(liked):,} x {len(liked):,} matrix, more than "
                    f"max_items={self.config.max_items:,}: use item_knn or als for this "
                    "catalogue, or set subset='top_popular' to train EASE on the most popular "
                    "items only"
                )
            order = np.lexsort((liked, -data.popularity[liked]))
            liked = np.sort(liked[order[: self.config.max_items]])
        self.items = liked
        self.position = np.full(data.n_items, -1, dtype=np.intp)
        self.position[liked] = np.arange(len(liked))
        x = data.positive[:, liked].astype(np.float64)
        x.data = np.ones_like(x.data)
        gram = np.asarray((x.T @ x).todense(), dtype=np.float32)
        gram[np.diag_indices_from(gram)] += self.config.reg
        p = spd_inverse(gram)
        p /= -np.diag(p)[None, :]  # B = -P / diag(P), in place: B is the largest array here
        p[np.diag_indices_from(p)] = 0.0
        self.weights = p

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models saved before B was kept row-major: a request gathers B's rows for the user's
        # history, 8x slower from a column-major array, so convert once on load.
        weights = state.get("weights")
        if isinstance(weights, np.ndarray) and not weights.flags.c_contiguous:
            state["weights"] = np.ascontiguousarray(weights)
        self.__dict__.update(state)

    def _score_rows(self, rows: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        if rows.shape[0] == 1:
            return self._score_one(History.of(rows), candidates)
        cols, inside = self._columns(candidates)
        sub = sparse.csr_matrix(rows[:, self.items], dtype=np.float32)
        if len(cols) * 4 < len(self.items):  # few candidates: only their columns
            part = np.asarray(sub @ self.weights[:, cols], dtype=np.float64)
        else:
            part = np.asarray(sub @ self.weights, dtype=np.float64)[:, cols]
        return self._place(part, inside)

    def _score_one(self, history: History, candidates: IntArray) -> FloatArray:
        """One request: only the rows of B for the history, and of those only the candidates'
        columns when they are few; a pass over all of B (9,742 x 9,742 on ml-latest-small:
        380 MB) costs hundreds of milliseconds. A long history is scored from its
        REQUEST_HISTORY heaviest items (with recency weighting, the latest): the rest weigh
        little."""
        cols, inside = self._columns(candidates)
        at = self.position[history.items]
        weights = np.asarray(history.weights, dtype=np.float32)
        keep = (at >= 0) & (weights != 0)
        at, weights = at[keep], weights[keep]
        if len(at) > REQUEST_HISTORY:
            heaviest = np.argpartition(-np.abs(weights), REQUEST_HISTORY)[:REQUEST_HISTORY]
            at, weights = at[heaviest], weights[heaviest]
        if len(cols) * 4 < len(self.items):
            part = np.asarray(weights @ self.weights[np.ix_(at, cols)], dtype=np.float64)
        else:
            part = np.asarray(weights @ self.weights[at], dtype=np.float64)[cols]
        return self._place(part[None, :], inside)

    def _columns(self, candidates: IntArray) -> tuple[IntArray, BoolArray]:
        """The candidates' columns in B, and which candidates have one."""
        pos = self.position[candidates]
        inside = pos >= 0
        return pos[inside], inside

    @staticmethod
    def _place(part: FloatArray, inside: BoolArray) -> FloatArray:
        """Scores of every candidate: B's for those inside the trained subset, and below
        every trained item for those outside it."""
        out = np.empty((part.shape[0], len(inside)))
        out[:, inside] = part
        if not inside.all():
            floor = part.min(axis=1, keepdims=True) - 1.0 if part.size else 0.0
            out[:, ~inside] = floor
        return out

    def _related(self, item: int, candidates: IntArray) -> FloatArray:
        pos, at = self.position[candidates], self.position[item]
        out = np.zeros(len(candidates))
        if at >= 0:
            inside = pos >= 0
            out[inside] = self.weights[at, pos[inside]]
        return out

    def because(self, user: int, items: IntArray) -> IntArray:
        """For each item, the user's history item with the largest weight toward it."""
        self._check_fitted()
        out = np.full(len(items), -1, dtype=np.intp)
        if not 0 <= user < self.n_users:
            return out
        history = self.user_history(user)
        at = self.position[history.items]
        keep = at >= 0
        at, weights = at[keep], history.weights[keep]
        targets = self.position[np.asarray(items, dtype=np.intp)]
        inside = targets >= 0
        if inside.any() and len(at):
            # history x targets block of B, dense: per target, the heaviest contribution.
            contributions = weights[:, None] * self.weights[np.ix_(at, targets[inside])]
            best = np.argmax(contributions, axis=0)
            strongest = contributions[best, np.arange(len(best))]
            out[inside] = np.where(strongest > 0, self.items[at[best]], -1)
        return out
