"""How much each kind of event says about a user's interest in an item."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

# view < click < save < purchase; dismiss and thumbs-down count against.
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "dwell": 1.0,
    "click": 2.0,
    "tag": 2.0,
    "like": 3.0,
    "save": 3.0,
    "share": 3.0,
    "thumbs_up": 3.0,
    "purchase": 5.0,
    "search": 0.0,
    "dismiss": -3.0,
    "thumbs_down": -3.0,
}
# A rating r weighs (r - RATING_MIDPOINT): 5 stars +2.5, 1 star -1.5.
RATING_MIDPOINT = 2.5
# Events after which an item is not offered again to that user.
CONSUMED_TYPES = frozenset({"purchase", "rate", "dismiss", "thumbs_down"})


def event_weights(
    types: tuple[str, ...],
    type_code: npt.NDArray[np.int16],
    value: npt.NDArray[np.float64],
    weights: Mapping[str, float] | None = None,
) -> npt.NDArray[np.float64]:
    """The weight of every event; unknown custom types weigh 1 like a view."""
    table = weights or DEFAULT_EVENT_WEIGHTS
    per_type = np.array([table.get(kind, 1.0) for kind in types] or [0.0], dtype=np.float64)
    out = per_type[type_code]
    if "rate" in types:
        is_rate = type_code == types.index("rate")
        rated = np.nan_to_num(value[is_rate], nan=RATING_MIDPOINT + 1.0)
        out[is_rate] = rated - RATING_MIDPOINT
    return out
