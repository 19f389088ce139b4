"""Per-item arrays the guardrails read, built once per serving state: categories, sensitive
topics and creation times.

Label sets (an item's categories, its sensitive topics) are kept by item in CSR form. When a
catalogue has at most 64 labels of a kind, each item's set is also packed into one word (8 to
64 bits, the fewest that hold them), so "does this candidate have any of these labels" is one
AND over the candidates instead of a pass over their label lists. Reading a few thousand
candidates at random from a large catalogue costs about a cache miss each: narrow words keep
the array small enough to stay in cache between requests.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

if TYPE_CHECKING:
    from launchpoint.ranking.state import WorkspaceState

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Bits = npt.NDArray[np.unsignedinteger[Any]]

_WORDS = (np.uint8, np.uint16, np.uint32, np.uint64)


@dataclass(frozen=True, eq=False)
class CandidateLabels:
    """The label sets of one ribbon's candidates, aligned with the candidate list."""

    size: int
    bits: Bits | None  # per candidate, when the catalogue has at most 64 labels
    rows: IntArray  # CSR fallback: the candidate of every (candidate, label) entry
    labels: IntArray  # ... and its label

    def any_of(self, wanted: BoolArray) -> BoolArray:
        """Per candidate: has at least one label where ``wanted`` (one flag per label)."""
        if self.bits is not None:
            word = self.bits.dtype.type(sum(1 << int(n) for n in np.flatnonzero(wanted)))
            return np.asarray((self.bits & word) != 0)
        return np.bincount(self.rows[wanted[self.labels]], minlength=self.size) > 0

    def union(self, among: BoolArray, n_labels: int) -> BoolArray:
        """Per label: some candidate where ``among`` has it."""
        if self.bits is not None:
            word = int(np.bitwise_or.reduce(self.bits[among])) if among.any() else 0
            return np.array([(word >> n) & 1 == 1 for n in range(n_labels)], dtype=bool)
        out = np.zeros(n_labels, dtype=bool)
        out[self.labels[among[self.rows]]] = True
        return out


