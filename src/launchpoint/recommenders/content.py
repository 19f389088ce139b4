"""Content-based scoring: TF-IDF over each item's title, text and categories (scikit-learn).

A user's profile is the weighted sum of their history items' L2-normalised TF-IDF vectors;
an item scores the cosine between it and the profile. Because it needs nothing but text, it
scores items nobody has touched yet (``score_new_items``) and users who only named the
categories they like (``score_cold_user``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.preprocessing import normalize  # type: ignore[import-untyped]

from launchpoint.recommenders.base import History, HistoryConfig, Scorer, sum_of_rows
from launchpoint.recommenders.data import FloatArray, IntArray, ItemMetadata, TrainingData


class ContentConfig(HistoryConfig):
    max_features: int = Field(50_000, ge=1, description="Largest vocabulary kept.")
    min_df: int = Field(1, ge=1, description="Ignore terms found in fewer items than this.")
    ngrams: int = Field(1, ge=1, le=3, description="Longest word n-gram used as a term.")
    popularity_prior: float = Field(
        0.1, ge=0, description="Weight of log-popularity added to content scores (ties, noise)."
    )


class ContentScorer(Scorer[ContentConfig]):
    family: ClassVar[str] = "content"
    config_class = ContentConfig

    def _fit(self, data: TrainingData) -> None:
        self.vectorizer = self._vectorizer()
        documents = data.metadata.documents()
        if any(doc.strip() for doc in documents):
            matrix = self.vectorizer.fit_transform(documents)
        else:  # a catalogue without text: content has no opinion
            self.vectorizer = None
            matrix = sparse.csr_matrix((data.n_items, 1))
        self.item_vectors = sparse.csr_matrix(normalize(matrix))
        self.item_vectors_t = sparse.csc_matrix(self.item_vectors.T)

    def _vectorizer(self) -> Any:
        c = self.config
        return TfidfVectorizer(
            max_features=c.max_features,
            min_df=c.min_df,
            ngram_range=(1, c.ngrams),
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w[\w'-]*\b",
            dtype=np.float64,
        )

    def _prior(self, candidates: IntArray) -> FloatArray:
        return self.config.popularity_prior * self._cold_scores(candidates)

    def _score_profiles(self, profiles: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        profiles = normalize(profiles)
        if len(candidates) == self.n_items:
            scores = np.asarray((profiles @ self.item_vectors_t).todense())[:, candidates]
        else:
            scores = np.asarray((profiles @ self.item_vectors_t[:, candidates]).todense())
        return scores + self._prior(candidates)[None, :]

    def _score_rows(self, rows: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        if rows.shape[0] == 1:
            return self._score_one(History.of(rows), candidates)
        return self._score_profiles(sparse.csr_matrix(rows @ self.item_vectors), candidates)

    def _score_one(self, history: History, candidates: IntArray) -> FloatArray:
        """One request, as ``_score_profiles`` scores it: the profile as a dense vector (the
        history's item vectors, weighted) and one sparse matrix-vector product over the
        items. Sparse-by-sparse products and scikit-learn's ``normalize`` cost a millisecond
        a call in index building and argument checks; this is a tenth of that."""
        history = history.significant()  # items of negligible weight left out
        profile = sum_of_rows(self.item_vectors, history.items, history.weights)
        norm = float(np.linalg.norm(profile))
        if norm > 0:
            profile /= norm
        if len(candidates) * 4 < self.n_items:  # few candidates: only their rows
            scores = self.item_vectors[candidates] @ profile
        else:
            scores = (self.item_vectors @ profile)[candidates]
        result: FloatArray = (scores + self._prior(candidates))[None, :]
        return result

    def _related(self, item: int, candidates: IntArray) -> FloatArray:
        row = self.item_vectors.getrow(item)
        return np.asarray((row @ self.item_vectors_t[:, candidates]).todense()).ravel()

    def score_cold_user(
        self, preferred_categories: Sequence[str], candidates: npt.ArrayLike | None = None
    ) -> FloatArray:
        """The named categories as a query against every item's text, plus the prior."""
        self._check_fitted()
        cands = self._candidates(candidates)
        if self.vectorizer is None or not preferred_categories:
            return super().score_cold_user(preferred_categories, cands)
        query = self.vectorizer.transform([" ".join(preferred_categories)])
        result: FloatArray = self._score_profiles(sparse.csr_matrix(query), cands)[0]
        return result

    # -- items that arrived after training ----------------------------------------------
    def vectors_for(self, metadata: ItemMetadata) -> sparse.csr_matrix:
        """TF-IDF vectors of items given by metadata only, in the trained vocabulary."""
        self._check_fitted()
        if self.vectorizer is None:
            return sparse.csr_matrix((len(metadata), 1))
        return sparse.csr_matrix(normalize(self.vectorizer.transform(metadata.documents())))

    def score_new_items(self, user: int, metadata: ItemMetadata) -> FloatArray:
        """Scores, for a trained user, of items that are not in the training data."""
        vectors = self.vectors_for(metadata)
        if 0 <= user < self.n_users and self.active[user]:
            profile = normalize(sparse.csr_matrix(self.history.getrow(user) @ self.item_vectors))
            return np.asarray((profile @ vectors.T).todense()).ravel()
        return np.zeros(len(metadata))

    def related_new_items(self, item: int, metadata: ItemMetadata) -> FloatArray:
        """How related each new item is to a trained item."""
        vectors = self.vectors_for(metadata)
        return np.asarray((self.item_vectors.getrow(item) @ vectors.T).todense()).ravel()
