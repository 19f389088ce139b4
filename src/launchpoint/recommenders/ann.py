"""Approximate nearest-neighbour search over a factor model's item vectors, for catalogues too
large to score every candidate on every request.

A factor model (ALS, BPR) scores an item by the inner product of the user's vector and the
item's. Over a few thousand candidates computing every product is cheapest; over hundreds of
thousands, a graph index answers "the best k items among these" without reading them all.
faiss's HNSW index does this with an inner-product metric and a filter (a bitmap of the items
the request may use: the segment's eligible items the user may see), which is what a ribbon
needs; writing our own graph index would only be a slower copy of it.

The graph searches by Euclidean distance over item vectors given one more coordinate,
sqrt(R^2 - |x|^2) with R the largest norm, and queries given a 0 there: the nearest item is then
the one with the largest inner product (the usual reduction of maximum inner-product search to
nearest neighbours). Searching the raw vectors with an inner-product metric instead found 85%
of the true best 50 on clustered test vectors; this finds 99.7%.

The index is built once per loaded model, in a background thread (a 100k-item catalogue takes
seconds, a million items minutes), and requests score exactly until it is ready: a server that
has just loaded a model never waits for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

HNSW_NEIGHBOURS = 32  # edges per node: faiss's usual setting for tens of dimensions
HNSW_EF_CONSTRUCTION = 80  # breadth of the search that places each new node
MIN_EF_SEARCH = 128  # breadth of a query's search, at least; see ``search``


def _faiss() -> Any:
    import faiss

    return faiss


class VectorIndex:
    """The best items for a query vector by inner product, among the allowed ones."""

    def __init__(self, vectors: npt.ArrayLike) -> None:
        faiss = _faiss()
        data = np.asarray(vectors, dtype=np.float64)
        if data.ndim != 2 or len(data) == 0:
            raise ValueError("a vector index needs a non-empty 2-d array of item vectors")
        self.size, self.dim = data.shape
        start = time.perf_counter()
        norms = np.einsum("ij,ij->i", data, data)
        extra = np.sqrt(np.maximum(norms.max() - norms, 0.0))
        lifted = np.ascontiguousarray(np.column_stack([data, extra]), dtype=np.float32)
        index = faiss.IndexHNSWFlat(self.dim + 1, HNSW_NEIGHBOURS)  # Euclidean
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(lifted)
        self.index = index
        self.build_seconds = time.perf_counter() - start

    def search(self, query: npt.ArrayLike, k: int, allowed: BoolArray | None = None) -> IntArray:
        """Up to ``k`` item indices, best first; only items where ``allowed`` is true."""
        faiss = _faiss()
        vector = np.zeros((1, self.dim + 1), dtype=np.float32)
        vector[0, : self.dim] = np.reshape(query, self.dim)
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.intp)
        params = faiss.SearchParametersHNSW()
        share = 1.0
        bits = None
        if allowed is not None:
            if len(allowed) != self.size:
                raise ValueError(f"allowed has {len(allowed)} entries for {self.size} items")
            share = max(float(np.count_nonzero(allowed)) / self.size, 1e-6)
            bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
            # The selector reads ``bits`` by pointer: it stays referenced until the search ends.
            params.sel = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bits))
        # A filter that allows a small share of the items leaves fewer allowed nodes on each
        # path through the graph: search wider. Measured on 100k clustered vectors, k = 200:
        # recall 0.98 with 10% allowed, 0.99+ from 20%.
        params.efSearch = max(MIN_EF_SEARCH, int(2 * k / np.sqrt(share)))
        _, ids = self.index.search(vector, k, params=params)
        found = ids[0]
        del bits
        result: IntArray = found[found >= 0].astype(np.intp)
        return result


class BackgroundIndex:
    """A VectorIndex built in a daemon thread on first request; ``get`` answers None until it
    is ready (or when building failed: ``error`` says why, and requests keep scoring
    exactly)."""

    def __init__(self, vectors: Callable[[], FloatArray]) -> None:
        self._vectors = vectors
        self._index: VectorIndex | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.error: str | None = None

    def get(self, wait: bool = False) -> VectorIndex | None:
        if self._index is not None or self.error is not None:
            return self._index
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._build, name="launchpoint-ann-build", daemon=True
                )
                self._thread.start()
        if wait:
            self._thread.join()
        return self._index

    def _build(self) -> None:
        try:
            self._index = VectorIndex(self._vectors())
        except Exception as exc:  # the server goes on scoring exactly; the reason is kept
            self.error = f"{type(exc).__name__}: {exc}"
