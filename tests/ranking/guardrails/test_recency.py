"""Recency floor: a share of fresh items, labelled, whenever there are enough of them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.ranking.guardrails import ExplorationConfig, RecencyConfig
from tests.ranking.guardrails.worlds import DAY, assert_basic, hand_world, notes_of, only, worlds


def test_the_best_fresh_items_replace_the_lowest_stale_cards() -> None:
    world = hand_world(
        [["a"]] * 6, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], k=4, created_days_ago=[30, 2, 30, 30, 1, 3]
    )
    ribbon = world.run(only(recency=RecencyConfig(share=0.5, max_age="7d")))
    # i01 is fresh already; i04 takes the place of the lowest stale card, i03.
    assert world.ids(ribbon.items) == ["i00", "i01", "i02", "i04"]
    assert [c.label for c in ribbon.cards] == [None, None, None, "New this week"]


def test_too_few_fresh_items_leave_a_note() -> None:
    world = hand_world([["a"]] * 4, [1.0, 0.9, 0.8, 0.7], k=4, created_days_ago=[30, 30, 1, 30])
    ribbon = world.run(only(recency=RecencyConfig(share=0.5, max_age="7d")))
    assert world.ids(ribbon.items) == ["i00", "i01", "i02", "i03"]
    (note,) = ribbon.notes
    assert (note.guardrail, note.wanted, note.got) == ("recency", 2, 1)
    assert note.reason == "only 1 fresh items among the candidates this user may see"
    assert note.message.startswith("recency: 50% of cards newer than 7d: wanted 2, got 1")


def test_recency_keeps_what_exploration_needs() -> None:
    world = hand_world(
        [["a"], ["a"], ["b"], ["a"]],
        [1.0, 0.9, 0.5, 0.1],
        k=3,
        created_days_ago=[30, 30, 30, 1],
        affinity={"a": 1.0},
    )
    config = only(exploration=ExplorationConfig(share=0.34), recency=RecencyConfig(share=0.34))
    ribbon = world.run(config)
    # i02 (category b) is the only card outside the interests: recency replaces i01.
    assert world.ids(ribbon.items) == ["i00", "i03", "i02"]
    assert [c.source for c in ribbon.cards] == ["model", "recency", "model"]


@settings(max_examples=100, deadline=None)
@given(world=worlds(), share=st.sampled_from([0.2, 0.5, 1.0]), days=st.integers(1, 20))
def test_the_floor_holds_whenever_enough_fresh_items_exist(world, share: float, days: int):
    ribbon = world.run(only(recency=RecencyConfig(share=share, max_age=f"{days}d")))
    allowed = world.allowed()
    assert_basic(world, ribbon, allowed)
    wanted = int(np.floor(share * len(ribbon.items) + 0.5))
    fresh = [i for i in allowed if world.fresh(i, days * DAY)]
    have = sum(1 for i in ribbon.items if world.fresh(i, days * DAY))
    if len(fresh) >= wanted:
        assert have >= wanted
        assert ribbon.notes == []
    else:
        assert have == len(fresh)
        assert notes_of(ribbon, "recency")
    assert all(world.fresh(c.item, days * DAY) for c in ribbon.cards if c.source == "recency")
