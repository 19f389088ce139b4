"""Exploration: a share of cards from outside the user's interests, labelled, drawn the same
way every time for the same (seed, user, ribbon)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.ranking.guardrails import (
    CandidateList,
    DiversityConfig,
    ExplorationConfig,
    GuardrailChain,
    RibbonCandidates,
    UserContext,
)
from tests.ranking.guardrails.worlds import (
    NOW,
    assert_basic,
    hand_world,
    notes_of,
    only,
    worlds,
)

CATEGORIES = [["a"]] * 6 + [["b"], ["c"], ["d"], ["e"], ["f"], ["g"]]
SCORES = [1.0 - n / 20 for n in range(12)]


def explore(**settings: object) -> ExplorationConfig:
    return ExplorationConfig.model_validate(settings)


def test_the_lowest_cards_make_room_for_items_outside_the_interests() -> None:
    world = hand_world(CATEGORIES, SCORES, k=5, affinity={"a": 1.0})
    ribbon = world.run(only(exploration=explore(share=0.4, candidates=1)))
    # candidates=1 (raised to the 2 needed): the best two outside, i06 and i07, in the
    # order of the draw.
    assert world.ids(ribbon.items)[:3] == ["i00", "i01", "i02"]
    assert sorted(world.ids(ribbon.items)[3:]) == ["i06", "i07"]
    assert [c.label for c in ribbon.cards[3:]] == ["Something different"] * 2
    assert [c.source for c in ribbon.cards[3:]] == ["exploration"] * 2


def test_cards_already_outside_the_interests_count() -> None:
    world = hand_world([["b"], ["a"], ["a"], ["c"]], [1.0, 0.9, 0.8, 0.1], k=3, affinity={"a": 1.0})
    ribbon = world.run(only(exploration=explore(share=0.3)))
    assert world.ids(ribbon.items) == ["i00", "i01", "i02"]
    assert all(card.label is None for card in ribbon.cards)


def test_weak_affinities_are_not_established_interests() -> None:
    world = hand_world([["a"], ["b"], ["c"]], [1.0, 0.9, 0.1], k=2, affinity={"a": 1.0, "b": 0.2})
    ribbon = world.run(only(exploration=explore(share=0.5, min_affinity=0.3)))
    assert world.ids(ribbon.items) == ["i00", "i01"]  # b is outside at 0.2
    strict = world.run(only(exploration=explore(share=0.5, min_affinity=0.1)))
    assert world.ids(strict.items) == ["i00", "i02"]


def test_a_user_without_interests_sees_the_models_ribbon() -> None:
    world = hand_world(CATEGORIES, SCORES, k=5)
    assert world.run(only(exploration=explore(share=1.0))).items == [0, 1, 2, 3, 4]


def test_the_draw_is_fixed_per_seed_user_and_ribbon_and_varies_across_them() -> None:
    world = hand_world(CATEGORIES, SCORES, k=4, affinity={"a": 1.0})
    config = only(exploration=explore(share=0.25, candidates=6))

    def drawn(user_id: str, key: str = "s1", seed: int = 0) -> int:
        user = UserContext(user_id, NOW, frozenset(), world.user.category_affinity, seed=seed)
        chain = GuardrailChain(config, world.catalogue)
        ribbon = chain.ribbon(RibbonCandidates(key, world.candidates), 4, chain.new_page(user))
        return ribbon.items[-1]

    assert drawn("u1") == drawn("u1")
    draws = {drawn(f"u{n}") for n in range(30)}
    assert len(draws) > 2 and draws <= {6, 7, 8, 9, 10, 11}
    assert len({drawn("u1", key=f"s{n}") for n in range(30)}) > 2
    assert len({drawn("u1", seed=n) for n in range(30)}) > 2


def test_the_draw_does_not_depend_on_the_candidate_order() -> None:
    world = hand_world(CATEGORIES, SCORES, k=4, affinity={"a": 1.0})
    config = only(exploration=explore(share=0.25, candidates=6))
    chain = GuardrailChain(config, world.catalogue)
    reverse = CandidateList(
        world.candidates.items[::-1].copy(), world.candidates.scores[::-1].copy()
    )
    answers = []
    for candidates in (world.candidates, reverse):
        ribbon = chain.ribbon(RibbonCandidates("s1", candidates), 4, chain.new_page(world.user))
        answers.append(ribbon.items)
    assert answers[0] == answers[1]


def test_exploration_keeps_the_diversity_cap() -> None:
    world = hand_world(
        [["a"], ["a"], ["b"], ["b"], ["c"], ["c"]],
        [1.0, 0.9, 0.8, 0.7, 0.2, 0.1],
        k=4,
        affinity={"a": 1.0, "b": 1.0},
    )
    config = only(
        diversity=DiversityConfig(min_categories=0, max_per_category=1),
        exploration=explore(share=0.5),
    )
    ribbon = world.run(config)
    # Under the cap: a, b, c, then only a forced card (a note). Exploration wants a second
    # card outside a and b, but i05 (c) would put c over the cap: it stays out, with a note.
    assert world.ids(ribbon.items) == ["i00", "i02", "i04", "i01"]
    assert sorted(n.guardrail for n in ribbon.notes) == ["diversity", "exploration"]
    assert "another guardrail's floor or cap" in notes_of(ribbon, "exploration")[0]


@settings(max_examples=100, deadline=None)
@given(
    world=worlds(),
    share=st.sampled_from([0.2, 0.5, 1.0]),
    min_affinity=st.sampled_from([0.1, 0.5, 1.0]),
    pool=st.integers(1, 5),
)
def test_the_share_holds_whenever_enough_items_lie_outside(world, share, min_affinity, pool):
    config = only(exploration=explore(share=share, min_affinity=min_affinity, candidates=pool))
    ribbon = world.run(config)
    allowed = world.allowed()
    assert_basic(world, ribbon, allowed)
    wanted = int(np.floor(share * len(ribbon.items) + 0.5))
    outside = [i for i in allowed if world.outside(i, min_affinity)]
    have = sum(1 for i in ribbon.items if world.outside(i, min_affinity))
    if len(outside) >= wanted:
        assert have >= wanted
        assert ribbon.notes == []
    else:
        assert have == len(outside)
        assert notes_of(ribbon, "exploration")
    labelled = [c.item for c in ribbon.cards if c.label == "Something different"]
    assert all(world.outside(i, min_affinity) for i in labelled)
    assert world.run(config).items == ribbon.items  # deterministic
