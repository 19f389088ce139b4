"""Recommenders: one protocol (``Scorer``), one module per family, the hybrid, a registry.

Build training data from a workspace's serving state, train the default model, serve it::

    data = training_data_from_state(state, rating_threshold=3.5, half_life_days=90)
    model = train_model(data)                      # the default hybrid
    registry.save(model, activate=True)            # a versioned artefact
    scorer = registry.active().for_state(state)    # in the state's own indices
    scores = scorer.score(user, candidates)
"""

from launchpoint.recommenders.base import HistoryConfig, NotFitted, Scorer, ScorerConfig
from launchpoint.recommenders.content import ContentConfig, ContentScorer
from launchpoint.recommenders.data import (
    InteractionLog,
    ItemMetadata,
    TrainingData,
    log_from_state,
    signal_weights,
    training_data_from_state,
)
from launchpoint.recommenders.ease import EASEConfig, EASEScorer
from launchpoint.recommenders.embeddings import EmbeddingsConfig, SentenceEmbeddingScorer
from launchpoint.recommenders.factorization import ALSConfig, ALSScorer, BPRConfig, BPRScorer
from launchpoint.recommenders.families import DEFAULT_FAMILY, FAMILIES, make_scorer
from launchpoint.recommenders.hybrid import CardSignal, ComponentSpec, HybridConfig, HybridScorer
from launchpoint.recommenders.model import TrainedModel, train_model
from launchpoint.recommenders.neighbours import ItemKNNConfig, ItemKNNScorer
from launchpoint.recommenders.popularity import (
    PopularityConfig,
    PopularityScorer,
    TrendingConfig,
    TrendingScorer,
)
from launchpoint.recommenders.registry import ModelManifest, ModelRegistry
from launchpoint.recommenders.serving import Placement, StateScorer
from launchpoint.recommenders.two_tower import TwoTowerConfig, TwoTowerScorer

__all__ = [
    "DEFAULT_FAMILY",
    "FAMILIES",
    "ALSConfig",
    "ALSScorer",
    "BPRConfig",
    "BPRScorer",
    "CardSignal",
    "ComponentSpec",
    "ContentConfig",
    "ContentScorer",
    "EASEConfig",
    "EASEScorer",
    "EmbeddingsConfig",
    "HistoryConfig",
    "HybridConfig",
    "HybridScorer",
    "InteractionLog",
    "ItemKNNConfig",
    "ItemKNNScorer",
    "ItemMetadata",
    "ModelManifest",
    "ModelRegistry",
    "NotFitted",
    "Placement",
    "PopularityConfig",
    "PopularityScorer",
    "Scorer",
    "ScorerConfig",
    "SentenceEmbeddingScorer",
    "StateScorer",
    "TrainedModel",
    "TrainingData",
    "TrendingConfig",
    "TrendingScorer",
    "TwoTowerConfig",
    "TwoTowerScorer",
    "log_from_state",
    "make_scorer",
    "signal_weights",
    "train_model",
    "training_data_from_state",
]
