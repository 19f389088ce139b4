"""What recommenders are trained on.

An ``InteractionLog`` is a workspace's events as parallel arrays over fixed user and item
index spaces, each event already turned into a signed signal weight (view < click < save <
purchase; dismiss and thumbs-down count against; a rating against a threshold). Evaluation
splits cut a log into parts; ``InteractionLog.training_data`` folds one part into the
matrices every family fits on (``TrainingData``). ``training_data_from_state`` does both for
a serving state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from launchpoint.errors import InvalidInput
from launchpoint.ranking.signals import DEFAULT_EVENT_WEIGHTS, RATING_MIDPOINT

if TYPE_CHECKING:
    from launchpoint.ranking.state import WorkspaceState

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class ItemMetadata:
    """What is known about items besides behaviour: what content models read."""

    titles: tuple[str, ...]
    texts: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    created_at: FloatArray  # epoch seconds, NaN where unknown

    @classmethod
    def build(
        cls,
        titles: Sequence[str],
        texts: Sequence[str] | None = None,
        categories: Sequence[Sequence[str]] | None = None,
        created_at: Sequence[float] | FloatArray | None = None,
    ) -> ItemMetadata:
        n = len(titles)
        return cls(
            titles=tuple(titles),
            texts=tuple(texts) if texts is not None else ("",) * n,
            categories=tuple(tuple(c) for c in categories) if categories else ((),) * n,
            created_at=(
                np.asarray(created_at, dtype=np.float64)
                if created_at is not None
                else np.full(n, np.nan)
            ),
        )

    def __len__(self) -> int:
        return len(self.titles)

    def documents(self) -> list[str]:
        """One text per item: title, text and categories, what TF-IDF and encoders read."""
        return [
            " ".join(part for part in (title, text, " ".join(cats)) if part)
            for title, text, cats in zip(self.titles, self.texts, self.categories, strict=True)
        ]

    def category_matrix(self) -> tuple[tuple[str, ...], sparse.csr_matrix]:
        """(category names, items x categories with 1 where the item has the category)."""
        names = tuple(sorted({c for cats in self.categories for c in cats}))
        index = {name: k for k, name in enumerate(names)}
        rows = [i for i, cats in enumerate(self.categories) for _ in set(cats)]
        cols = [index[c] for cats in self.categories for c in sorted(set(cats))]
        matrix = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(self.titles), len(names))
        )
        return names, matrix


@dataclass(frozen=True)
class InteractionLog:
    """Events as parallel arrays; ``weights`` are signed signal weights, one per event."""

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    users: IntArray
    items: IntArray
    weights: FloatArray
    timestamps: FloatArray
    metadata: ItemMetadata

    def __post_init__(self) -> None:
        n = len(self.users)
        if not (len(self.items) == len(self.weights) == len(self.timestamps) == n):
            raise InvalidInput("users, items, weights and timestamps must have one entry each")
        if len(self.metadata) != len(self.item_ids):
            raise InvalidInput("item metadata must have one entry per item id")
        if n and (self.users.min() < 0 or self.users.max() >= len(self.user_ids)):
            raise InvalidInput("a user index is outside the user ids")
        if n and (self.items.min() < 0 or self.items.max() >= len(self.item_ids)):
            raise InvalidInput("an item index is outside the item ids")

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def subset(self, mask: BoolArray) -> InteractionLog:
        """The events where ``mask`` holds; the index spaces stay the same."""
        return replace(
            self,
            users=self.users[mask],
            items=self.items[mask],
            weights=self.weights[mask],
            timestamps=self.timestamps[mask],
        )

    def matrix(self, positive_only: bool = True) -> sparse.csr_matrix:
        """users x items, 1 where the summed weight of a pair is positive (or non-zero)."""
        data = aggregate(self.users, self.items, self.weights, self.timestamps, self.n_items)
        keep = data.sums > 0 if positive_only else data.sums != 0
        ones = np.ones(int(keep.sum()))
        return _csr(ones, data.rows[keep], data.cols[keep], self.n_users, self.n_items)

    def training_data(
        self, *, half_life_days: float | None = None, now: float | None = None
    ) -> TrainingData:
        """The matrices families fit on. With ``half_life_days``, an event's weight halves for
        every half-life between its time and ``now`` (default: the latest event)."""
        if now is None:
            now = float(self.timestamps.max()) if len(self) else 0.0
        weights = self.weights
        if half_life_days is not None:
            if half_life_days <= 0:
                raise InvalidInput(f"half_life_days must be > 0, got {half_life_days}")
            age = np.clip(now - self.timestamps, 0.0, None) / (half_life_days * SECONDS_PER_DAY)
            weights = weights * np.exp2(-age)
        data = aggregate(self.users, self.items, weights, self.timestamps, self.n_items)
        nonzero = data.sums != 0
        rows, cols = data.rows[nonzero], data.cols[nonzero]
        categories, item_categories = self.metadata.category_matrix()
        return TrainingData(
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            interactions=_csr(data.sums[nonzero], rows, cols, self.n_users, self.n_items),
            times=_csr(data.last[nonzero], rows, cols, self.n_users, self.n_items),
            categories=categories,
            item_categories=item_categories,
            metadata=self.metadata,
            now=now,
            half_life_days=half_life_days,
        )


@dataclass(frozen=True)
class _Pairs:
    rows: IntArray
    cols: IntArray
    sums: FloatArray
    last: FloatArray


def aggregate(
    users: IntArray, items: IntArray, weights: FloatArray, times: FloatArray, n_items: int
) -> _Pairs:
    """Events summed per (user, item) pair, in row-major order, with each pair's latest time."""
    keys = users.astype(np.int64) * max(n_items, 1) + items.astype(np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=weights, minlength=len(unique)).astype(np.float64)
    last = np.full(len(unique), -np.inf)
    np.maximum.at(last, inverse, times)
    rows = (unique // max(n_items, 1)).astype(np.intp)
    cols = (unique % max(n_items, 1)).astype(np.intp)
    return _Pairs(rows, cols, sums, last)


def _csr(
    data: FloatArray, rows: IntArray, cols: IntArray, n_rows: int, n_cols: int
) -> sparse.csr_matrix:
    """A CSR matrix from pairs already in row-major order, built without a sort, so that two
    matrices made from the same pairs share one structure (times align with weights)."""
    indptr = np.searchsorted(rows, np.arange(n_rows + 1)).astype(np.int64)
    return sparse.csr_matrix(
        (np.asarray(data, dtype=np.float64), cols.astype(np.int32), indptr), shape=(n_rows, n_cols)
    )


@dataclass(frozen=True)
class TrainingData:
    """users x items matrices of summed signal weights, with the time of each pair's latest
    event (same structure), and the item metadata content models read."""

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    interactions: sparse.csr_matrix  # signed; time-decayed when half_life_days is set
    times: sparse.csr_matrix  # the latest event time of each stored pair
    categories: tuple[str, ...]
    item_categories: sparse.csr_matrix  # items x categories, 1 where the item has it
    metadata: ItemMetadata
    now: float
    half_life_days: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @cached_property
    def positive(self) -> sparse.csr_matrix:
        """The pairs whose summed weight is positive: what "liked" means to every family."""
        return _keep(self.interactions, self.interactions.data > 0)

    @cached_property
    def positive_times(self) -> sparse.csr_matrix:
        return _keep(self.times, self.interactions.data > 0)

    @cached_property
    def popularity(self) -> FloatArray:
        """Users with a positive interaction, per item."""
        counts = np.bincount(self.positive.indices, minlength=self.n_items)
        return counts.astype(np.float64)

    @cached_property
    def active_users(self) -> BoolArray:
        """Users with at least one positive interaction; the others are cold."""
        result: BoolArray = np.diff(self.positive.indptr) > 0
        return result

    def window(self) -> dict[str, float | None]:
        """The time span of the pairs trained on, for manifests."""
        if self.times.nnz == 0:
            return {"first_event": None, "last_event": None}
        return {
            "first_event": float(self.times.data.min()),
            "last_event": float(self.times.data.max()),
        }

    def history(
        self, *, recency: float | None, negatives: bool, weighted: bool
    ) -> sparse.csr_matrix:
        """Users' histories as scoring rows: positive pairs, plus negative ones when
        ``negatives``; signal weights or 1 (-1); and, with ``recency``, each pair's weight
        halved for every ``recency`` more recent distinct moments the user has."""
        if negatives:
            matrix, times = self.interactions, self.times
        else:
            matrix, times = self.positive, self.positive_times
        values = matrix.data.copy() if weighted else np.sign(matrix.data)
        if recency is not None:
            values *= np.exp2(-recency_ranks(times) / recency)
        return sparse.csr_matrix((values, matrix.indices, matrix.indptr), shape=matrix.shape)


def _keep(matrix: sparse.csr_matrix, mask: BoolArray) -> sparse.csr_matrix:
    """The stored entries where ``mask`` holds, keeping row-major order and explicit zeros."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))[mask]
    return _csr(matrix.data[mask], rows, matrix.indices[mask].astype(np.intp), *matrix.shape)


def recency_ranks(times: sparse.csr_matrix) -> FloatArray:
    """For each stored entry, how many distinct later moments its row holds (0: the latest).
    Entries at the same moment share a rank, so the order of a batch entered at once (MovieLens
    stores many ratings with one timestamp) never counts as recency."""
    rows = np.repeat(np.arange(times.shape[0]), np.diff(times.indptr))
    if len(rows) == 0:
        return np.zeros(0)
    order = np.lexsort((-times.data, rows))
    r, t = rows[order], times.data[order]
    new_row = np.r_[True, r[1:] != r[:-1]]
    new_moment = new_row | np.r_[True, t[1:] != t[:-1]]
    moment = np.cumsum(new_moment) - 1
    first = np.maximum.accumulate(np.where(new_row, moment, 0))
    ranks = np.empty(len(rows))
    ranks[order] = moment - first
    return ranks


# -- from a workspace ---------------------------------------------------------------------


def signal_weights(
    types: tuple[str, ...],
    type_code: npt.NDArray[np.int16],
    value: FloatArray,
    weights: Mapping[str, float] | None = None,
    rating_threshold: float | None = None,
) -> FloatArray:
    """Each event's weight: the workspace's table per type (default: ranking's), unknown
    types weigh 1. A rating r weighs r - 2.5; with ``rating_threshold`` t, r >= t weighs
    r - t + 1 (a liked item, the more so the higher) and r < t weighs r - t (disliked)."""
    table = dict(DEFAULT_EVENT_WEIGHTS)
    table.update(weights or {})
    per_type = np.array([table.get(kind, 1.0) for kind in types] or [0.0], dtype=np.float64)
    out = per_type[type_code] if len(type_code) else np.zeros(0)
    if "rate" in types:
        is_rate = type_code == types.index("rate")
        rated = value[is_rate]
        if rating_threshold is None:
            out[is_rate] = np.nan_to_num(rated, nan=RATING_MIDPOINT + 1.0) - RATING_MIDPOINT
        else:
            rated = np.nan_to_num(rated, nan=rating_threshold)
            out[is_rate] = np.where(
                rated >= rating_threshold, rated - rating_threshold + 1.0, rated - rating_threshold
            )
    return out


def log_from_state(
    state: WorkspaceState,
    *,
    weights: Mapping[str, float] | None = None,
    rating_threshold: float | None = None,
) -> InteractionLog:
    """The state's item events as a log, weighted by the workspace's signal table."""
    events = state.events
    signal = signal_weights(events.types, events.type_code, events.value, weights, rating_threshold)
    keep = (events.item >= 0) & (signal != 0) & np.isfinite(signal)
    metadata = ItemMetadata.build(
        titles=[str(r.get("title") or "") for r in state.item_rows],
        texts=[_item_text(r) for r in state.item_rows],
        categories=[list(r.get("categories") or ()) for r in state.item_rows],
        created_at=[_number(r.get("created_at")) for r in state.item_rows],
    )
    return InteractionLog(
        user_ids=tuple(state.user_ids),
        item_ids=tuple(state.item_ids),
        users=events.user[keep].astype(np.intp),
        items=events.item[keep].astype(np.intp),
        weights=signal[keep],
        timestamps=events.ts[keep].astype(np.float64),
        metadata=metadata,
    )


def training_data_from_state(
    state: WorkspaceState,
    *,
    weights: Mapping[str, float] | None = None,
    rating_threshold: float | None = None,
    half_life_days: float | None = None,
    now: float | None = None,
) -> TrainingData:
    """Training data for a workspace as the serving state holds it. ``now`` defaults to the
    state's clock, so time decay is measured from when the state was built."""
    log = log_from_state(state, weights=weights, rating_threshold=rating_threshold)
    return log.training_data(half_life_days=half_life_days, now=state.now if now is None else now)


_TEXT_FIELDS = ("id", "title", "text", "categories", "available", "created_at", "sensitive")


def _item_text(row: Mapping[str, Any]) -> str:
    """The item's text plus its short string attributes (brand, format, tags...), which
    describe it as well as its prose does."""
    parts = [str(row.get("text") or "")]
    for key, value in row.items():
        if key in _TEXT_FIELDS or key.startswith("@"):
            continue
        if isinstance(value, str) and len(value) <= 64:
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str) and len(v) <= 64)
    return " ".join(p for p in parts if p)


