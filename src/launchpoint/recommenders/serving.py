"""A trained model answering in a serving state's index space.

Models are trained on a snapshot; the serving state moves on (new items, new users, new
events). ``StateScorer`` maps one to the other: candidates are the state's item indices;
items the model has never seen rank after the ones it knows (among themselves by content
when the model has a content component); users the model has never seen are scored from
their history in the state, or by popularity when they have none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from launchpoint.recommenders.data import FloatArray, IntArray, ItemMetadata

if TYPE_CHECKING:
    from launchpoint.ranking.state import WorkspaceState
    from launchpoint.recommenders.model import TrainedModel


@dataclass(frozen=True)
class Placement:
    """Why a card is where it is, in ids a card can show."""

    item_id: str
    score: float
    signal: str  # the component that contributed most (the family name)
    because_item_id: str | None  # "Because you rated Alien": the user's item behind it
    parts: dict[str, float]


class StateScorer:
    def __init__(self, model: TrainedModel, state: WorkspaceState) -> None:
        self.model = model
        self.state = state
        index = model.item_index
        self.to_model = np.fromiter(
            (index.get(item_id, -1) for item_id in state.item_ids), np.intp, len(state.item_ids)
        )
        self.to_state = np.full(len(model.item_ids), -1, dtype=np.intp)
        known = self.to_model >= 0
        self.to_state[self.to_model[known]] = np.flatnonzero(known)
        self._content = _content_component(model.scorer)
        self._identity = len(self.to_model) == len(model.item_ids) and bool(
            (self.to_model == np.arange(len(self.to_model))).all()
        )
        self._vectors32: npt.NDArray[np.float32] | None = None

    def model_user(self, user: int) -> int:
        """The model's index of a state user, -1 for a user who arrived after training."""
        return self.model.user_index.get(self.state.user_ids[user], -1)

    def score(
        self,
        user: int,
        candidates: npt.ArrayLike,
        segment_popularity: FloatArray | None = None,
        memo: dict[int, FloatArray] | None = None,
    ) -> FloatArray:
        """Scores of the state's ``candidates`` for the state's ``user``. With
        ``segment_popularity`` (per state item, e.g. ``SegmentState.popularity``) a hybrid
        reads popularity within the segment instead of overall. ``memo``: one request's
        memo for this user, which a hybrid fills with its components' scores of every item
        (see ``HybridScorer.score_in_segment``)."""
        cands = np.asarray(candidates, dtype=np.intp)
        who = self.model_user(user)
        if self._identity:  # the state's items are the model's: no mapping
            return self._known_scores(user, who, cands, cands, segment_popularity, memo)
        mapped = self.to_model[cands]
        known = mapped >= 0
        out = np.empty(len(cands))
        if known.any():
            out[known] = self._known_scores(
                user, who, mapped[known], cands[known], segment_popularity, memo
            )
        if not known.all():
            out[~known] = self._new_item_scores(who, cands[~known], out[known])
        return out

    def _known_scores(
        self,
        user: int,
        who: int,
        inside: IntArray,
        cands: IntArray,
        segment_popularity: FloatArray | None,
        memo: dict[int, FloatArray] | None,
    ) -> FloatArray:
        """``score`` of candidates the model knows: ``inside`` in the model's indices,
        ``cands`` the same in the state's; ``who``: the model's user, -1 for a new one."""
        scorer = self.model.scorer
        if who >= 0 and segment_popularity is not None and hasattr(scorer, "score_in_segment"):
            scores: FloatArray = scorer.score_in_segment(
                who, inside, segment_popularity[cands], memo
            )
        elif who >= 0:
            scores = scorer.score(who, inside)
        else:
            items, weights = self._state_history(user)
            scores = scorer.score_history(items, weights, inside)
        return np.asarray(scores, dtype=np.float64)

    def score_all(self, user: int) -> FloatArray:
        """``score`` over every state item at once. For a factor model that is one product
        of the item vectors with the user's vector, with no gather: a large candidate set
        costs less read from it than scored by itself."""
        scorer: Any = self.model.scorer
        vector = self._vector(user) if self.model.has_vectors else None
        if vector is None:
            return self.score(user, np.arange(len(self.state.item_ids)))
        if self._vectors32 is None:  # half the bytes to read, for a ranking that needs no more
            self._vectors32 = np.ascontiguousarray(scorer.item_factors, dtype=np.float32)
        every = (self._vectors32 @ vector.astype(np.float32)).astype(np.float64)
        if self._identity:  # the state's items are the model's, in the same order
            return every
        known = self.to_model >= 0
        out = np.empty(len(self.to_model))
        out[known] = every[self.to_model[known]]
        if not known.all():
            who = self.model_user(user)
            out[~known] = self._new_item_scores(who, np.flatnonzero(~known), out[known])
        return out

    def _vector(self, user: int) -> FloatArray | None:
        """The user's vector in a factor model, as ``score`` would use it; None for a cold
        user (scored by popularity)."""
        scorer: Any = self.model.scorer
        who = self.model_user(user)
        if who >= 0:  # as ``score``: a trained user without liked items is cold
            return scorer.user_vector(who) if scorer.active[who] else None
        items, weights = self._state_history(user)
        row = scorer._history_row(items, weights)
        if not (row.data > 0).any():
            return None
        vector: FloatArray = scorer.history_vector(row)
        return vector

    def query_vector(self, user: int) -> FloatArray | None:
        """The vector to search the model's item index with for the state's ``user``; None
        when the model has no vectors, its index is not built yet, or the user is cold (a cold
        user is scored by popularity, which is not an inner product)."""
        if self.model.vector_index() is None:
            return None
        return self._vector(user)

    def nearest(self, vector: FloatArray, candidates: npt.ArrayLike, k: int) -> IntArray:
        """The state indices of the ``k`` best of the state's ``candidates`` for a query
        vector, best first, by approximate search. Candidates the model has never seen are
        not among them (they rank after every known item anyway)."""
        index = self.model.vector_index()
        if index is None:
            raise RuntimeError("nearest needs the model's vector index: ask query_vector first")
        mapped = self.to_model[np.asarray(candidates, dtype=np.intp)]
        allowed = np.zeros(index.size, dtype=bool)
        allowed[mapped[mapped >= 0]] = True
        found: IntArray = self.to_state[index.search(vector, k, allowed)]
        return found

    def _state_history(self, user: int) -> tuple[IntArray, FloatArray]:
        """The user's positive interactions in the state, as model item indices."""
        matrix = self.state.interactions
        start, end = matrix.indptr[user], matrix.indptr[user + 1]
        items = self.to_model[matrix.indices[start:end]]
        weights = matrix.data[start:end]
        keep = (items >= 0) & (weights > 0)
        return items[keep], weights[keep]

    def _new_item_scores(self, who: int, items: IntArray, known_scores: FloatArray) -> FloatArray:
        """Below every known item; ordered among themselves by content when possible."""
        floor = float(known_scores.min()) - 1.0 if len(known_scores) else 0.0
        if self._content is None or who < 0:
            return np.full(len(items), floor)
        similarity = self._content.score_new_items(who, self._metadata(items))
        result: FloatArray = floor + 0.5 * np.clip(similarity, 0.0, 1.0)
        return result

    def _metadata(self, items: IntArray) -> ItemMetadata:
        rows = [self.state.item_rows[i] for i in items.tolist()]
        return ItemMetadata.build(
            titles=[str(r.get("title") or "") for r in rows],
            texts=[str(r.get("text") or "") for r in rows],
            categories=[list(r.get("categories") or ()) for r in rows],
        )

    def related(self, item: int, candidates: npt.ArrayLike) -> FloatArray:
        """How related each of the state's ``candidates`` is to the state's ``item``."""
        cands = np.asarray(candidates, dtype=np.intp)
        mapped = self.to_model[cands]
        known = mapped >= 0
        out = np.zeros(len(cands))
        context = int(self.to_model[item])
        if context < 0:  # a new context item: content only, when there is content
            if self._content is not None and known.any():
                meta = self._metadata(np.array([item]))
                vector = self._content.vectors_for(meta)
                out[known] = np.asarray(
                    (vector @ self._content.item_vectors[mapped[known]].T).todense()
                ).ravel()
            return out
        if known.any():
            out[known] = self.model.scorer.score_for_item(context, mapped[known])
        if not known.all():
            out[~known] = (out[known].min() - 1.0) if known.any() else 0.0
        return out

    def cold(self, preferred_categories: Sequence[str], candidates: npt.ArrayLike) -> FloatArray:
        """Scores for a user known only by the categories they named (onboarding)."""
        cands = np.asarray(candidates, dtype=np.intp)
        mapped = self.to_model[cands]
        known = mapped >= 0
        out = np.zeros(len(cands))
        if known.any():
            out[known] = self.model.scorer.score_cold_user(preferred_categories, mapped[known])
            out[~known] = out[known].min() - 1.0 if not known.all() else 0.0
        return out

    def explain(
        self,
        user: int,
        candidates: npt.ArrayLike,
        items: npt.ArrayLike,
        memo: dict[int, FloatArray] | None = None,
    ) -> list[Placement]:
        """What placed each of ``items`` (state indices, among ``candidates``); ``memo``:
        the request's memo ``score`` filled, which a hybrid reads its components from."""
        scorer = self.model.scorer
        chosen = np.asarray(items, dtype=np.intp)
        cands = np.asarray(candidates, dtype=np.intp)
        who = self.model_user(user)
        mapped_cands = self.to_model[cands]
        mapped_cands = mapped_cands[mapped_cands >= 0]
        mapped = self.to_model[chosen]
        out: list[Placement] = []
        signals: dict[int, Any] = {}
        if hasattr(scorer, "explain") and len(mapped_cands) and (mapped >= 0).any():
            for signal in scorer.explain(who, mapped_cands, mapped[mapped >= 0], memo):
                signals[signal.item] = signal
        for state_item, model_item in zip(chosen.tolist(), mapped.tolist(), strict=True):
            signal = signals.get(model_item)
            if signal is None:
                family = "new_item" if model_item < 0 else scorer.family
                out.append(Placement(self.state.item_ids[state_item], 0.0, family, None, {}))
                continue
            because = None
            if signal.because_item is not None:
                state_because = int(self.to_state[signal.because_item])
                because = self.state.item_ids[state_because] if state_because >= 0 else None
            out.append(
                Placement(
                    self.state.item_ids[state_item],
                    signal.score,
                    signal.component,
                    because,
                    signal.parts,
                )
            )
        return out


def _content_component(scorer: Any) -> Any:
    """The content scorer inside a model (itself, or a hybrid's component), if any."""
    if scorer.family == "content":
        return scorer
    for component in getattr(scorer, "components", ()):
        if component.family == "content":
            return component
    return None