@dataclass(frozen=True, eq=False)
class ItemLabels:
    """Which labels (categories, or sensitive topics) each catalogue item has."""

    names: tuple[str, ...]
    indptr: IntArray  # CSR by item: labels of item i are indices[indptr[i]:indptr[i + 1]]
    indices: IntArray
    bits: Bits | None = field(default=None)
    # The same as Python lists, for the card-by-card work (a list lookup, no array slicing).
    lists: list[list[int]] = field(default_factory=list, repr=False)
    by_label: list[IntArray] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Derived views, built once here (the dataclass is frozen, and shared by threads).
        if not self.lists:
            flat, at = self.indices.tolist(), self.indptr.tolist()
            lists = [flat[a:b] for a, b in itertools.pairwise(at)]
            object.__setattr__(self, "lists", lists)
        order = np.argsort(self.indices, kind="stable")
        rows = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))[order]
        bounds = np.searchsorted(self.indices[order], np.arange(self.size + 1)).tolist()
        object.__setattr__(self, "by_label", [rows[a:b] for a, b in itertools.pairwise(bounds)])

    @classmethod
    def from_csr(
        cls,
        names: Sequence[str],
        indptr: IntArray,
        indices: IntArray,
        lists: list[list[int]] | None = None,
    ) -> ItemLabels:
        """``lists``: the same as Python lists, when the caller has them."""
        indptr = np.asarray(indptr, dtype=np.intp)
        indices = np.asarray(indices, dtype=np.intp)
        bits: Bits | None = None
        word = next((w for w in _WORDS if len(names) <= np.iinfo(w).bits), None)
        if word is not None:
            rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
            wide = np.zeros(len(indptr) - 1, dtype=np.uint64)
            np.bitwise_or.at(wide, rows, np.left_shift(np.uint64(1), indices.astype(np.uint64)))
            bits = wide.astype(word)
        return cls(tuple(names), indptr, indices, bits, lists or [])

    def with_rows(
        self, names: Sequence[str], indptr: IntArray, indices: IntArray, rows: Sequence[int]
    ) -> ItemLabels:
        """``from_csr(names, indptr, indices)`` for a catalogue that differs from this one's
        only in ``rows`` (items changed, or added at its end): every other item's list is
        this one's (a Python list per item is most of the cost: 40 ms at 100k items)."""
        if tuple(names) != self.names:  # labels renumbered: every item's list may change
            return ItemLabels.from_csr(names, indptr, indices)
        lists = self.lists + [[] for _ in range(len(indptr) - len(self.indptr))]
        for row in rows:
            lists[row] = indices[indptr[row] : indptr[row + 1]].tolist()
        return ItemLabels.from_csr(names, indptr, indices, lists)

    @classmethod
    def from_sets(cls, names: Sequence[str], per_item: Iterable[Iterable[int]]) -> ItemLabels:
        lists = [sorted(set(labels)) for labels in per_item]
        indptr = np.zeros(len(lists) + 1, dtype=np.intp)
        indptr[1:] = np.cumsum([len(labels) for labels in lists])
        flat = [label for labels in lists for label in labels]
        return cls.from_csr(names, indptr, np.array(flat, dtype=np.intp))

    @property
    def size(self) -> int:
        return len(self.names)

    def of(self, item: int) -> list[int]:
        """The labels of one item (do not change the list)."""
        return self.lists[item]

    def items_with(self, label: int) -> IntArray:
        """The items that have ``label``, in item order."""
        return self.by_label[label]

    def gather(self, items: IntArray) -> CandidateLabels:
        if self.bits is not None:
            empty = np.zeros(0, dtype=np.intp)
            return CandidateLabels(len(items), self.bits[items], empty, empty)
        return self.gather_csr(items)

    def jaccard(self, items: IntArray) -> FloatArray:
        """Jaccard similarity of the label sets of every pair of ``items`` (0 between two
        items without labels)."""
        overlap: FloatArray
        sizes: FloatArray
        if self.bits is not None and hasattr(np, "bitwise_count"):  # numpy 2: popcount
            words = self.bits[items]
            overlap = np.bitwise_count(words[:, None] & words[None, :]).astype(np.float64)
            sizes = np.bitwise_count(words).astype(np.float64)
        else:
            members = self.dense(items)
            overlap = members @ members.T
            sizes = members.sum(axis=1)
        union = sizes[:, None] + sizes[None, :] - overlap
        out = np.zeros_like(overlap)
        np.divide(overlap, union, out=out, where=union > 0)
        return out

    def dense(self, items: IntArray) -> FloatArray:
        """One row per item, one column per label: 1 where the item has the label."""
        out = np.zeros((len(items), self.size))
        gathered = self.gather_csr(items)
        out[gathered.rows, gathered.labels] = 1.0
        return out

    def gather_csr(self, items: IntArray) -> CandidateLabels:
        starts, ends = self.indptr[items], self.indptr[items + 1]
        lengths = ends - starts
        rows = np.repeat(np.arange(len(items)), lengths)
        # Entry e of candidate r sits at starts[r] + (e - first entry of r).
        first = np.cumsum(lengths) - lengths
        at = np.arange(int(lengths.sum())) - np.repeat(first - starts, lengths)
        return CandidateLabels(len(items), None, rows, self.indices[at])


