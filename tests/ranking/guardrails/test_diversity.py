"""Diversity: MMR, a cap per category, a floor of distinct categories; each holds whenever
the candidates allow it, and a note says so when they do not."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.ranking.guardrails import (
    DiversityConfig,
    EditorialConfig,
    EditorialPin,
    RibbonEditorial,
)
from tests.ranking.guardrails.worlds import (
    assert_basic,
    category_counts,
    hand_world,
    notes_of,
    only,
    worlds,
)

SCORES = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]


def diversity(**settings: object) -> DiversityConfig:
    return DiversityConfig.model_validate({"min_categories": 0, **settings})


def test_a_cap_skips_to_the_next_best_of_another_category() -> None:
    world = hand_world([["a"], ["a"], ["a"], ["b"], ["a"], ["c"]], SCORES[:6], k=4)
    ribbon = world.run(only(diversity=diversity(max_per_category=2)), trace=True)
    assert world.ids(ribbon.items) == ["i00", "i01", "i03", "i05"]
    assert ribbon.notes == []
    assert ribbon.trace is not None
    dropped = [
        r["item_id"]
        for r in ribbon.trace.as_dict(world.catalogue.item_ids)["trace"]
        if any(
            d["action"] == "dropped" and d["stage"] == "diversity" for d in r.get("decisions", [])
        )
    ]
    assert dropped == ["i02"]


def test_a_cap_that_cannot_hold_fills_the_ribbon_and_says_so() -> None:
    world = hand_world([["a"], ["a"], ["a"], ["b"]], SCORES[:4], k=4)
    ribbon = world.run(only(diversity=diversity(max_per_category=2)))
    assert world.ids(ribbon.items) == ["i00", "i01", "i03", "i02"]
    (note,) = ribbon.notes
    assert (note.wanted, note.got) == (2, 3)
    assert "'a'" in note.reason


def test_a_multi_category_item_counts_for_each_of_its_categories() -> None:
    world = hand_world([["a", "b"], ["a"], ["b"], ["c"]], SCORES[:4], k=3)
    ribbon = world.run(only(diversity=diversity(max_per_category=1)))
    assert world.ids(ribbon.items) == ["i00", "i03", "i01"]  # a:2 forced last
    assert len(ribbon.notes) == 1


def test_mmr_trades_score_for_a_new_category() -> None:
    world = hand_world([["a"], ["a"], ["b"]], [1.0, 0.95, 0.5], k=3)
    assert world.ids(world.run(only(diversity=diversity(mmr_lambda=1.0))).items) == [
        "i00",
        "i01",
        "i02",
    ]
    # 0.5 * 0.9 - 0.5 * 1 (same category) < 0.5 * 0 - 0.5 * 0 (new one): b comes second.
    assert world.ids(world.run(only(diversity=diversity(mmr_lambda=0.5))).items) == [
        "i00",
        "i02",
        "i01",
    ]


def test_mmr_with_lambda_zero_ignores_scores_after_the_first_card() -> None:
    world = hand_world([["a"], ["a"], ["a"], ["b"]], [1.0, 0.9, 0.8, 0.0], k=2)
    ribbon = world.run(only(diversity=diversity(mmr_lambda=0.0)))
    # Every value is 0 at first (ties go to the better-ranked), then only b is not similar.
    assert world.ids(ribbon.items) == ["i00", "i03"]


def test_editorial_cards_over_the_cap_are_kept_and_named_in_the_note() -> None:
    world = hand_world([["a"], ["a"], ["b"]], [1.0, 0.9, 0.8], k=3)
    pinned = [EditorialPin(item="i00", position=0), EditorialPin(item="i01", position=1)]
    config = only(
        diversity=diversity(max_per_category=1),
        editorial=EditorialConfig(ribbons={"s1": RibbonEditorial(pins=pinned)}),
    )
    ribbon = world.run(config)
    assert world.ids(ribbon.items) == ["i00", "i01", "i02"]
    (note,) = ribbon.notes
    assert note.reason == "the editorial cards alone put 2 cards in 'a'"


def test_mmr_uses_jaccard_overlap_of_categories() -> None:
    world = hand_world([["a", "b"], ["a", "b"], ["a", "c"], ["d"]], [1.0, 0.99, 0.98, 0.0], k=3)
    ribbon = world.run(only(diversity=diversity(mmr_lambda=0.5)))
    # After i00, i01 overlaps it fully (0.5 * 0.99 - 0.5 * 1 < 0), i02 by a third
    # (0.5 * 0.98 - 0.5 / 3 > 0), i03 not at all (0.5 * 0 - 0 = 0): i02, then i03.
    assert world.ids(ribbon.items) == ["i00", "i02", "i03"]


def test_mmr_counts_editorial_cards_as_already_shown() -> None:
    world = hand_world([["a"], ["b"], ["b"], ["c"]], [1.0, 0.9, 0.8, 0.7], k=3)
    config = only(
        diversity=diversity(mmr_lambda=0.3),
        editorial=EditorialConfig(
            ribbons={"s1": RibbonEditorial(pins=[EditorialPin(item="i02", position=0)])}
        ),
    )
    assert world.ids(world.run(config).items) == ["i02", "i00", "i03"]


def test_the_distinct_floor_swaps_the_lowest_card_whose_category_stays_covered() -> None:
    world = hand_world([["a"], ["a"], ["b"], ["b"], ["c"], ["d"]], SCORES[:6], k=4)
    ribbon = world.run(only(diversity=diversity(min_categories=3)))
    assert world.ids(ribbon.items) == ["i00", "i01", "i02", "i04"]
    assert ribbon.cards[3].source == "diversity"


def test_the_distinct_floor_notes_when_the_candidates_lack_categories() -> None:
    world = hand_world([["a"], ["a"], ["b"]], SCORES[:3], k=3)
    ribbon = world.run(only(diversity=diversity(min_categories=4)))
    assert world.ids(ribbon.items) == ["i00", "i01", "i02"]
    (note,) = notes_of(ribbon, "diversity")
    assert "cover only 2 categories" in note


def test_the_floor_never_asks_for_more_categories_than_cards() -> None:
    world = hand_world([["a"], ["b"], ["c"]], SCORES[:3], k=2)
    ribbon = world.run(only(diversity=diversity(min_categories=5)))
    assert world.ids(ribbon.items) == ["i00", "i01"]
    assert ribbon.notes == []


@settings(max_examples=100, deadline=None)
@given(world=worlds(single_category=True), cap=st.integers(1, 3))
def test_the_cap_holds_whenever_the_candidates_allow(world, cap: int) -> None:
    ribbon = world.run(only(diversity=diversity(max_per_category=cap)))
    allowed = world.allowed()
    assert_basic(world, ribbon, allowed)
    available = category_counts(world, allowed)
    room = sum(min(cap, n) for n in available.values())
    worst = max(category_counts(world, ribbon.items).values(), default=0)
    if room >= len(ribbon.items):
        assert worst <= cap
        assert ribbon.notes == []
    else:
        assert worst > cap and notes_of(ribbon, "diversity")


@settings(max_examples=100, deadline=None)
@given(world=worlds(), cap=st.integers(1, 3), lam=st.sampled_from([None, 0.0, 0.5, 0.9]))
def test_the_cap_holds_or_a_note_says_why(world, cap: int, lam: float | None) -> None:
    ribbon = world.run(only(diversity=diversity(max_per_category=cap, mmr_lambda=lam)))
    assert_basic(world, ribbon, world.allowed())
    worst = max(category_counts(world, ribbon.items).values(), default=0)
    assert worst <= cap or notes_of(ribbon, "diversity")


@settings(max_examples=100, deadline=None)
@given(world=worlds(single_category=True), floor=st.integers(1, 5))
def test_the_distinct_floor_holds_whenever_the_candidates_allow(world, floor: int) -> None:
    ribbon = world.run(only(diversity=diversity(min_categories=floor)))
    allowed = world.allowed()
    assert_basic(world, ribbon, allowed)
    wanted = min(floor, len(ribbon.items))
    have = len(category_counts(world, ribbon.items))
    if len(category_counts(world, allowed)) >= wanted:
        assert have >= wanted
        assert ribbon.notes == []
    else:
        assert notes_of(ribbon, "diversity")


@settings(max_examples=100, deadline=None)
@given(world=worlds(), floor=st.integers(1, 5), cap=st.one_of(st.none(), st.integers(1, 3)))
def test_cap_and_floor_hold_together_or_say_why(world, floor: int, cap: int | None) -> None:
    ribbon = world.run(only(diversity=diversity(min_categories=floor, max_per_category=cap)))
    assert_basic(world, ribbon, world.allowed())
    counts = category_counts(world, ribbon.items)
    if len(counts) < min(floor, len(ribbon.items)) or max(counts.values(), default=0) > (cap or 99):
        assert notes_of(ribbon, "diversity")
