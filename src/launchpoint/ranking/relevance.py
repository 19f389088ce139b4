"""The scoring stage: how relevant each candidate is to the user, and the signal that placed
each card, in words.

With a trained model active (``launchpoint train``), a card's score blends the model's score
(the hybrid, normalised over the candidates) with the user's category affinity, which moves
with every event, so feedback shows before the next training run. Without one, the first
score: the item's popularity among the segment's members and the user's category affinity,
half and half.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from launchpoint.ranking.retrieval import RetrievalConfig, Search
from launchpoint.ranking.state import SegmentState, WorkspaceState

if TYPE_CHECKING:
    from launchpoint.ranking.pipeline import UserSignals
    from launchpoint.recommenders.serving import StateScorer

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]

POPULARITY_WEIGHT = 0.5  # the first score: segment popularity against affinity
MODEL_WEIGHT = 0.7  # with a trained model: the model against live affinity
# From this share of the catalogue in one ribbon, a factor model scores every item once per
# request, and every later ribbon of the request reads from that: a product over contiguous
# float32 item vectors (100k x 64: 0.4 ms) costs less than gathering a tenth of them for one
# ribbon (0.9 ms in float32, 1.9 ms in float64).
WHOLE_CATALOGUE_FROM = 0.02
VERBS = {
    "rate": "rated",
    "purchase": "bought",
    "save": "saved",
    "like": "liked",
    "thumbs_up": "liked",
    "share": "shared",
    "click": "viewed",
    "view": "viewed",
    "dwell": "read",
}


def _scaled(values: FloatArray) -> FloatArray:
    if len(values) == 0:
        return values
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.full(len(values), 0.5)


@dataclass
class _RequestScores:
    """Scores one request computes once for its user and every ribbon reads: the user's
    affinity for every item, a factor model's scores of every item, a hybrid's memo of
    its components' scores of every item (``HybridScorer.score_in_segment``), and the user's
    events that "Because you rated ..." reads."""

    user: UserSignals | None
    affinity: FloatArray | None = None
    model_all: FloatArray | None = None
    memo: dict[int, FloatArray] = field(default_factory=dict)
    events: tuple[npt.NDArray[np.integer], npt.NDArray[np.integer]] | None = None  # by item


class Relevance:
    def __init__(
        self,
        state: WorkspaceState,
        model: StateScorer | None = None,
        retrieval: RetrievalConfig | None = None,
    ) -> None:
        self.state = state
        self.model = model
        self.retrieval = retrieval or RetrievalConfig()
        self._request = _RequestScores(None)

    def search(self, user: UserSignals) -> Search | None:
        """Approximate search for the user's best candidates (``ranking.retrieval``): with a
        factor model whose index is ready, for a user it has a vector for."""
        model = self.model
        threshold = self.retrieval.ann_min_items
        # No ribbon of a smaller catalogue reaches the threshold: build no index for it.
        if model is None or not user.personal or not 0 < threshold <= len(self.state.item_ids):
            return None
        vector = model.query_vector(user.index)
        if vector is None:
            return None
        return lambda candidates, n: model.nearest(vector, candidates, n)

    @property
    def algorithm(self) -> str:
        return self.model.model.family if self.model is not None else "first_score"

    def item_affinity(self, user: UserSignals, items: IntArray) -> FloatArray:
        if not user.personal or len(self.state.categories) == 0:
            return np.zeros(len(items))
        # One product over the whole catalogue per user and request, then a gather: cheaper
        # than slicing the item x category matrix for each ribbon's candidates.
        request = self._for(user)
        if request.affinity is None:
            request.affinity = np.asarray(
                self.state.item_categories_by_column @ user.affinity, dtype=np.float64
            )
        return request.affinity[items]

    def score(self, user: UserSignals, items: IntArray, segment: SegmentState | None) -> FloatArray:
        affinity = self.item_affinity(user, items)
        if self.model is not None and user.personal and len(items):
            model = _scaled(self._model_scores(user, items, segment))
            return MODEL_WEIGHT * model + (1 - MODEL_WEIGHT) * affinity
        if segment is not None:
            top = segment.top_popularity
            pop = segment.popularity[items] / top if top > 0 else segment.popularity[items]
        else:
            pop = self.state.popularity[items] / (self.state.top_popularity or 1.0)
        return POPULARITY_WEIGHT * pop + (1 - POPULARITY_WEIGHT) * affinity

    def _model_scores(
        self, user: UserSignals, items: IntArray, segment: SegmentState | None
    ) -> FloatArray:
        """The model's scores of ``items``. A factor model over a large share of the catalogue
        scores every item once per request (one product of the item vectors with the user's)
        and each ribbon reads its candidates from that."""
        model = self.model
        assert model is not None
        request = self._for(user)
        large = len(items) >= WHOLE_CATALOGUE_FROM * len(self.state.item_ids)
        if request.model_all is None and model.model.has_vectors and large:
            request.model_all = model.score_all(user.index)
        if request.model_all is not None:
            return request.model_all[items]
        popularity = segment.popularity if segment is not None else None
        return model.score(user.index, items, popularity, request.memo)

    def _for(self, user: UserSignals) -> _RequestScores:
        """What this request computed for ``user`` (one request holds one user's signals;
        a new user starts afresh)."""
        if self._request.user is not user:
            self._request = _RequestScores(user)
        return self._request

    def reasons(
        self, user: UserSignals, items: IntArray, segment: SegmentState | None
    ) -> dict[int, tuple[str, str]]:
        """item -> (reason, signal) for cards the model placed."""
        out: dict[int, tuple[str, str]] = {}
        if len(items) == 0:
            return out
        popular = self._popular(segment)
        if self.model is not None and user.personal:
            for item, placement in zip(
                items.tolist(),
                self.model.explain(user.index, items, items, self._for(user).memo),
                strict=True,
            ):
                if placement.because_item_id is not None:
                    out[item] = (self._because(user, placement.because_item_id), placement.signal)
                elif placement.signal == "popularity":
                    out[item] = popular
                else:
                    liked = self._liked_category(user, item)
                    out[item] = (
                        (f"Because you like {liked}", placement.signal) if liked else popular
                    )
            return out
        if segment is not None:
            top = segment.top_popularity
            pop = segment.popularity[items] / top if top > 0 else segment.popularity[items]
        else:
            pop = self.state.popularity[items] / (self.state.top_popularity or 1.0)
        affinity = self.item_affinity(user, items)
        for item, pop_term, aff_term in zip(items.tolist(), pop, affinity, strict=True):
            liked = self._liked_category(user, item)
            if user.personal and aff_term > pop_term and liked:
                out[item] = (f"Because you like {liked}", "affinity")
            else:
                out[item] = popular
        return out

    def popular_reasons(self, items: IntArray) -> dict[int, tuple[str, str]]:
        """item -> (reason, signal) for cards ranked by overall popularity alone (the
        fallback ribbon): neither the model nor the user's tastes placed them."""
        return dict.fromkeys(items.tolist(), self._popular(None))

    @staticmethod
    def _popular(segment: SegmentState | None) -> tuple[str, str]:
        if segment is None:
            return "Popular right now", "popular"
        return segment.spec.reason_text(), "segment_popularity"

    def _liked_category(self, user: UserSignals, item: int) -> str | None:
        cats = self.state.item_categories
        own = cats.indices[cats.indptr[item] : cats.indptr[item + 1]]
        if len(own) == 0 or not user.personal:
            return None
        best = own[int(np.argmax(user.affinity[own]))]
        return self.state.categories[best] if user.affinity[best] > 0 else None

    def _because(self, user: UserSignals, item_id: str) -> str:
        """ "Because you rated *Alien*": the user's strongest event on the item behind it."""
        state = self.state
        item = state.item_index.get(item_id, -1)
        title = state.item_rows[item]["title"] if item >= 0 else item_id
        items, codes = self._events_of(user)
        kinds = codes[np.searchsorted(items, item) : np.searchsorted(items, item, side="right")]
        verb = "liked"
        for code in sorted(set(kinds.tolist())):  # a handful: Python's set beats np.unique
            name = state.events.types[code]
            if name in VERBS:
                verb = VERBS[name]
                if name in ("rate", "purchase", "save"):
                    break
        return f"Because you {verb} {title or item_id}"

    def _events_of(
        self, user: UserSignals
    ) -> tuple[npt.NDArray[np.integer], npt.NDArray[np.integer]]:
        """The user's events as (item, event type code), ordered by item: read once per
        request, then each card's events are a slice of it."""
        request = self._for(user)
        if request.events is None:
            state = self.state
            order, indptr = state.events_by_user
            mine = order[indptr[user.index] : indptr[user.index + 1]]
            items = state.events.item[mine]
            by_item = np.argsort(items, kind="stable")
            request.events = (items[by_item], state.events.type_code[mine][by_item])
        events = request.events
        return events
