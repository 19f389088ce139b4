"""Implicit interests: what a user's behaviour says about each category, decayed over time,
with negative signals counting against; and how they combine with what the user stated.

interest[c] = sum over the user's events e on an item of category c of
              weight(e) * share of c in the item * 0.5 ** (age(e) / half_life)
Events before the user's last reset are not counted. For ranking and for ``affinity()`` in
rules each user's row is scaled by its largest absolute value, to [-1, 1]; interests the user
removed count 0, and categories the user stated count at least ``STATED_INTEREST``.

Batch (every user) and one-user versions share ``_decay`` and the weights, so the real-time
path after an event gives exactly what the next rebuild will.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse

from launchpoint.pacing import no_pace
from launchpoint.ranking.signals import DEFAULT_EVENT_WEIGHTS

FloatArray = npt.NDArray[np.float64]

EVENTS_PER_STEP = 1_000_000  # interest_matrix's events per range of users: about 150 ms
STATED_INTEREST = 0.6  # a stated interest ranks like a strong, not the strongest, habit
DEFAULT_HALF_LIFE_DAYS = 90.0


@dataclass(frozen=True)
class SignalConfig:
    """Per-workspace signal settings (the ``signals`` workspace document)."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS  # 0: no decay


@dataclass(frozen=True)
class ProfileEdits:
    """What users changed about their own profile; indexed by user position."""

    # Changed in place as a user's edits are taken into a built state (ranking.user_changes).
    reset_at: FloatArray  # -inf where never reset
    removed: dict[int, frozenset[str]]  # user -> categories removed from inferred interests
    stated: dict[int, frozenset[str]]  # user -> categories the user stated
    no_inferred: frozenset[int] = frozenset()  # users who opted out of inferred interests

    @classmethod
    def none(cls, n_users: int) -> ProfileEdits:
        return cls(np.full(n_users, -np.inf), {}, {})


def decay(ts: FloatArray, now: float, half_life_days: float) -> FloatArray:
    if half_life_days <= 0:
        return np.ones_like(ts)
    age_days = np.maximum(now - ts, 0.0) / 86400.0  # a future timestamp does not grow
    return np.asarray(np.exp2(-age_days / half_life_days), dtype=np.float64)


def interest_matrix(
    user: npt.NDArray[np.int32],
    item: npt.NDArray[np.int32],
    weights: FloatArray,
    ts: FloatArray,
    item_categories: sparse.csr_matrix,
    n_users: int,
    now: float,
    config: SignalConfig,
    reset_at: FloatArray,
    pace: Callable[[], None] = no_pace,
) -> sparse.csr_matrix:
    """users x categories, signed and decayed, unscaled. Made for one range of users at a
    time, about ``EVENTS_PER_STEP`` events each, with ``pace`` called between them (a build
    beside the serving state gives way to requests there): each user's row is computed from
    the user's events in their order, as in one pass, so the result is the same bit for bit."""
    keep = (item >= 0) & (ts > reset_at[user])
    decayed = weights[keep] * decay(ts[keep], now, config.half_life_days)
    user, item = user[keep], item[keep]
    steps = max(1, min(n_users, len(user) // EVENTS_PER_STEP))
    bounds = np.linspace(0, n_users, steps + 1).astype(np.int64)
    parts = []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        pace()
        mine = (user >= lo) & (user < hi) if steps > 1 else slice(None)
        by_item = sparse.csr_matrix(
            (decayed[mine], (user[mine] - lo, item[mine])),
            shape=(hi - lo, item_categories.shape[0]),
        )
        by_item.sum_duplicates()
        parts.append(sparse.csr_matrix(by_item @ item_categories))
    if len(parts) == 1:
        return parts[0]
    pace()
    return sparse.csr_matrix(sparse.vstack(parts, format="csr"))


def user_interest_row(
    items: npt.NDArray[np.int32],
    weights: FloatArray,
    ts: FloatArray,
    item_categories: sparse.csr_matrix,
    now: float,
    config: SignalConfig,
    reset_at: float,
) -> FloatArray:
    """One user's row of ``interest_matrix``, dense, from that user's events."""
    keep = (items >= 0) & (ts > reset_at)
    decayed = weights[keep] * decay(ts[keep], now, config.half_life_days)
    n_items = item_categories.shape[0]
    per_item = np.bincount(items[keep], weights=decayed, minlength=n_items)
    return np.asarray(item_categories.T @ per_item, dtype=np.float64).ravel()


def scale_rows(interest: sparse.csr_matrix) -> sparse.csr_matrix:
    """Each row divided by its largest absolute value: -1..1."""
    if interest.shape[1] == 0:
        return interest
    magnitude = abs(interest)
    largest = np.asarray(magnitude.max(axis=1).todense()).ravel()
    scale = np.divide(1.0, largest, out=np.zeros_like(largest), where=largest > 0)
    return sparse.csr_matrix(sparse.diags(scale) @ interest)


def scale_row(row: FloatArray) -> FloatArray:
    largest = float(np.abs(row).max(initial=0.0))
    return row / largest if largest > 0 else np.zeros_like(row)


def combine(
    scaled: FloatArray, categories: Sequence[str], removed: frozenset[str], stated: frozenset[str]
) -> FloatArray:
    """A user's affinity per category: scaled implicit interests, less the removed ones, with
    stated interests at least ``STATED_INTEREST``."""
    out = scaled.copy()
    if removed or stated:
        for k, category in enumerate(categories):
            if category in removed:
                out[k] = 0.0
            if category in stated:
                out[k] = max(out[k], STATED_INTEREST)
    return out
