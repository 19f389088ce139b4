"""Per-user sums an experiment is judged on, built from exposures and attributed outcomes.

Every metric is a ratio of two per-user sums (numerator over denominator), summed over users:
the user is the unit of randomisation, so the analysis treats each user's pair as one
observation (the delta method, in ``analysis``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from launchpoint.experiments.attribution import Attributed, Exposure
from launchpoint.experiments.spec import EventTypes

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

COLUMNS = (
    "users",  # 1 per user: the denominator of per-user metrics
    "pages",  # exposures
    "impressions",  # cards shown
    "clicks",
    "conversions",
    "engagement",
    "negative",
    "opted_out",  # 1 when the user opted out after an exposure
    "categories_shown",  # distinct categories per page, summed over pages
)

# metric -> (numerator column, denominator column, what it means)
METRICS: dict[str, tuple[str, str, str]] = {
    "ctr": ("clicks", "impressions", "clicks per card shown"),
    "conversion": ("conversions", "pages", "conversions per page shown"),
    "engagement": ("engagement", "users", "interactions per user"),
    "diversity": ("categories_shown", "pages", "distinct categories per page"),
    "negative_feedback": ("negative", "impressions", "dismissals and thumbs-down per card"),
    "opt_out": ("opted_out", "users", "share of users who opted out"),
}


@dataclass(frozen=True)
class UserTable:
    """One row per user: their variant (an index into ``variants``) and their sums."""

    user_ids: list[str]
    variants: list[str]
    variant: IntArray
    columns: dict[str, FloatArray]

    def __len__(self) -> int:
        return len(self.user_ids)

    def subset(self, mask: npt.NDArray[np.bool_]) -> UserTable:
        keep = np.flatnonzero(mask)
        return UserTable(
            [self.user_ids[i] for i in keep.tolist()],
            self.variants,
            self.variant[keep],
            {name: column[keep] for name, column in self.columns.items()},
        )

    def counts(self) -> list[int]:
        """Users per variant, in ``variants`` order."""
        return [int(n) for n in np.bincount(self.variant, minlength=len(self.variants))]


def build_user_table(
    exposures: Sequence[Exposure],
    attributed: Sequence[Attributed],
    variants: Sequence[str],
    events: EventTypes,
    item_categories: Mapping[str, Sequence[str]] | None = None,
) -> UserTable:
    """Sum each exposed user's exposures and attributed outcomes. Exposures of a variant not in
    ``variants`` are left out. Diversity needs ``item_categories``; without it an item counts
    as its own category."""
    index = {v: n for n, v in enumerate(variants)}
    users: dict[str, int] = {}
    variant_of: list[int] = []
    for e in exposures:
        if e.variant in index and e.user_id not in users:
            users[e.user_id] = len(users)
            variant_of.append(index[e.variant])
    n = len(users)
    cols = {name: np.zeros(n, dtype=np.float64) for name in COLUMNS}
    cols["users"][:] = 1.0
    cats = item_categories or {}
    for e in exposures:
        row = users.get(e.user_id)
        if row is None or e.variant not in index:
            continue
        cols["pages"][row] += 1
        cols["impressions"][row] += len(e.items)
        shown: set[str] = set()
        for item in e.items:
            shown.update(cats.get(item, ()) if item_categories is not None else (item,))
        cols["categories_shown"][row] += len(shown)
    kinds = {
        "clicks": set(events.clicks),
        "conversions": set(events.conversions),
        "engagement": set(events.engagement),
        "negative": set(events.negative),
    }
    opt_out = set(events.opt_out)
    for a in attributed:
        row = users.get(a.outcome.user_id)
        if row is None or a.exposure.variant not in index:
            continue
        for column, types in kinds.items():
            if a.outcome.type in types:
                cols[column][row] += 1
        if a.outcome.type in opt_out:
            cols["opted_out"][row] = 1.0
    return UserTable(list(users), list(variants), np.asarray(variant_of, dtype=np.int64), cols)


def table_from_arrays(
    variants: Sequence[str], variant: IntArray, columns: Mapping[str, npt.ArrayLike]
) -> UserTable:
    """A table from per-user arrays (statistical simulations); missing columns are zero."""
    n = len(variant)
    cols = {name: np.zeros(n, dtype=np.float64) for name in COLUMNS}
    cols["users"][:] = 1.0
    for name, values in columns.items():
        if name not in cols:
            raise KeyError(f"unknown column {name!r}; known: {', '.join(COLUMNS)}")
        cols[name] = np.asarray(values, dtype=np.float64)
    return UserTable([f"u{i}" for i in range(n)], list(variants), np.asarray(variant), cols)
