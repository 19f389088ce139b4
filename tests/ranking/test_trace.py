"""The trace: every candidate's filters, decisions and final position, JSON-ready, and
nothing recorded when tracing is off."""

from __future__ import annotations

import json

import numpy as np

from launchpoint.ranking.guardrails import (
    DiversityConfig,
    EditorialConfig,
    GuardrailChain,
    RibbonCandidates,
)
from launchpoint.ranking.trace import PageTrace, RibbonTrace, TraceEvent
from tests.ranking.guardrails.worlds import hand_world, only


def traced_ribbon():
    world = hand_world(
        [["a"], ["a"], ["a"], ["b"], ["a"]],
        [1.0, 0.9, 0.8, 0.7, 0.6],
        k=3,
        topics=[[], ["crypto"], [], [], []],
    )
    config = only(
        diversity=DiversityConfig(min_categories=0, max_per_category=1),
        editorial=EditorialConfig(hidden=["i04"]),
    )
    return world, world.run(config, trace=True)


def test_tracing_off_records_nothing() -> None:
    world, traced = traced_ribbon()
    plain = world.run(
        only(
            diversity=DiversityConfig(min_categories=0, max_per_category=1),
            editorial=EditorialConfig(hidden=["i04"]),
        )
    )
    assert plain.trace is None
    assert plain.cards == traced.cards


def test_every_candidate_has_its_filters_decisions_and_position() -> None:
    world, ribbon = traced_ribbon()
    assert ribbon.trace is not None
    explained = ribbon.trace.as_dict(world.catalogue.item_ids)
    json.dumps(explained)
    assert explained["ribbon"] == "s1"
    assert explained["steps"] == ["sensitive_topics", "hidden", "fill", "diversity"]
    assert explained["candidates"] == 5 and explained["shown"] == 3
    assert explained["removed"] == {"sensitive_topics": 1, "hidden": 1}
    by_item = {record["item_id"]: record for record in explained["trace"]}
    assert [r["item_id"] for r in explained["trace"]] == ["i00", "i01", "i02", "i03", "i04"]
    assert by_item["i01"]["removed_by"] == "sensitive_topics"
    assert by_item["i01"]["filters_passed"] == []
    assert by_item["i04"]["filters_passed"] == ["sensitive_topics"]
    assert by_item["i04"]["removed_because"] == "hidden by the editors"
    assert by_item["i00"] == {
        "item_id": "i00",
        "score": 1.0,
        "rank": 0,
        "filters_passed": ["sensitive_topics", "hidden"],
        "removed_by": None,
        "decisions": [{"stage": "fill", "action": "placed", "to": 0, "reason": "by score"}],
        "position": 0,
    }
    # The cap of one "a" drops i02 and moves i03 up; the forced fill brings i02 back last.
    assert [d["action"] for d in by_item["i03"]["decisions"]] == ["placed", "moved"]
    assert by_item["i03"]["decisions"][1] | {"reason": ""} == {
        "stage": "diversity",
        "action": "moved",
        "from": 2,
        "to": 1,
        "reason": "",
    }
    assert by_item["i02"]["position"] == 2
    assert explained["notes"][0]["guardrail"] == "diversity"


def test_the_scopes_narrow_the_candidates() -> None:
    world, ribbon = traced_ribbon()
    assert ribbon.trace is not None
    shown = ribbon.trace.as_dict(world.catalogue.item_ids, candidates="shown")["trace"]
    assert [r["item_id"] for r in shown] == ["i00", "i02", "i03"]
    touched = ribbon.trace.as_dict(world.catalogue.item_ids, candidates="touched")["trace"]
    assert len(touched) == 5
    untouched = RibbonTrace(
        "s",
        np.arange(3),
        np.array([0.3, 0.2, 0.1]),
        (),
        {},
        np.full(3, -1, dtype=np.int16),
        np.array([0, -1, -1]),
    )
    assert [
        r["item_id"] for r in untouched.as_dict(["a", "b", "c"], candidates="touched")["trace"]
    ] == ["a"]


def test_a_page_trace_holds_its_ribbons_in_order() -> None:
    world, _ = traced_ribbon()
    chain = GuardrailChain(only(), world.catalogue)
    ribbons = [RibbonCandidates(key, world.candidates) for key in ("s1", "s2")]
    page = chain.page(ribbons, 2, world.user, trace=True)
    trace = chain.page_trace(world.user, "home", page)
    assert isinstance(trace, PageTrace)
    explained = trace.as_dict(world.catalogue.item_ids, candidates="shown")
    assert explained["user_id"] == "u1" and explained["surface"] == "home"
    assert [r["ribbon"] for r in explained["ribbons"]] == ["s1", "s2"]
    json.dumps(explained)


def test_an_event_omits_what_it_does_not_have() -> None:
    assert TraceEvent("rotation", "readmitted", 3).as_dict() == {
        "stage": "rotation",
        "action": "readmitted",
    }