def _number(value: Any) -> float:
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return math.nan


def hold_out_last(
    data: TrainingData, k: int, seed: int, min_left: int = 2
) -> tuple[TrainingData, sparse.csr_matrix]:
    """Each user's ``k`` most recent liked pairs taken out (ties broken at random, seeded), for
    users keeping at least ``min_left`` liked pairs: (the rest, users x items held out = 1)."""
    matrix = data.interactions
    rows = np.repeat(np.arange(data.n_users), np.diff(matrix.indptr))
    liked = matrix.data > 0
    tiebreak = np.random.default_rng(seed).random(len(rows))
    order = np.lexsort((tiebreak, -data.times.data, ~liked, rows))
    starts = np.searchsorted(rows[order], np.arange(data.n_users))
    rank = np.arange(len(order)) - starts[rows[order]]
    n_liked = np.bincount(rows[liked], minlength=data.n_users)
    held_sorted = liked[order] & (rank < k) & (n_liked[rows[order]] >= k + min_left)
    held = np.zeros(len(rows), dtype=bool)
    held[order] = held_sorted
    rest = replace(data, interactions=_keep(matrix, ~held), times=_keep(data.times, ~held))
    held_out = _csr(
        np.ones(int(held.sum())),
        rows[held],
        matrix.indices[held].astype(np.intp),
        data.n_users,
        data.n_items,
    )
    return rest, held_out
