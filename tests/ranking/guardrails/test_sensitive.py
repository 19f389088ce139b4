"""The consent gate holds under every configuration: no pin, curated slot, exploration draw
or rotation can bring back an item on a topic the user has not consented to."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.ranking.guardrails import (
    EditorialConfig,
    EditorialPin,
    ExplorationConfig,
    RibbonEditorial,
)
from tests.ranking.guardrails.worlds import OFF, assert_basic, configs, hand_world, only, worlds


def test_items_on_a_topic_without_consent_are_left_out() -> None:
    world = hand_world(
        [["a"]] * 4,
        [0.9, 0.8, 0.7, 0.6],
        topics=[["crypto"], [], ["crypto", "gambling"], ["gambling"]],
        consents=frozenset({"gambling"}),
    )
    ribbon = world.run(OFF, trace=True)
    assert world.ids(ribbon.items) == ["i01", "i03"]
    assert ribbon.trace is not None
    record = ribbon.trace.as_dict(world.catalogue.item_ids)["trace"][0]
    assert record["item_id"] == "i00"
    assert record["removed_by"] == "sensitive_topics"
    assert "consented" in record["removed_because"]


def test_every_topic_must_be_consented() -> None:
    world = hand_world(
        [["a"]], [1.0], topics=[["crypto", "gambling"]], consents=frozenset({"crypto"})
    )
    assert world.run(OFF).cards == []
    consenting = hand_world(
        [["a"]], [1.0], topics=[["crypto", "gambling"]], consents=frozenset({"crypto", "gambling"})
    )
    assert consenting.ids(consenting.run(OFF).items) == ["i00"]


def test_a_pinned_sensitive_item_is_not_shown_and_the_note_says_why() -> None:
    world = hand_world([["a"]] * 3, [0.9, 0.8, 0.7], topics=[[], ["crypto"], []])
    config = only(
        editorial=EditorialConfig(
            ribbons={
                "s1": RibbonEditorial(
                    pins=[EditorialPin(item="i01", position=0)], curated=["i01"], curated_share=0.5
                )
            }
        ),
        exploration=ExplorationConfig(share=1.0),
    )
    ribbon = world.run(config)
    assert world.ids(ribbon.items) == ["i00", "i02"]
    assert any("removed by sensitive_topics" in note.reason for note in ribbon.notes)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), world=worlds())
def test_no_configuration_lets_a_non_consented_item_through(data: st.DataObject, world) -> None:
    config = data.draw(configs(world))
    ribbon = world.run(config)
    for item in ribbon.items:
        assert world.consented(item), f"{world.ids([item])} is shown without consent"
    hidden = frozenset(world.catalogue.item_index[i] for i in config.editorial.hidden)
    assert_basic(world, ribbon, world.allowed(hidden=hidden))
