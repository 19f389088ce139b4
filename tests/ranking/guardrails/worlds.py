"""Small generated worlds for the guardrail tests, and reference answers computed the slow,
obvious way (sets and loops), independently of the code under test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from launchpoint.ranking.guardrails import (
    CandidateList,
    Catalogue,
    DiversityConfig,
    EditorialConfig,
    EditorialPin,
    ExplorationConfig,
    GuardedRibbon,
    GuardrailChain,
    GuardrailsConfig,
    NoRepeatsConfig,
    RecencyConfig,
    RibbonCandidates,
    RibbonEditorial,
    UserContext,
)

DAY = 86400.0
NOW = 100 * DAY
TOPICS = ["crypto", "gambling"]
FEW_CATEGORIES = ["a", "b", "c", "d", "e"]
MANY_CATEGORIES = [f"c{n:02d}" for n in range(70)]  # past 64: the label-list code path

OFF = GuardrailsConfig(
    diversity=DiversityConfig(min_categories=0),
    exploration=ExplorationConfig(share=0.0),
    no_repeats=NoRepeatsConfig(across_ribbons=False, rotate_after=0),
)


def only(**settings: Any) -> GuardrailsConfig:
    """Every guardrail off (the consent gate is always on) but the ones given."""
    return OFF.model_copy(update=settings)


@dataclass(frozen=True)
class World:
    catalogue: Catalogue
    categories: list[list[str]]  # per item
    topics: list[list[str]]  # per item
    created_at: list[float]
    candidates: CandidateList
    user: UserContext
    k: int

    def ids(self, items: list[int]) -> list[str]:
        return [self.catalogue.item_ids[i] for i in items]

    def consented(self, item: int) -> bool:
        return set(self.topics[item]) <= self.user.consents

    def allowed(
        self, hidden: frozenset[int] = frozenset(), shown: frozenset[int] = frozenset()
    ) -> list[int]:
        """Candidates the hard filters keep, in candidate order."""
        return [
            int(i)
            for i in self.candidates.items
            if self.consented(int(i)) and int(i) not in hidden and int(i) not in shown
        ]

    def interests(self, min_affinity: float) -> set[str]:
        if self.user.category_affinity is None:
            return set()
        names = self.catalogue.categories.names
        return {names[c] for c, a in enumerate(self.user.category_affinity) if a >= min_affinity}

    def outside(self, item: int, min_affinity: float) -> bool:
        interests = self.interests(min_affinity)
        return not interests or not (set(self.categories[item]) & interests)

    def fresh(self, item: int, max_age: float) -> bool:
        return self.created_at[item] >= NOW - max_age

    def run(self, config: GuardrailsConfig, key: str = "s1", trace: bool = False) -> GuardedRibbon:
        chain = GuardrailChain(config, self.catalogue)
        page = chain.new_page(self.user)
        return chain.ribbon(RibbonCandidates(key, self.candidates), self.k, page, trace=trace)


@st.composite
def worlds(
    draw: st.DrawFn,
    *,
    max_items: int = 30,
    single_category: bool | None = None,
    many_categories: bool | None = None,
) -> World:
    many = draw(st.booleans()) if many_categories is None else many_categories
    names = MANY_CATEGORIES if many else FEW_CATEGORIES
    single = draw(st.booleans()) if single_category is None else single_category
    labels = (
        st.builds(lambda c: [c], st.sampled_from(names))
        if single
        else st.lists(st.sampled_from(names), max_size=3, unique=True)
    )
    topic_sets = st.sampled_from([[], [], [], ["crypto"], ["gambling"], ["crypto", "gambling"]])
    rows = draw(
        st.lists(st.tuples(labels, topic_sets, st.integers(0, 30)), min_size=1, max_size=max_items)
    )
    n = len(rows)
    categories = [row[0] for row in rows]
    topics = [row[1] for row in rows]
    created = [NOW - row[2] * DAY for row in rows]
    catalogue = Catalogue.build([f"i{m:02d}" for m in range(n)], categories, created, topics)
    items = draw(st.permutations(range(n)))
    items = items[: draw(st.integers(0, n))]
    # Few distinct scores: ties are common, and must be broken by candidate order.
    scores = draw(
        st.lists(
            st.sampled_from([0.1, 0.2, 0.5, 0.5, 0.7, 0.9, 1.0]),
            min_size=len(items),
            max_size=len(items),
        )
    )
    candidates = CandidateList(np.array(items, dtype=np.intp), np.array(scores))
    affinity = None
    if draw(st.booleans()):
        size = catalogue.categories.size
        affinity = np.array(
            draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0]), min_size=size, max_size=size))
        )
    ignored = draw(st.lists(st.integers(0, n - 1), max_size=6, unique=True))
    counts = draw(st.lists(st.integers(1, 5), min_size=len(ignored), max_size=len(ignored)))
    user = UserContext(
        user_id=draw(st.sampled_from(["u1", "u2", "u3"])),
        now=NOW,
        consents=frozenset(draw(st.lists(st.sampled_from(TOPICS), unique=True))),
        category_affinity=affinity,
        ignored_items=np.array(ignored, dtype=np.intp),
        ignored_counts=np.array(counts, dtype=np.intp),
        seed=draw(st.integers(0, 3)),
    )
    return World(catalogue, categories, topics, created, candidates, user, draw(st.integers(1, 12)))


def assert_basic(
    world: World,
    ribbon: GuardedRibbon,
    allowed: list[int],
    candidates: CandidateList | None = None,
) -> None:
    """Cards come from the allowed candidates, once each, and as many as there can be."""
    candidates = candidates or world.candidates
    items = ribbon.items
    assert len(items) == len(set(items)), "an item is shown twice"
    assert set(items) <= set(allowed), "an item no filter allows is shown"
    assert len(items) == min(world.k, len(allowed))
    assert [card.position for card in ribbon.cards] == list(range(len(items)))
    for card in ribbon.cards:
        assert int(candidates.items[card.candidate]) == card.item


def notes_of(ribbon: GuardedRibbon, guardrail: str) -> list[str]:
    return [note.message for note in ribbon.notes if note.guardrail == guardrail]


def category_counts(world: World, items: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        for name in world.categories[item]:
            counts[name] = counts.get(name, 0) + 1
    return counts


def hand_world(
    categories: list[list[str]],
    scores: list[float],
    *,
    created_days_ago: list[int] | None = None,
    topics: list[list[str]] | None = None,
    k: int = 4,
    consents: frozenset[str] = frozenset(),
    affinity: dict[str, float] | None = None,
    user_id: str = "u1",
) -> World:
    """A world written out by hand: item n is 'i0n', every item is a candidate, in order."""
    n = len(categories)
    created = [NOW - d * DAY for d in (created_days_ago or [30] * n)]
    topics = topics or [[] for _ in range(n)]
    catalogue = Catalogue.build([f"i{m:02d}" for m in range(n)], categories, created, topics)
    vector = None
    if affinity is not None:
        vector = np.array([affinity.get(c, 0.0) for c in catalogue.categories.names])
    user = UserContext(user_id, NOW, consents, vector)
    candidates = CandidateList(np.arange(n, dtype=np.intp), np.array(scores, dtype=np.float64))
    return World(catalogue, categories, topics, created, candidates, user, k)


@st.composite
def configs(draw: st.DrawFn, world: World) -> GuardrailsConfig:
    """Any combination of settings, with editorial picks drawn from the world's items
    (sensitive ones included: no setting may let them through)."""
    ids = list(world.catalogue.item_ids)
    pins = draw(st.lists(st.sampled_from(ids), max_size=3, unique=True))
    editorial = EditorialConfig(
        hidden=draw(st.lists(st.sampled_from(ids), max_size=3)),
        ribbons={
            draw(st.sampled_from(["s1", "*"])): RibbonEditorial(
                pins=[EditorialPin(item=i, position=draw(st.integers(0, 12))) for i in pins],
                curated=draw(st.lists(st.sampled_from(ids), max_size=5)),
                curated_share=draw(st.sampled_from([0.0, 0.2, 0.5])),
            )
        },
    )
    return GuardrailsConfig(
        diversity=DiversityConfig(
            min_categories=draw(st.integers(0, 4)),
            max_per_category=draw(st.one_of(st.none(), st.integers(1, 3))),
            mmr_lambda=draw(st.one_of(st.none(), st.sampled_from([0.0, 0.5, 0.9]))),
            mmr_candidates=draw(st.integers(1, 20)),
        ),
        exploration=ExplorationConfig(
            share=draw(st.sampled_from([0.0, 0.2, 0.5, 1.0])),
            min_affinity=draw(st.sampled_from([0.1, 0.5, 1.0])),
            candidates=draw(st.integers(1, 5)),
            seed=draw(st.integers(0, 2)),
        ),
        recency=RecencyConfig(
            share=draw(st.sampled_from([0.0, 0.2, 0.5, 1.0])),
            max_age=draw(st.sampled_from(["1d", "7d", "3w"])),
        ),
        editorial=editorial,
        no_repeats=NoRepeatsConfig(
            across_ribbons=draw(st.booleans()), rotate_after=draw(st.integers(0, 4))
        ),
    )
