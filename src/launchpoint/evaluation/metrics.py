"""Top-k metrics, vectorised over users.

Every accuracy metric takes ``recommended`` (users x k item indices, best first, -1 where a
list is shorter) and ``relevant`` (users x items CSR, non-zero = relevant), row for row, and
returns one value per user; users with nothing relevant get NaN and are left out of means.

- precision@k = hits in the top k / k
- recall@k    = hits in the top k / relevant items
- ndcg@k      = DCG / ideal DCG, binary gains, discount 1 / log2(rank + 1)
- map@k       = sum over hit ranks r of precision@r, / min(relevant, k)
- hit_rate@k  = 1 if any hit in the top k

Beyond accuracy, over all lists: catalogue coverage (share of items recommended to anyone),
intra-list diversity over categories (mean pairwise 1 - cosine), novelty (mean self-information
-log2 of the share of users who liked an item) and popularity bias (mean popularity
percentile of recommended items, 1 = the most popular item; plus the long-tail share).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import sparse

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

ACCURACY_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")


def hit_matrix(recommended: IntArray, relevant: sparse.csr_matrix) -> BoolArray:
    """users x k: whether each recommended item is relevant to its user."""
    rec = np.asarray(recommended, dtype=np.int64)
    n_users, n_items = relevant.shape
    if rec.shape[0] != n_users:
        raise ValueError(f"{rec.shape[0]} recommendation lists for {n_users} relevance rows")
    rel = sparse.csr_matrix(relevant)
    rel.eliminate_zeros()
    rel.sort_indices()
    rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(rel.indptr))
    keys = rows * n_items + rel.indices.astype(np.int64)  # sorted: CSR is row-major
    wanted = np.arange(n_users, dtype=np.int64)[:, None] * n_items + rec
    at = np.searchsorted(keys, wanted)
    found = (at < len(keys)) & (keys[np.minimum(at, max(len(keys) - 1, 0))] == wanted)
    result: BoolArray = found & (rec >= 0)
    return result


def _relevant_counts(relevant: sparse.csr_matrix) -> FloatArray:
    rel = sparse.csr_matrix(relevant)
    rel.eliminate_zeros()
    result: FloatArray = np.diff(rel.indptr).astype(np.float64)
    return result


def _per_user(values: FloatArray, counts: FloatArray) -> FloatArray:
    return np.where(counts > 0, values, np.nan)


def precision_at(recommended: IntArray, relevant: sparse.csr_matrix, k: int) -> FloatArray:
    hits = hit_matrix(recommended[:, :k], relevant)
    return _per_user(hits.sum(axis=1) / k, _relevant_counts(relevant))


def recall_at(recommended: IntArray, relevant: sparse.csr_matrix, k: int) -> FloatArray:
    hits = hit_matrix(recommended[:, :k], relevant)
    counts = _relevant_counts(relevant)
    return _per_user(hits.sum(axis=1) / np.maximum(counts, 1), counts)


def ndcg_at(recommended: IntArray, relevant: sparse.csr_matrix, k: int) -> FloatArray:
    hits = hit_matrix(recommended[:, :k], relevant)
    discount = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = hits @ discount
    counts = _relevant_counts(relevant)
    ideal_cum = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    idcg = ideal_cum[np.minimum(counts, k).astype(np.intp)]
    return _per_user(np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0), counts)


def map_at(recommended: IntArray, relevant: sparse.csr_matrix, k: int) -> FloatArray:
    hits = hit_matrix(recommended[:, :k], relevant).astype(np.float64)
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    counts = _relevant_counts(relevant)
    ap = (precision_at_rank * hits).sum(axis=1) / np.maximum(np.minimum(counts, k), 1)
    return _per_user(ap, counts)


def hit_rate_at(recommended: IntArray, relevant: sparse.csr_matrix, k: int) -> FloatArray:
    hits = hit_matrix(recommended[:, :k], relevant)
    any_hit = np.asarray(hits.any(axis=1), dtype=np.float64)
    return _per_user(any_hit, _relevant_counts(relevant))


METRIC_FUNCTIONS = {
    "precision": precision_at,
    "recall": recall_at,
    "ndcg": ndcg_at,
    "map": map_at,
    "hit_rate": hit_rate_at,
}


def coverage(recommended: IntArray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    shown = np.unique(recommended[recommended >= 0])
    return float(len(shown) / n_items) if n_items else 0.0


def _list_matrix(recommended: IntArray, n_items: int) -> sparse.csr_matrix:
    rows, cols = np.nonzero(recommended >= 0)
    items = recommended[rows, cols]
    return sparse.csr_matrix(
        (np.ones(len(items)), (rows, items)), shape=(recommended.shape[0], n_items)
    )


def intra_list_diversity(recommended: IntArray, item_categories: sparse.csr_matrix) -> FloatArray:
    """Per list, the mean over item pairs of 1 - cosine of their category vectors (NaN for a
    list of fewer than two items). sum_(i!=j) cos = |sum f|² - sum |f|² for unit vectors f."""
    cats = sparse.csr_matrix(item_categories, dtype=np.float64)
    norms = np.sqrt(np.asarray(cats.multiply(cats).sum(axis=1)).ravel())
    unit = sparse.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ cats
    lists = _list_matrix(recommended, cats.shape[0])
    summed = lists @ unit
    squared_sum = np.asarray(summed.multiply(summed).sum(axis=1)).ravel()
    self_terms = lists @ (norms > 0).astype(np.float64)
    size = np.asarray(lists.sum(axis=1)).ravel()
    pairs = size * (size - 1)
    mean_cos = np.divide(squared_sum - self_terms, pairs, out=np.zeros_like(pairs), where=pairs > 0)
    return np.where(pairs > 0, 1.0 - mean_cos, np.nan)


def novelty(recommended: IntArray, popularity: FloatArray, n_users: int) -> FloatArray:
    """Per list, the mean of -log2((users who liked the item + 1) / (users + 1))."""
    share = (np.asarray(popularity, dtype=np.float64) + 1.0) / (n_users + 1.0)
    info = -np.log2(share)
    valid = recommended >= 0
    values = np.where(valid, info[np.maximum(recommended, 0)], 0.0)
    counts = valid.sum(axis=1)
    return np.where(counts > 0, values.sum(axis=1) / np.maximum(counts, 1), np.nan)


def popularity_percentiles(popularity: FloatArray) -> FloatArray:
    """Each item's popularity as a percentile in [0, 1] (ties share their mean rank)."""
    pop = np.asarray(popularity, dtype=np.float64)
    if len(pop) <= 1:
        return np.ones(len(pop))
    order = np.argsort(pop, kind="stable")
    ranks = np.empty(len(pop))
    ranks[order] = np.arange(len(pop))
    # Ties: the mean rank of the tie group.
    _, inverse, counts = np.unique(pop, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse] / (len(pop) - 1)


