"""Every family by name, for configs, manifests and the command line.

Classes are imported when first asked for, so naming a family whose extra (torch, the
sentence encoder) is not installed fails only when that family is used, with a message that
says what to install.
"""

from __future__ import annotations

import importlib
from typing import Any

from launchpoint.errors import InvalidInput
from launchpoint.recommenders.base import Scorer

FAMILIES: dict[str, str] = {
    "als": "launchpoint.recommenders.factorization:ALSScorer",
    "bpr": "launchpoint.recommenders.factorization:BPRScorer",
    "content": "launchpoint.recommenders.content:ContentScorer",
    "ease": "launchpoint.recommenders.ease:EASEScorer",
    "embeddings": "launchpoint.recommenders.embeddings:SentenceEmbeddingScorer",
    "hybrid": "launchpoint.recommenders.hybrid:HybridScorer",
    "item_knn": "launchpoint.recommenders.neighbours:ItemKNNScorer",
    "popularity": "launchpoint.recommenders.popularity:PopularityScorer",
    "trending": "launchpoint.recommenders.popularity:TrendingScorer",
    "two_tower": "launchpoint.recommenders.two_tower:TwoTowerScorer",
}
# What `launchpoint train` fits and what ribbons serve unless told otherwise.
DEFAULT_FAMILY = "hybrid"


def scorer_class(family: str) -> type[Scorer[Any]]:
    target = FAMILIES.get(family)
    if target is None:
        known = ", ".join(sorted(FAMILIES))
        raise InvalidInput(f"unknown recommender family {family!r}; known families: {known}")
    module, name = target.split(":")
    cls: type[Scorer[Any]] = getattr(importlib.import_module(module), name)
    return cls


def make_scorer(family: str, **params: Any) -> Scorer[Any]:
    """A new, unfitted scorer of ``family`` with ``params`` as its config."""
    return scorer_class(family)(**params)
