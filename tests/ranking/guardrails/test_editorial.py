"""Editorial control: hidden items, pins at their positions, curated slots spread down the
ribbon, and notes for what could not be placed."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.ranking.guardrails import (
    CandidateList,
    DiversityConfig,
    EditorialConfig,
    EditorialPin,
    ExplorationConfig,
    RecencyConfig,
    RibbonEditorial,
)
from tests.ranking.guardrails.worlds import OFF, assert_basic, hand_world, only, worlds

SCORES = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]


def editorial(**ribbon: object) -> EditorialConfig:
    return EditorialConfig(ribbons={"s1": RibbonEditorial.model_validate(ribbon)})


def pins(*placed: tuple[str, int]) -> list[EditorialPin]:
    return [EditorialPin(item=item, position=position) for item, position in placed]


def test_hidden_items_are_never_shown() -> None:
    world = hand_world([["a"]] * 4, SCORES[:4])
    ribbon = world.run(only(editorial=EditorialConfig(hidden=["i00", "i02", "nope"])))
    assert world.ids(ribbon.items) == ["i01", "i03"]


def test_pins_take_their_positions_and_the_model_fills_around_them() -> None:
    world = hand_world([["a"]] * 6, SCORES[:6], k=5)
    ribbon = world.run(only(editorial=editorial(pins=pins(("i05", 0), ("i04", 3)))))
    assert world.ids(ribbon.items) == ["i05", "i00", "i01", "i04", "i02"]
    assert [c.source for c in ribbon.cards] == ["pinned", "model", "model", "pinned", "model"]
    assert ribbon.cards[0].label == "Editor's pick"
    assert ribbon.notes == []


def test_a_taken_position_moves_the_later_pin_down_with_a_note() -> None:
    world = hand_world([["a"]] * 4, SCORES[:4], k=3)
    ribbon = world.run(only(editorial=editorial(pins=pins(("i03", 1), ("i02", 1)))))
    assert world.ids(ribbon.items) == ["i00", "i03", "i02"]
    (note,) = ribbon.notes
    assert (note.wanted, note.got) == (1, 2)
    assert "pinned already" in note.reason


def test_pins_that_cannot_be_placed_leave_notes() -> None:
    world = hand_world([["a"]] * 4, SCORES[:4], k=2)
    config = only(
        editorial=EditorialConfig(
            hidden=["i01"],
            ribbons={"*": RibbonEditorial(pins=pins(("i01", 0), ("i02", 5), ("ghost", 0)))},
        )
    )
    ribbon = world.run(config)
    assert world.ids(ribbon.items) == ["i00", "i02"]  # i02 still shows, on its score
    reasons = sorted(note.reason for note in ribbon.notes)
    assert reasons == [
        "no such item in the catalogue",
        "removed by hidden: hidden by the editors",
        "the ribbon has 2 cards",
    ]


def test_a_pin_must_be_one_of_the_ribbons_candidates() -> None:
    world = hand_world([["a"]] * 3, SCORES[:3], k=2)
    first_two = CandidateList(world.candidates.items[:2], world.candidates.scores[:2])
    narrowed = dataclasses.replace(world, candidates=first_two)
    ribbon = narrowed.run(only(editorial=editorial(pins=pins(("i02", 0)))))
    assert narrowed.ids(ribbon.items) == ["i00", "i01"]
    assert "not among this ribbon's candidates" in ribbon.notes[0].reason


def test_curated_slots_are_spread_down_the_ribbon_in_the_editors_order() -> None:
    world = hand_world([["a"]] * 10, SCORES, k=10)
    ribbon = world.run(only(editorial=editorial(curated=["i09", "i08", "i07"], curated_share=0.2)))
    assert world.ids(ribbon.items) == [
        "i00",
        "i01",
        "i09",
        "i02",
        "i03",
        "i04",
        "i05",
        "i08",
        "i06",
        "i07",
    ]
    assert [c.source for c in ribbon.cards].count("curated") == 2


def test_too_few_curated_items_leave_a_note() -> None:
    world = hand_world([["a"]] * 5, SCORES[:5], k=5)
    ribbon = world.run(only(editorial=editorial(curated=["i04"], curated_share=0.4)))
    assert [c.source for c in ribbon.cards].count("curated") == 1
    (note,) = ribbon.notes
    assert (note.wanted, note.got) == (2, 1)


def test_the_star_entry_applies_to_ribbons_without_their_own() -> None:
    world = hand_world([["a"]] * 3, SCORES[:3], k=2)
    config = only(
        editorial=EditorialConfig(
            ribbons={
                "*": RibbonEditorial(pins=pins(("i02", 0))),
                "other": RibbonEditorial(pins=pins(("i01", 0))),
            }
        )
    )
    assert world.ids(world.run(config, key="s1").items) == ["i02", "i00"]
    assert world.ids(world.run(config, key="other").items) == ["i01", "i00"]


def test_later_guardrails_never_move_editorial_cards() -> None:
    world = hand_world(
        [["a"], ["a"], ["a"], ["b"], ["c"]],
        SCORES[:5],
        k=3,
        created_days_ago=[30, 30, 30, 30, 0],
        affinity={"a": 1.0},
    )
    config = only(
        editorial=editorial(pins=pins(("i00", 0), ("i01", 1), ("i02", 2))),
        diversity=DiversityConfig(min_categories=3, max_per_category=1),
        exploration=ExplorationConfig(share=0.5),
        recency=RecencyConfig(share=0.5),
    )
    ribbon = world.run(config)
    assert world.ids(ribbon.items) == ["i00", "i01", "i02"]
    assert {note.guardrail for note in ribbon.notes} == {"diversity", "exploration", "recency"}


@settings(max_examples=100, deadline=None)
@given(data=st.data(), world=worlds())
def test_usable_pins_always_show_at_or_after_their_position(data: st.DataObject, world) -> None:
    ids = list(world.catalogue.item_ids)
    chosen = data.draw(st.lists(st.sampled_from(ids), max_size=4, unique=True))
    placed = [(item, data.draw(st.integers(0, 12))) for item in chosen]
    hidden = data.draw(st.lists(st.sampled_from(ids), max_size=2))
    config = OFF.model_copy(
        update={
            "editorial": EditorialConfig(
                hidden=hidden, ribbons={"s1": RibbonEditorial(pins=pins(*placed))}
            )
        }
    )
    ribbon = world.run(config)
    hidden_items = frozenset(world.catalogue.item_index[i] for i in hidden)
    allowed = world.allowed(hidden=hidden_items)
    assert_basic(world, ribbon, allowed)
    shown = world.ids(ribbon.items)
    taken: set[int] = set()
    for item, position in sorted(placed, key=lambda p: p[1]):
        usable = world.catalogue.item_index[item] in allowed and position < world.k
        free = [p for p in range(position, world.k) if p not in taken]
        if usable and free:
            taken.add(free[0])
            assert item in shown
            assert ribbon.cards[shown.index(item)].source == "pinned"
            assert shown.index(item) <= free[0]  # earlier only when the ribbon is short
        else:
            assert any(item in note.constraint for note in ribbon.notes)
