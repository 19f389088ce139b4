"""The hybrid: a weighted sum of its components' rescaled scores, the default model.

Each component's scores are rescaled per user over the candidates to [0, 1] (the user's best
candidate 1, the worst 0), so weights compare components on one scale whatever their raw
units. (Rescaling by range beat standardising to mean 0, sd 1 on MovieLens validation: the
top of each list is what a blend must compare, and the range keeps it.) Weights not fixed in the
config are fitted on a validation split carved from the training data: every user's most
recent liked items are held out, the components are fitted on the rest, and a coordinate
search over a small grid keeps the weights with the best NDCG@k on the held-out items. The
components are then refitted on all the data with those weights.

The defaults are chosen on MovieLens (benchmarks/quality.py): EASE and item-kNN, both on
recency-weighted histories, with popularity, trending and TF-IDF content as smaller terms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse

from launchpoint.evaluation.metrics import coverage, ndcg_at, top_k
from launchpoint.recommenders.base import Scorer, ScorerConfig, minmax_rows
from launchpoint.recommenders.data import FloatArray, IntArray, TrainingData, hold_out_last
from launchpoint.recommenders.families import make_scorer

Progress = Callable[[str], None]
# Users x items x components scored at once when fitting weights: bounds that memory.
VALIDATION_CELLS = 60_000_000


class ComponentSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    family: str = Field(description="A family name (see families.FAMILIES), not 'hybrid'.")
    params: dict[str, Any] = Field(default_factory=dict, description="The family's config.")
    weight: float | None = Field(None, ge=0, description="Fixed weight; None: fitted.")


DEFAULT_COMPONENTS: tuple[ComponentSpec, ...] = (
    ComponentSpec(
        family="ease", params={"recency": 3.0, "subset": "top_popular", "max_items": 8_000}
    ),
    ComponentSpec(family="item_knn", params={"recency": 3.0, "n": 200}),
    ComponentSpec(family="popularity"),
    ComponentSpec(family="trending"),
    ComponentSpec(family="content", params={"recency": 3.0}),
)


class HybridConfig(ScorerConfig):
    components: tuple[ComponentSpec, ...] = Field(
        DEFAULT_COMPONENTS, min_length=1, description="The blended components."
    )
    k: int = Field(10, ge=1, description="NDCG cut-off the weights are fitted for.")
    validation_k: int = Field(5, ge=1, description="Recent liked items held out per user.")
    validation_users: int = Field(1000, ge=1, description="Most users weights are fitted on.")
    grid: tuple[float, ...] = Field((0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0), min_length=2)
    rounds: int = Field(3, ge=1, description="Coordinate-search sweeps over the components.")
    refit: Literal["full", "history", "none"] = Field(
        "full",
        description="After fitting the weights: refit the components on all the data (full), "
        "only give them everyone's full histories (history: half the time; what they learned "
        "misses the held-out items), or neither (none).",
    )
    coverage_tolerance: float = Field(
        0.02,
        ge=0,
        lt=1,
        description="Among blends within this share of the best validation NDCG, keep the "
        "one with the widest catalogue coverage.",
    )


@dataclass(frozen=True)
class CardSignal:
    """What placed one item: the component that added most to its blended score, each
    component's part, and for item-to-item components the user's item behind it."""

    item: int
    score: float
    component: str
    parts: dict[str, float]
    because_item: int | None


class HybridScorer(Scorer[HybridConfig]):
    family: ClassVar[str] = "hybrid"
    config_class = HybridConfig

    def __init__(self, config: HybridConfig | None = None, **params: Any) -> None:
        super().__init__(config, **params)
        self.progress: Progress | None = None
        self.validation: dict[str, Any] = {}

    def _say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def _build(self) -> list[Scorer[Any]]:
        out = []
        for spec in self.config.components:
            if spec.family == "hybrid":
                raise ValueError("a hybrid cannot contain a hybrid")
            out.append(make_scorer(spec.family, **{"seed": self.config.seed, **spec.params}))
        return out

    def _fit(self, data: TrainingData) -> None:
        specs = self.config.components
        fixed = [spec.weight for spec in specs]
        if all(w is not None for w in fixed):
            self.weights = np.array(fixed, dtype=np.float64)
            self.components = self._fit_components(self._build(), data)
            return
        train, held_out = hold_out_last(data, self.config.validation_k, self.config.seed)
        components = self._fit_components(self._build(), train)
        self.weights = self._fit_weights(components, train, held_out)
        if self.config.refit == "full":
            self._say("refitting components on all data")
            components = self._fit_components(self._build(), data)
        elif self.config.refit == "history":
            for component in components:
                component.refresh(data)
        self.components = components

    def _fit_components(self, components: list[Scorer[Any]], data: TrainingData) -> list[Any]:
        for n, component in enumerate(components, 1):
            self._say(f"fitting {component.family} ({n}/{len(components)})")
            component.fit(data)
        return components

    def _fit_weights(
        self, components: list[Scorer[Any]], train: TrainingData, held_out: sparse.csr_matrix
    ) -> FloatArray:
        users = np.flatnonzero(np.diff(held_out.indptr) > 0)
        budget = max(1, VALIDATION_CELLS // max(1, train.n_items * len(components)))
        limit = min(self.config.validation_users, budget)
        if len(users) > limit:
            rng = np.random.default_rng(self.config.seed)
            users = np.sort(rng.choice(users, limit, replace=False))
        fixed = [spec.weight for spec in self.config.components]
        if len(users) == 0:  # nothing to validate on: fixed weights, else equal
            return np.array([1.0 if w is None else w for w in fixed])
        self._say(f"fitting blend weights on {len(users):,} validation users")
        seen = train.positive[users]
        matrices = []
        for component in components:
            scores = minmax_rows(component.score_users(users)).astype(np.float32)
            scores[seen.nonzero()] = -np.inf
            matrices.append(scores)
        relevant = held_out[users]
        k = self.config.k

        tried: list[tuple[float, float, FloatArray]] = []  # (ndcg, coverage, weights)

        def quality(weights: FloatArray) -> float:
            if not weights.any():
                return -1.0
            blend = sum(w * m for w, m in zip(weights, matrices, strict=True) if w)
            top = top_k(np.asarray(blend), k)
            ndcg = float(np.nanmean(ndcg_at(top, relevant, k)))
            tried.append((ndcg, coverage(top, train.n_items), weights.copy()))
            return ndcg

        weights = np.array([1.0 if w is None else w for w in fixed], dtype=np.float64)
        free = [n for n, w in enumerate(fixed) if w is None]
        for n in free[1:]:
            weights[n] = 0.0  # start from the first free component alone
        best = quality(weights)
        alone = {}
        for n, component in enumerate(components):
            one = np.zeros(len(components))
            one[n] = 1.0
            alone[component.family] = quality(one)
        for _ in range(self.config.rounds):
            improved = False
            for n in free:
                for value in self.config.grid:
                    trial = weights.copy()
                    trial[n] = value
                    score = quality(trial)
                    if score > best + 1e-9:
                        best, weights, improved = score, trial, True
            if not improved:
                break
        # Among blends as accurate as the best (within the tolerance), the one that shows
        # the most of the catalogue: equal accuracy, less popularity bias.
        floor = best * (1.0 - self.config.coverage_tolerance)
        near = [
            t
            for t in tried
            if t[0] >= floor and all(w is None or w == v for w, v in zip(fixed, t[2], strict=True))
        ]
        chosen_ndcg, chosen_coverage, weights = max(near, key=lambda t: (t[1], t[0]))
        self.validation = {
            f"ndcg@{k}": chosen_ndcg,
            f"best_ndcg@{k}": best,
            f"coverage@{k}": chosen_coverage,
            "users": len(users),
            "alone": alone,
            "weights": dict(zip(self.names, weights.tolist(), strict=True)),
        }
        return weights

    @property
    def names(self) -> list[str]:
        return [spec.family for spec in self.config.components]

    # -- scoring -------------------------------------------------------------------------
    def _active(self) -> list[int]:
        return [n for n, w in enumerate(self.weights) if w > 0]

    def _blend(self, parts: Sequence[FloatArray]) -> FloatArray:
        if parts and all(part.shape[0] == 1 for part in parts):  # one user: see _blend_block
            return self._blend_block(np.vstack(parts))[None, :]
        out = np.zeros_like(parts[0]) if parts else np.zeros(0)
        for n, part in zip(self._active(), parts, strict=True):
            out = out + self.weights[n] * minmax_rows(part)
        return out

    def _blend_block(self, block: FloatArray) -> FloatArray:
        """One user's blend from the active components' raw scores, one row each: the sum
        of weight * (row - low) / spread, taken as one product of per-row coefficients with
        the block. Per component, rescaling row by row cost about ten numpy calls over the
        candidates; a page ranks several ribbons of thousands. A row with no spread adds
        nothing, as in ``minmax_rows``, which answers when a row holds infinite entries."""
        weights = self.weights[self._active()]
        if block.shape[1] == 0 or len(weights) == 0:
            return np.zeros(block.shape[1])
        low, high = block.min(axis=1), block.max(axis=1)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            summed: FloatArray = (weights[:, None] * minmax_rows(block)).sum(axis=0)
            return summed
        spread = high - low
        ok = spread > 1e-12
        coefficients = np.where(ok, weights / np.where(ok, spread, 1.0), 0.0)
        blended: FloatArray = coefficients @ block - float(coefficients @ low)
        return blended

    def _score_known(self, users: IntArray, candidates: IntArray) -> FloatArray:
        return self._blend(
            [self.components[n].score_users(users, candidates) for n in self._active()]
        )

    def _score_rows(self, rows: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        return self._blend(
            [self.components[n]._score_rows(rows, candidates) for n in self._active()]
        )

    def _related(self, item: int, candidates: IntArray) -> FloatArray:
        parts = [self.components[n].score_for_item(item, candidates) for n in self._active()]
        result: FloatArray = self._blend([p[None, :] for p in parts])[0]
        return result

    def score_history(
        self,
        items: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
        candidates: npt.ArrayLike | None = None,
    ) -> FloatArray:
        self._check_fitted()
        if not (self._history_row(items, weights).data > 0).any():  # cold, as in score()
            return self._cold_scores(self._candidates(candidates))
        parts = [
            self.components[n].score_history(items, weights, candidates)[None, :]
            for n in self._active()
        ]
        result: FloatArray = self._blend(parts)[0]
        return result

    def score_cold_user(
        self, preferred_categories: Sequence[str], candidates: npt.ArrayLike | None = None
    ) -> FloatArray:
        """Content (when a component) and popularity answer the named categories."""
        self._check_fitted()
        cands = self._candidates(candidates)
        content = [c for c in self.components if c.family in ("content", "embeddings")]
        if content and preferred_categories:
            base = content[0].score_cold_user(preferred_categories, cands)
            prior = minmax_rows(self._cold_scores(cands)[None, :])
            blended: FloatArray = minmax_rows(base[None, :])[0] + 0.25 * prior[0]
            return blended
        return super().score_cold_user(preferred_categories, cands)

    def score_in_segment(
        self,
        user: int,
        candidates: npt.ArrayLike,
        segment_popularity: FloatArray,
        every_item: dict[int, FloatArray] | None = None,
    ) -> FloatArray:
        """Like ``score``, with popularity components reading the segment's popularity
        (``segment_popularity``: per candidate, e.g. likes among the segment's members).

        ``every_item``: a request's memo of each component's raw scores over every item for
        this user. A page's ribbons share most of the catalogue between them, and a
        component's cost is mostly per user (the history's rows of EASE's weights), so the
        first ribbon scores every item and the others read their candidates from it; each
        ribbon still normalises over its own candidates."""
        self._check_fitted()
        cands = self._candidates(candidates)
        active = self._active()
        block = np.empty((len(active), len(cands)))
        for row, n in enumerate(active):
            component = self.components[n]
            if component.family == "popularity":
                np.log1p(np.asarray(segment_popularity, np.float64), out=block[row])
            elif every_item is not None:
                block[row] = self._every_item(n, user, every_item)[cands]
            else:
                block[row] = component.score_users(np.array([user]), cands)[0]
        return self._blend_block(block)

    def _every_item(self, n: int, user: int, every_item: dict[int, FloatArray]) -> FloatArray:
        """Component ``n``'s raw scores of every item for ``user``, from the request's memo."""
        if n not in every_item:
            every_item[n] = self.components[n].score_users(np.array([user]))[0]
        return every_item[n]

    def explain(
        self,
        user: int,
        candidates: npt.ArrayLike,
        items: npt.ArrayLike,
        every_item: dict[int, FloatArray] | None = None,
    ) -> list[CardSignal]:
        """Why each of ``items`` (a subset of ``candidates``, e.g. the cards shown) scored
        as it did among ``candidates``. ``every_item``: the request's memo, as in
        ``score_in_segment``: the cards' components are read from the scores that ranked
        them instead of computed again."""
        self._check_fitted()
        cands = self._candidates(candidates)
        chosen = np.asarray(items, dtype=np.intp)
        if len(cands) == len(chosen) and np.array_equal(cands, chosen):  # cards among cards
            positions = np.arange(len(chosen))
        else:
            at = np.searchsorted(np.sort(cands), chosen)
            order = np.argsort(cands, kind="stable")
            positions = order[np.minimum(at, len(cands) - 1)]
        active = self._active()
        names = self.names
        warm = 0 <= user < self.n_users and bool(self.active[user]) and bool(active)
        if not active:  # every weight 0: no component has a say
            raw = np.zeros((0, len(cands)))
        elif every_item is not None and 0 <= user < self.n_users:
            raw = np.vstack([self._every_item(n, user, every_item)[cands] for n in active])
        else:
            raw = np.vstack(
                [self.components[n].score_users(np.array([user]), cands) for n in active]
            )
        # Every component rescaled over the candidates at once, then weighted: (components, items)
        parts = self.weights[active][:, None] * minmax_rows(raw)[:, positions]
        totals = parts.sum(axis=0).tolist()
        tops = [names[active[row]] for row in np.argmax(parts, axis=0).tolist()] if warm else []
        because = np.full(len(chosen), -1, dtype=np.intp)
        behind = [col for col, top in enumerate(tops) if top in ("item_knn", "ease")]
        if behind:  # the user's item behind a card, for cards an item-to-item part placed
            because[behind] = self._because(user, chosen[behind])
        active_names = [names[n] for n in active]
        out = []
        for col, item in enumerate(chosen.tolist()):
            from_item = int(because[col])
            out.append(
                CardSignal(
                    item,
                    totals[col],
                    tops[col] if warm else "popularity",
                    dict(zip(active_names, parts[:, col].tolist(), strict=True)),
                    from_item if from_item >= 0 else None,
                )
            )
        return out

    def _because(self, user: int, items: IntArray) -> IntArray:
        """The user's item behind each item, from item-kNN (else EASE) when a component."""
        for family in ("item_knn", "ease"):
            for component in self.components:
                if component.family == family:
                    found: IntArray = component.because(user, items)
                    return found
        return np.full(len(items), -1, dtype=np.intp)
