"""A trained model: a fitted scorer with the ids it was trained on and what to say about it.

``train_model`` is what ``launchpoint train`` runs: fit a family on training data and keep
the figures a manifest records. ``TrainedModel.for_state`` answers in a serving state's
index space (see ``serving.StateScorer``), built once per state version.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from launchpoint.recommenders.base import Scorer
from launchpoint.recommenders.data import TrainingData
from launchpoint.recommenders.families import DEFAULT_FAMILY, make_scorer

if TYPE_CHECKING:
    from launchpoint.ranking.state import WorkspaceState
    from launchpoint.recommenders.ann import BackgroundIndex, VectorIndex
    from launchpoint.recommenders.serving import StateScorer


@dataclass
class TrainedModel:
    scorer: Scorer[Any]
    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    training_seconds: float
    data: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    version: str | None = None
    # The two latest states' scorers: a state built beside the serving one is aligned before
    # it takes over, while requests still score with the one serving.
    _aligned: tuple[tuple[tuple[int, float], StateScorer], ...] = field(
        default=(), init=False, repr=False, compare=False
    )
    _ann: BackgroundIndex | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def family(self) -> str:
        return self.scorer.family

    @cached_property
    def user_index(self) -> dict[str, int]:
        return {uid: n for n, uid in enumerate(self.user_ids)}

    @cached_property
    def item_index(self) -> dict[str, int]:
        return {iid: n for n, iid in enumerate(self.item_ids)}

    def info_for_manifest(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "params": self.scorer.config.model_dump(mode="json"),
            "created_at": self.created_at,
            "training_seconds": round(self.training_seconds, 3),
            "data": self.data,
            "metrics": self.metrics,
            "python": sys.version.split()[0],
        }

    def for_state(self, state: WorkspaceState) -> StateScorer:
        """This model in ``state``'s index space; kept until the state changes."""
        from launchpoint.recommenders.serving import StateScorer

        # Keyed on the state's build, not its version: events taken into a built state move
        # its version on without changing its indices, and re-aligning costs a pass over items.
        key = (id(state), state.built_at)
        for known, scorer in self._aligned:
            if known == key:
                return scorer
        scorer = StateScorer(self, state)
        self._aligned = ((key, scorer), *self._aligned[:1])
        return scorer

    def keep_aligned(self, state: WorkspaceState) -> None:
        """Forget the scorers of states other than ``state`` (the one serving), so that a
        replaced state, or one built and not kept, is freed."""
        key = (id(state), state.built_at)
        self._aligned = tuple(entry for entry in self._aligned if entry[0] == key)

    @property
    def has_vectors(self) -> bool:
        """Whether scores are inner products of user and item vectors (factor models), which
        an approximate nearest-neighbour index can search."""
        return hasattr(self.scorer, "item_factors") and hasattr(self.scorer, "history_vector")

    def vector_index(self, wait: bool = False) -> VectorIndex | None:
        """The approximate nearest-neighbour index over the item vectors: None for a model
        without vectors, and until the index (built in the background on first call) is
        ready, unless ``wait``."""
        if not self.has_vectors:
            return None
        if self._ann is None:
            from launchpoint.recommenders.ann import BackgroundIndex

            scorer: Any = self.scorer
            self._ann = BackgroundIndex(lambda: scorer.item_factors)
        return self._ann.get(wait=wait)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "_aligned": ()})

    def __getstate__(self) -> dict[str, Any]:
        # What depends on a serving state, or is cheap to rebuild, is not saved. None, as
        # earlier versions wrote and read it: a model saved here still loads after a rollback.
        state = dict(self.__dict__)
        state["_aligned"] = None
        state["_ann"] = None
        state.pop("user_index", None)
        state.pop("item_index", None)
        return state


def train_model(
    data: TrainingData,
    family: str = DEFAULT_FAMILY,
    params: Mapping[str, Any] | None = None,
    *,
    signals: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainedModel:
    """Fit ``family`` on ``data``. ``signals``: how the data was weighted (event weights,
    rating threshold), recorded in the manifest."""
    scorer = make_scorer(family, **dict(params or {}))
    if progress is not None and hasattr(scorer, "progress"):
        scorer.progress = progress
    start = time.perf_counter()
    scorer.fit(data)
    seconds = time.perf_counter() - start
    if hasattr(scorer, "progress"):
        scorer.progress = None  # a callback is not part of the artefact
    metrics: dict[str, Any] = {}
    validation = getattr(scorer, "validation", None)
    if validation:
        metrics["validation"] = validation
    info = {
        **data.window(),
        "now": data.now,
        "users": data.n_users,
        "items": data.n_items,
        "interactions": int(data.interactions.nnz),
        "positive": int(data.positive.nnz),
        "half_life_days": data.half_life_days,
        "signals": dict(signals or {}),
    }
    return TrainedModel(scorer, data.user_ids, data.item_ids, seconds, info, metrics)
