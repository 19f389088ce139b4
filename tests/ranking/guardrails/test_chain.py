"""The chain: its fixed order, and every guardrail holding together (or saying why not)."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.ranking.guardrails import (
    ORDER,
    CandidateList,
    GuardrailChain,
    GuardrailsConfig,
    RibbonCandidates,
    UpstreamFilter,
)
from launchpoint.ranking.guardrails.config import duration_seconds
from tests.ranking.guardrails.worlds import (
    OFF,
    assert_basic,
    category_counts,
    configs,
    hand_world,
    notes_of,
    worlds,
)


def test_the_steps_run_in_the_documented_order() -> None:
    world = hand_world([["a"]], [1.0])
    everything = GuardrailsConfig.model_validate(
        {
            "diversity": {"max_per_category": 2, "mmr_lambda": 0.5},
            "recency": {"share": 0.2},
            "editorial": {
                "hidden": ["i00"],
                "ribbons": {"*": {"pins": [{"item": "i00", "position": 0}]}},
            },
        }
    )
    names = [step.name for step in GuardrailChain(everything, world.catalogue).steps]
    assert names == list(ORDER)


def test_switched_off_guardrails_are_not_in_the_chain() -> None:
    world = hand_world([["a"]], [1.0])
    assert [s.name for s in GuardrailChain(OFF, world.catalogue).steps] == [
        "sensitive_topics",
        "fill",
    ]
    defaults = [s.name for s in GuardrailChain(GuardrailsConfig(), world.catalogue).steps]
    assert defaults == [
        "sensitive_topics",
        "no_repeats",
        "rotation",
        "fill",
        "diversity",
        "exploration",
    ]


def test_upstream_filters_come_first_and_show_in_the_trace() -> None:
    world = hand_world([["a"]] * 3, [0.9, 0.8, 0.7], k=3)
    chain = GuardrailChain(OFF, world.catalogue)
    unavailable = UpstreamFilter("unavailable", np.array([False, True, False]), "not available")
    ribbon = chain.ribbon(
        RibbonCandidates("s1", world.candidates, (unavailable,)),
        3,
        chain.new_page(world.user),
        trace=True,
    )
    assert ribbon.items == [0, 2]
    assert ribbon.trace is not None
    explained = ribbon.trace.as_dict(world.catalogue.item_ids)
    assert explained["steps"][:2] == ["unavailable", "sensitive_topics"]
    assert explained["trace"][1]["removed_by"] == "unavailable"
    assert explained["trace"][0]["filters_passed"] == ["unavailable", "sensitive_topics"]


def test_an_empty_candidate_list_gives_an_empty_ribbon() -> None:
    world = hand_world([["a"]], [1.0])
    chain = GuardrailChain(GuardrailsConfig(), world.catalogue)
    empty = CandidateList(np.zeros(0, dtype=np.intp), np.zeros(0))
    ribbon = chain.ribbon(RibbonCandidates("s1", empty), 10, chain.new_page(world.user))
    assert ribbon.cards == [] and ribbon.notes == []


@settings(max_examples=150, deadline=None)
@given(data=st.data(), world=worlds())
def test_every_guardrail_holds_together_or_says_why(data: st.DataObject, world) -> None:
    config = data.draw(configs(world))
    ribbon = world.run(config)
    hidden = frozenset(world.catalogue.item_index[i] for i in config.editorial.hidden)
    assert_basic(world, ribbon, world.allowed(hidden=hidden))
    items, n = ribbon.items, len(ribbon.items)

    counts = category_counts(world, items)
    cap = config.diversity.max_per_category
    if cap is not None and max(counts.values(), default=0) > cap:
        assert notes_of(ribbon, "diversity")
    if len(counts) < min(config.diversity.min_categories, n):
        assert notes_of(ribbon, "diversity")

    exploration = config.exploration
    wanted = int(np.floor(exploration.share * n + 0.5))
    if sum(world.outside(i, exploration.min_affinity) for i in items) < wanted:
        assert notes_of(ribbon, "exploration")

    max_age = duration_seconds(config.recency.max_age)
    wanted = int(np.floor(config.recency.share * n + 0.5))
    if sum(world.fresh(i, max_age) for i in items) < wanted:
        assert notes_of(ribbon, "recency")

    for card in ribbon.cards:
        if card.source == "exploration":
            assert world.outside(card.item, exploration.min_affinity)
        if card.source == "recency":
            assert world.fresh(card.item, max_age)

    again = world.run(config, trace=True)  # deterministic, and tracing changes nothing
    assert again.cards == ribbon.cards
    assert again.trace is not None
    shown = again.trace.as_dict(world.catalogue.item_ids, candidates="shown")["trace"]
    assert [r["item_id"] for r in sorted(shown, key=lambda r: r["position"])] == world.ids(items)
    json.dumps(again.trace.as_dict(world.catalogue.item_ids))


@settings(max_examples=60, deadline=None)
@given(world=worlds(many_categories=False))
def test_the_defaults_keep_their_promises(world) -> None:
    ribbon = world.run(GuardrailsConfig())
    assert_basic(world, ribbon, world.allowed())
    n = len(ribbon.items)
    if len(category_counts(world, ribbon.items)) < min(3, n):
        assert notes_of(ribbon, "diversity")
    if sum(world.outside(i, 0.3) for i in ribbon.items) < int(np.floor(0.2 * n + 0.5)):
        assert notes_of(ribbon, "exploration")


def test_a_full_page_with_every_guardrail() -> None:
    categories = [["a"]] * 8 + [["b"]] * 4 + [["c"]] * 4 + [["d"]] * 4
    world = hand_world(
        categories,
        [1.0 - n / 40 for n in range(20)],
        k=5,
        created_days_ago=[30] * 18 + [1, 2],
        topics=[["crypto"]] + [[]] * 19,
        affinity={"a": 1.0, "b": 0.6},
    )
    config = GuardrailsConfig.model_validate(
        {
            "diversity": {"min_categories": 2, "max_per_category": 3},
            "exploration": {"share": 0.2, "candidates": 1},
            "recency": {"share": 0.2, "max_age": "7d"},
            "editorial": {
                "hidden": ["i01"],
                "ribbons": {"s2": {"pins": [{"item": "i15", "position": 0}]}},
            },
        }
    )
    chain = GuardrailChain(config, world.catalogue)
    ribbons = [RibbonCandidates(key, world.candidates) for key in ("s1", "s2", "s3")]
    page = chain.page(ribbons, 5, world.user)
    # s1: five a's, cut to three by the cap (b's fill in); exploration swaps the last b for
    # the best c (i12); recency then swaps i12 for i18, which is outside the interests too.
    # s2: the pinned c counts as exploration; recency swaps the last stale card for i19.
    # s3: nothing fresh is left on the page: a note.
    assert [world.ids(r.items) for r in page] == [
        ["i02", "i03", "i04", "i08", "i18"],
        ["i15", "i05", "i06", "i07", "i19"],
        ["i09", "i10", "i11", "i12", "i13"],
    ]
    assert [[c.source for c in r.cards] for r in page] == [
        ["model", "model", "model", "model", "recency"],
        ["pinned", "model", "model", "model", "recency"],
        ["model"] * 5,
    ]
    assert [(n.ribbon, n.guardrail, n.wanted, n.got) for r in page for n in r.notes] == [
        ("s3", "recency", 1, 0)
    ]
