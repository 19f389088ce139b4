"""Guardrails: the rules every ribbon keeps whatever the model scores (consent, editorial
control, no repeats, diversity, exploration, recency), each a component with its own config,
applied in a fixed order by ``GuardrailChain``. See docs/guides/guardrails.md."""

from launchpoint.ranking.guardrails.base import (
    CandidateList,
    GuardedCard,
    GuardedRibbon,
    Guardrail,
    GuardrailNote,
    PageState,
    UserContext,
    share_count,
    user_seed,
)
from launchpoint.ranking.guardrails.catalogue import Catalogue, ItemLabels
from launchpoint.ranking.guardrails.chain import (
    ORDER,
    GuardrailChain,
    ModelFill,
    RibbonCandidates,
    UpstreamFilter,
)
from launchpoint.ranking.guardrails.config import (
    DiversityConfig,
    EditorialConfig,
    EditorialPin,
    ExplorationConfig,
    GuardrailsConfig,
    NoRepeatsConfig,
    RecencyConfig,
    RibbonEditorial,
)
from launchpoint.ranking.guardrails.diversity import DiversityGuardrail
from launchpoint.ranking.guardrails.draft import RibbonDraft
from launchpoint.ranking.guardrails.editorial import EditorialGuardrail, HiddenItemsGuardrail
from launchpoint.ranking.guardrails.exploration import ExplorationGuardrail
from launchpoint.ranking.guardrails.no_repeats import PageRepeatsGuardrail, RotationGuardrail
from launchpoint.ranking.guardrails.recency import RecencyGuardrail
from launchpoint.ranking.guardrails.sensitive import SensitiveTopicsGuardrail

__all__ = [
    "ORDER",
    "CandidateList",
    "Catalogue",
    "DiversityConfig",
    "DiversityGuardrail",
    "EditorialConfig",
    "EditorialGuardrail",
    "EditorialPin",
    "ExplorationConfig",
    "ExplorationGuardrail",
    "GuardedCard",
    "GuardedRibbon",
    "Guardrail",
    "GuardrailChain",
    "GuardrailNote",
    "GuardrailsConfig",
    "HiddenItemsGuardrail",
    "ItemLabels",
    "ModelFill",
    "NoRepeatsConfig",
    "PageRepeatsGuardrail",
    "PageState",
    "RecencyConfig",
    "RecencyGuardrail",
    "RibbonCandidates",
    "RibbonDraft",
    "RibbonEditorial",
    "RotationGuardrail",
    "SensitiveTopicsGuardrail",
    "UpstreamFilter",
    "UserContext",
    "share_count",
    "user_seed",
]
