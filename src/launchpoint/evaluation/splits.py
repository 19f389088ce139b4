"""Ways to cut an interaction log into training, validation and test events.

Each split returns boolean masks over the log's events; the index spaces never change, so a
model fitted on the training part scores test users and items by the same indices. Every
random choice takes a seed, and ties in time are broken by seeded random keys, never by
item index (item ids often follow release order, which would leak).

- ``temporal_split``: one global cut-off time; everything after it is test (the most honest
  offline protocol: the model never sees the future).
- ``leave_last_k``: each user's k most recent liked events are test (users with enough).
- ``random_split``: events shuffled into train / validation / test, e.g. 8:1:1.
- ``item_cold_start_split``: a share of items, with all their events, held out: test items
  are never seen in training, which only content-aware models can score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from launchpoint.errors import InvalidInput
from launchpoint.recommenders.data import BoolArray, InteractionLog

SPLITS = ("temporal", "leave_last_k", "random", "item_cold_start")


@dataclass(frozen=True)
class Split:
    """Masks over one log's events; validation may be empty."""

    name: str
    log: InteractionLog
    train: BoolArray
    test: BoolArray
    validation: BoolArray

    def __post_init__(self) -> None:
        overlap = (self.train & self.test) | (self.train & self.validation)
        if overlap.any() or (self.validation & self.test).any():
            raise ValueError("split parts overlap")

    def relevant(self, part: str = "test") -> sparse.csr_matrix:
        """users x items, 1 where a user's summed weight in ``part`` is positive."""
        mask = {"test": self.test, "validation": self.validation, "train": self.train}[part]
        return self.log.subset(mask).matrix(positive_only=True)

    def test_users(self) -> np.ndarray:
        return np.flatnonzero(np.diff(self.relevant().indptr) > 0)


def _tiebreak(log: InteractionLog, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(len(log))


def temporal_split(
    log: InteractionLog, test_fraction: float = 0.2, *, at: float | None = None
) -> Split:
    """Events after the cut-off are test: ``at`` (epoch seconds) or the time leaving
    ``test_fraction`` of the events after it. Test keeps only users seen in training, since
    a user the model has never seen is a cold-start case, scored apart."""
    if at is None:
        if not 0 < test_fraction < 1:
            raise InvalidInput(f"test_fraction must be in (0, 1), got {test_fraction}")
        at = float(np.quantile(log.timestamps, 1 - test_fraction)) if len(log) else 0.0
    train = log.timestamps <= at
    known = np.zeros(log.n_users, dtype=bool)
    known[log.users[train]] = True
    test = ~train & known[log.users]
    return Split("temporal", log, train, test, np.zeros(len(log), dtype=bool))


def leave_last_k(
    log: InteractionLog, k: int = 5, *, seed: int = 0, min_train: int = 2, validation_k: int = 0
) -> Split:
    """Each user's ``k`` most recent liked events (weight > 0) are test, and the
    ``validation_k`` before those validation, for users keeping ``min_train`` liked events
    in training. Everything else, disliked events included, is training."""
    if k < 1:
        raise InvalidInput(f"k must be >= 1, got {k}")
    liked = log.weights > 0
    order = np.lexsort((_tiebreak(log, seed), -log.timestamps, ~liked, log.users))
    users = log.users[order]
    starts = np.searchsorted(users, np.arange(log.n_users))
    rank = np.arange(len(order)) - starts[users]
    n_liked = np.bincount(log.users[liked], minlength=log.n_users)
    enough = n_liked[users] >= k + validation_k + min_train
    test_sorted = liked[order] & (rank < k) & enough
    validation_sorted = liked[order] & (rank >= k) & (rank < k + validation_k) & enough
    test = np.zeros(len(log), dtype=bool)
    validation = np.zeros(len(log), dtype=bool)
    test[order] = test_sorted
    validation[order] = validation_sorted
    return Split("leave_last_k", log, ~(test | validation), test, validation)


def random_split(
    log: InteractionLog, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), *, seed: int = 0
) -> Split:
    """Events shuffled into train / validation / test by ``fractions`` (they must sum to 1)."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise InvalidInput(f"fractions must be three shares summing to 1, got {fractions}")
    draw = np.random.default_rng(seed).random(len(log))
    train = draw < fractions[0]
    validation = (draw >= fractions[0]) & (draw < fractions[0] + fractions[1])
    return Split("random", log, train, ~train & ~validation, validation)


def item_cold_start_split(
    log: InteractionLog, item_fraction: float = 0.1, *, seed: int = 0
) -> Split:
    """A random ``item_fraction`` of the items that have events is held out with all their
    events: those events are test, the rest training. Test items are new to the model."""
    if not 0 < item_fraction < 1:
        raise InvalidInput(f"item_fraction must be in (0, 1), got {item_fraction}")
    present = np.unique(log.items)
    rng = np.random.default_rng(seed)
    n_held = max(1, round(item_fraction * len(present))) if len(present) else 0
    held = np.zeros(log.n_items, dtype=bool)
    held[rng.choice(present, n_held, replace=False)] = True
    test = held[log.items]
    known = np.zeros(log.n_users, dtype=bool)
    known[log.users[~test]] = True
    test &= known[log.users]
    train = ~held[log.items]
    return Split("item_cold_start", log, train, test, np.zeros(len(log), dtype=bool))


def make_split(log: InteractionLog, name: str, *, seed: int = 0, k: int = 5) -> Split:
    """A split by name with its default settings (what the command line offers)."""
    if name == "temporal":
        return temporal_split(log)
    if name == "leave_last_k":
        return leave_last_k(log, k, seed=seed)
    if name == "random":
        return random_split(log, seed=seed)
    if name == "item_cold_start":
        return item_cold_start_split(log, seed=seed)
    raise InvalidInput(f"unknown split {name!r}; known splits: {', '.join(SPLITS)}")