@dataclass(frozen=True, eq=False)
class Catalogue:
    """What the guardrails know about the catalogue's items (by item index). Build it once
    per serving state."""

    item_ids: Sequence[str]
    item_index: Mapping[str, int]  # item id -> index
    created_at: FloatArray
    categories: ItemLabels
    topics: ItemLabels
    by_creation: IntArray = field(init=False, repr=False, compare=False)
    creation_times: FloatArray = field(init=False, repr=False, compare=False)  # sorted

    def __post_init__(self) -> None:
        order = np.argsort(self.created_at, kind="stable")
        object.__setattr__(self, "by_creation", order)
        object.__setattr__(self, "creation_times", self.created_at[order])

    @property
    def size(self) -> int:
        return len(self.item_ids)

    def created_since(self, moment: float) -> IntArray:
        """The items created at ``moment`` or later (a binary search, whatever the size)."""
        start = np.searchsorted(self.creation_times, moment, side="left")
        return self.by_creation[start:]

    @classmethod
    def build(
        cls,
        item_ids: Sequence[str],
        categories: Sequence[Sequence[str]],
        created_at: Sequence[float] | FloatArray,
        sensitive: Sequence[Sequence[str]] | None = None,
    ) -> Catalogue:
        """From per-item lists of category names and sensitive topics."""
        sensitive = sensitive if sensitive is not None else [[] for _ in item_ids]
        ids = list(item_ids)
        return cls(
            ids,
            {item_id: n for n, item_id in enumerate(ids)},
            np.asarray(created_at, dtype=np.float64),
            _labels(categories),
            _labels(sensitive),
        )

    @classmethod
    def from_state(cls, state: WorkspaceState) -> Catalogue:
        """From the serving state: its category matrix, sensitive labels and created_at."""
        indptr, indices = _category_csr(state)
        categories = ItemLabels.from_csr(state.categories, indptr, indices)
        names = sorted(state.sensitive_items)
        topics = ItemLabels.from_csr(names, *_topic_csr(state, names))
        created = np.fromiter(
            (float(row["created_at"]) for row in state.item_rows), np.float64, len(state.item_ids)
        )
        return cls(state.item_ids, state.item_index, created, categories, topics)

    def with_items(self, state: WorkspaceState, written: Sequence[int]) -> Catalogue:
        """``from_state(state)`` for a state whose catalogue differs from this one's only in
        the ``written`` items (changed, or added at its end: ``ranking.item_changes``),
        every other item's entries kept (at 100k items, a few ms against about 170)."""
        created = np.concatenate(
            (self.created_at, np.zeros(len(state.item_ids) - len(self.created_at)))
        )
        for item in written:
            created[item] = float(state.item_rows[item]["created_at"])
        categories = self.categories.with_rows(state.categories, *_category_csr(state), written)
        names = sorted(state.sensitive_items)
        topics = self.topics.with_rows(names, *_topic_csr(state, names), written)
        return Catalogue(state.item_ids, state.item_index, created, categories, topics)


def _category_csr(state: WorkspaceState) -> tuple[IntArray, IntArray]:
    """Each item's category numbers, sorted, in CSR form."""
    matrix = sparse.csr_matrix(state.item_categories, copy=True)
    matrix.sort_indices()
    return matrix.indptr, matrix.indices


def _topic_csr(state: WorkspaceState, names: Sequence[str]) -> tuple[IntArray, IntArray]:
    """Each item's sensitive topic numbers (in ``names``), sorted, in CSR form."""
    parts = [np.asarray(state.sensitive_items[name], dtype=np.intp) for name in names]
    items = np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)
    codes = np.repeat(np.arange(len(names), dtype=np.intp), [len(p) for p in parts])
    # Sorted by item, then topic; a topic an item lists twice, once.
    pairs = np.unique(items * max(len(names), 1) + codes)
    items, codes = np.divmod(pairs, max(len(names), 1))
    indptr = np.zeros(len(state.item_ids) + 1, dtype=np.intp)
    indptr[1:] = np.cumsum(np.bincount(items, minlength=len(state.item_ids)))
    return indptr, codes.astype(np.intp)


def _labels(per_item: Sequence[Sequence[str]]) -> ItemLabels:
    names = sorted({name for labels in per_item for name in labels})
    code = {name: n for n, name in enumerate(names)}
    return ItemLabels.from_sets(names, ([code[name] for name in labels] for labels in per_item))