def popularity_bias(recommended: IntArray, popularity: FloatArray) -> FloatArray:
    """Per list, the mean popularity percentile of its items (0.5 is what chance gives)."""
    pct = popularity_percentiles(popularity)
    valid = recommended >= 0
    values = np.where(valid, pct[np.maximum(recommended, 0)], 0.0)
    counts = valid.sum(axis=1)
    return np.where(counts > 0, values.sum(axis=1) / np.maximum(counts, 1), np.nan)


def long_tail_share(recommended: IntArray, popularity: FloatArray, head: float = 0.2) -> float:
    """Share of recommended slots given to items outside the most popular ``head`` share of
    the catalogue."""
    pop = np.asarray(popularity, dtype=np.float64)
    n_head = int(np.ceil(head * len(pop)))
    head_items = np.zeros(len(pop), dtype=bool)
    head_items[np.lexsort((np.arange(len(pop)), -pop))[:n_head]] = True
    valid = recommended >= 0
    slots = int(valid.sum())
    if slots == 0:
        return float("nan")
    return float((~head_items[recommended[valid]]).sum() / slots)


def top_k(scores: FloatArray, k: int) -> IntArray:
    """Row-wise indices of the k largest finite scores, best first (ties: lower index first);
    -1 where a row has fewer than k finite scores."""
    n_rows, n_cols = scores.shape
    k_eff = min(k, n_cols)
    if k_eff == 0:
        return np.full((n_rows, k), -1, dtype=np.intp)
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    chosen = np.take_along_axis(part, order, axis=1)
    chosen_scores = np.take_along_axis(part_scores, order, axis=1)
    chosen = np.where(np.isfinite(chosen_scores), chosen, -1)
    if k_eff < k:
        chosen = np.hstack([chosen, np.full((n_rows, k - k_eff), -1, dtype=np.intp)])
    return chosen.astype(np.intp)
