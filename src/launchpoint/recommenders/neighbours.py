"""Item-to-item neighbours: cosine similarity over the interaction matrix, top-k pruned.

score(u, i) = sum over the user's history items j of h_uj * s(j, i), where s keeps, for
each target item i, only its ``n`` most similar items. The same sums say which history item
placed a card ("Because you rated Alien"): the j with the largest h_uj * s(j, i).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from scipy import sparse

from launchpoint.recommenders.base import (
    History,
    HistoryConfig,
    Scorer,
    runs_of,
    sum_of_rows,
)
from launchpoint.recommenders.data import FloatArray, IntArray, TrainingData

BLOCK_ITEMS = 2048  # similarity columns computed at once: bounds memory at any catalogue size


class ItemKNNConfig(HistoryConfig):
    n: int = Field(200, ge=1, description="Neighbours kept per item (top-k pruning).")
    min_similarity: float = Field(0.0, ge=0, description="Drop similarities at or below this.")
    shrink: float = Field(
        0.0, ge=0, description="Shrink a similarity by co-count / (co-count + shrink)."
    )


class ItemKNNScorer(Scorer[ItemKNNConfig]):
    family: ClassVar[str] = "item_knn"
    config_class = ItemKNNConfig

    def _fit(self, data: TrainingData) -> None:
        liked = data.positive.copy()
        liked.data = np.ones_like(liked.data)
        self.similarity = item_similarity(
            liked, self.config.n, self.config.min_similarity, self.config.shrink
        )

    def _score_rows(self, rows: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        if rows.shape[0] == 1:
            return self._score_one(History.of(rows), candidates)
        if len(candidates) == self.n_items:
            return np.asarray((rows @ self.similarity).todense())[:, candidates]
        return np.asarray((rows @ self.similarity[:, candidates]).todense())

    def _score_one(self, history: History, candidates: IntArray) -> FloatArray:
        """One request: the similarity's rows for the history's items, weighted and summed,
        read from a row-major copy (column slices of the column-major matrix were converted
        from one layout to the other on every call). Items of negligible weight are left
        out (``History.significant``)."""
        history = history.significant()
        every = sum_of_rows(self._rows_of_similarity(), history.items, history.weights)
        result: FloatArray = every[candidates][None, :]
        return result

    def _rows_of_similarity(self) -> sparse.csr_matrix:
        cached: sparse.csr_matrix | None = getattr(self, "_similarity_rows", None)
        if cached is None:
            cached = self._similarity_rows = sparse.csr_matrix(self.similarity)
        return cached

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_similarity_rows", None)  # rebuilt on first use after loading
        return state

    def _related(self, item: int, candidates: IntArray) -> FloatArray:
        # s(item, c): how much liking ``item`` says about c; s(c, item) as a fallback where
        # ``item`` is not among c's kept neighbours (pruning is per target item).
        # Column slices are what a CSC matrix does fast.
        forward = self.similarity[:, candidates].tocsr().getrow(item).toarray().ravel()
        backward = self.similarity.getcol(item).toarray().ravel()[candidates]
        result: FloatArray = np.maximum(forward, backward)
        return result

    def because(self, user: int, items: IntArray) -> IntArray:
        """For each item, the user's history item that contributed most to its score (-1:
        none did)."""
        self._check_fitted()
        if not 0 <= user < self.n_users:
            return np.full(len(items), -1, dtype=np.intp)
        history = self.user_history(user)
        return strongest_contributor(history.items, history.weights, self.similarity, items)


def item_similarity(
    liked: sparse.csr_matrix, n: int, min_similarity: float = 0.0, shrink: float = 0.0
) -> sparse.csc_matrix:
    """items x items cosine similarity of the columns of ``liked``, zero diagonal, keeping for
    each column (target item) its ``n`` largest entries. Computed in column blocks."""
    n_items = liked.shape[1]
    csc = sparse.csc_matrix(liked, dtype=np.float64)
    norms = np.sqrt(np.asarray(csc.multiply(csc).sum(axis=0)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    normed = sparse.csc_matrix(csc @ sparse.diags(scale))
    gram_t = normed.T.tocsr()
    counts_t = csc.T.tocsr() if shrink > 0 else None
    blocks = []
    for start in range(0, n_items, BLOCK_ITEMS):
        stop = min(start + BLOCK_ITEMS, n_items)
        block = sparse.csc_matrix(gram_t @ normed[:, start:stop])
        if counts_t is not None:
            co = sparse.csc_matrix(counts_t @ csc[:, start:stop])
            block = block.multiply(co / (co + shrink)).tocsc() if co.nnz else block
        blocks.append(_prune_columns(block, start, n, min_similarity))
    return sparse.hstack(blocks, format="csc") if blocks else sparse.csc_matrix((n_items, 0))


def _prune_columns(
    block: sparse.csc_matrix, offset: int, n: int, min_similarity: float
) -> sparse.csc_matrix:
    """Keep each column's ``n`` largest entries above ``min_similarity``; no self-similarity."""
    block = block.tocoo()
    keep = (block.row != block.col + offset) & (block.data > min_similarity)
    rows, cols, vals = block.row[keep], block.col[keep], block.data[keep]
    # Rank within each column by value, largest first (ties: lower item index first).
    order = np.lexsort((rows, -vals, cols))
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(cols, cols, side="left")
    top = (np.arange(len(cols)) - starts) < n
    return sparse.csc_matrix(
        (vals[top], (rows[top], cols[top])), shape=(block.shape[0], block.shape[1])
    )


def strongest_contributor(
    history: IntArray, weights: FloatArray, similarity: sparse.csc_matrix, items: IntArray
) -> IntArray:
    """For each target item, the history item j maximising h_j * s(j, item) (ties: the lowest
    j); -1 if none contributes positively. Reads only the targets' columns of ``similarity``."""
    items = np.asarray(items, dtype=np.intp)
    out = np.full(len(items), -1, dtype=np.intp)
    if len(history) == 0 or len(items) == 0:
        return out
    weight_of = np.zeros(similarity.shape[0])
    weight_of[history] = weights
    at, lengths, first = runs_of(similarity.indptr, items)
    nonempty = lengths > 0
    if not nonempty.any():
        return out
    sources = similarity.indices[at]
    contributions = weight_of[sources] * similarity.data[at]
    # Per target (one run of the gather), its strongest contribution, then the lowest source
    # among those that reach it; targets without entries have no run.
    runs = first[nonempty]
    strongest = np.maximum.reduceat(contributions, runs)
    reaching = contributions == np.repeat(strongest, lengths[nonempty])
    lowest = np.minimum.reduceat(np.where(reaching, sources, similarity.shape[0]), runs)
    strong = strongest > 0
    out[np.flatnonzero(nonempty)[strong]] = lowest[strong]
    return out
