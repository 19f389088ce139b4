"""No repeats: once per page across ribbons, and ignored items rotate out unless the ribbon
would otherwise run short."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.ranking.guardrails import (
    CandidateList,
    GuardrailChain,
    NoRepeatsConfig,
    RibbonCandidates,
    UserContext,
)
from tests.ranking.guardrails.worlds import NOW, assert_basic, configs, hand_world, only, worlds

SCORES = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]


def ignoring(world, counts: dict[int, int]) -> UserContext:
    return UserContext(
        world.user.user_id,
        NOW,
        world.user.consents,
        world.user.category_affinity,
        np.array(list(counts), dtype=np.intp),
        np.array(list(counts.values()), dtype=np.intp),
    )


def test_a_later_ribbon_does_not_repeat_an_earlier_ones_items() -> None:
    world = hand_world([["a"]] * 6, SCORES, k=3)
    chain = GuardrailChain(only(no_repeats=NoRepeatsConfig(rotate_after=0)), world.catalogue)
    both = RibbonCandidates("s1", world.candidates), RibbonCandidates("s2", world.candidates)
    first, second = chain.page(list(both), 3, world.user, trace=True)
    assert world.ids(first.items) == ["i00", "i01", "i02"]
    assert world.ids(second.items) == ["i03", "i04", "i05"]
    assert second.trace is not None
    removed = second.trace.as_dict(world.catalogue.item_ids)["removed"]
    assert removed == {"sensitive_topics": 0, "no_repeats": 3}


def test_repeats_across_ribbons_can_be_allowed() -> None:
    world = hand_world([["a"]] * 3, SCORES[:3], k=2)
    config = only(no_repeats=NoRepeatsConfig(across_ribbons=False, rotate_after=0))
    chain = GuardrailChain(config, world.catalogue)
    ribbons = [RibbonCandidates(key, world.candidates) for key in ("s1", "s2")]
    first, second = chain.page(ribbons, 2, world.user)
    assert first.items == second.items == [0, 1]


def test_items_ignored_too_often_rotate_out() -> None:
    world = hand_world([["a"]] * 6, SCORES, k=3)
    user = ignoring(world, {0: 3, 1: 2, 4: 7})
    chain = GuardrailChain(only(no_repeats=NoRepeatsConfig(rotate_after=3)), world.catalogue)
    ribbon = chain.ribbon(RibbonCandidates("s1", world.candidates), 3, chain.new_page(user))
    assert world.ids(ribbon.items) == ["i01", "i02", "i03"]
    assert ribbon.notes == []


def test_rotated_items_come_back_least_ignored_first_when_the_ribbon_would_run_short() -> None:
    world = hand_world([["a"]] * 4, SCORES[:4], k=3)
    user = ignoring(world, {0: 5, 1: 3, 2: 4})
    chain = GuardrailChain(only(no_repeats=NoRepeatsConfig(rotate_after=3)), world.catalogue)
    ribbon = chain.ribbon(
        RibbonCandidates("s1", world.candidates), 3, chain.new_page(user), trace=True
    )
    assert world.ids(ribbon.items) == ["i01", "i02", "i03"]
    (note,) = ribbon.notes
    assert (note.wanted, note.got) == (3, 1)
    assert ribbon.trace is not None
    decisions = {
        r["item_id"]: [d["action"] for d in r.get("decisions", [])]
        for r in ribbon.trace.as_dict(world.catalogue.item_ids)["trace"]
    }
    assert decisions["i01"][0] == "readmitted"
    assert decisions["i00"] == []


def test_rotation_never_brings_back_an_item_another_filter_removed() -> None:
    world = hand_world([["a"]] * 2, SCORES[:2], k=2, topics=[["crypto"], []])
    user = ignoring(world, {0: 9, 1: 9})
    chain = GuardrailChain(only(no_repeats=NoRepeatsConfig(rotate_after=1)), world.catalogue)
    ribbon = chain.ribbon(RibbonCandidates("s1", world.candidates), 2, chain.new_page(user))
    assert world.ids(ribbon.items) == ["i01"]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), world=worlds(), n_ribbons=st.integers(1, 3))
def test_no_item_appears_twice_on_a_page(data: st.DataObject, world, n_ribbons: int) -> None:
    config = data.draw(configs(world)).model_copy(
        update={"no_repeats": NoRepeatsConfig(rotate_after=data.draw(st.integers(0, 4)))}
    )
    chain = GuardrailChain(config, world.catalogue)
    ribbons = []
    for n in range(n_ribbons):  # overlapping candidate lists, each in its own order
        order = data.draw(st.permutations(range(len(world.candidates))))
        candidates = CandidateList(world.candidates.items[order], world.candidates.scores[order])
        ribbons.append(RibbonCandidates(f"s{n}", candidates))
    page = chain.page(ribbons, world.k, world.user)
    shown = [item for ribbon in page for item in ribbon.items]
    assert len(shown) == len(set(shown))
    hidden = frozenset(world.catalogue.item_index[i] for i in config.editorial.hidden)
    earlier: set[int] = set()
    for ribbon, asked in zip(page, ribbons, strict=True):
        allowed = world.allowed(hidden=hidden, shown=frozenset(earlier))
        assert_basic(world, ribbon, allowed, asked.candidates)
        earlier |= set(ribbon.items)


@settings(max_examples=100, deadline=None)
@given(world=worlds(), after=st.integers(1, 4))
def test_rotated_items_show_only_when_too_few_others_remain(world, after: int) -> None:
    ribbon = world.run(only(no_repeats=NoRepeatsConfig(across_ribbons=False, rotate_after=after)))
    allowed = world.allowed()
    assert_basic(world, ribbon, allowed)
    counts = dict(
        zip(world.user.ignored_items.tolist(), world.user.ignored_counts.tolist(), strict=True)
    )
    stale = {i for i in allowed if counts.get(i, 0) >= after}
    fresh_enough = len(allowed) - len(stale)
    shown_stale = [i for i in ribbon.items if i in stale]
    assert len(shown_stale) == max(0, min(world.k, len(allowed)) - fresh_enough)
