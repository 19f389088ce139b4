"""Invariants of every page, over generated workspaces (no database: the state is built from
records directly)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.domain import SegmentSpec, SurfaceSpec
from launchpoint.ranking.ribbons import RibbonRequest, build_ribbons
from launchpoint.ranking.state import build_state

CATEGORIES = ["a", "b", "c"]
TYPES = ["view", "click", "save", "purchase", "dismiss", "rate", "thumbs_down"]


@st.composite
def workspaces(draw: st.DrawFn) -> dict[str, Any]:
    n_items = draw(st.integers(1, 25))
    n_users = draw(st.integers(1, 8))
    items = [
        {
            "id": f"i{n:02d}",
            "title": f"Item {n}",
            "text": "",
            "categories": draw(st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True)),
            "attributes": {"shelf": draw(st.integers(0, 2))},
            "available": draw(st.booleans()) or draw(st.booleans()),
            "created_at": 0.0,
            "sensitive": ["crypto"] if draw(st.integers(0, 4)) == 0 else [],
        }
        for n in range(n_items)
    ]
    users = [
        {
            "id": f"u{n}",
            "attributes": {"group": draw(st.integers(0, 2))},
            "consents": {"crypto": draw(st.booleans())},
            "personalisation": draw(st.integers(0, 5)) > 0,
            "created_at": 0.0,
        }
        for n in range(n_users)
    ]
    events = draw(
        st.lists(
            st.tuples(
                st.sampled_from([u["id"] for u in users]),
                st.sampled_from([i["id"] for i in items]),
                st.sampled_from(TYPES),
                st.one_of(st.none(), st.floats(0.5, 5.0)),
                st.floats(0, 100),
            ),
            max_size=60,
        )
    )
    specs = [
        SegmentSpec(
            id=f"s{g}",
            priority=draw(st.integers(0, 3)),
            users=f"group = {g} or count(event = 'click') >= 2",
            items=f"shelf != {g}",
            min_users=draw(st.integers(0, 3)),
            min_items=draw(st.integers(0, 5)),
        )
        for g in range(3)
    ]
    return {"items": items, "users": users, "events": sorted(events, key=lambda e: e[4]),
            "specs": specs}  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    world=workspaces(),
    layers=st.integers(1, 4),
    cards=st.integers(1, 12),
    fallback=st.sampled_from(["none", "popular"]),
)
def test_every_page_keeps_its_promises(
    world: dict[str, Any], layers: int, cards: int, fallback: str
) -> None:
    state = build_state(1, world["users"], world["items"], [world["events"]], world["specs"], 1e3)
    surface = SurfaceSpec(layers=layers, cards=cards, fallback=fallback)  # type: ignore[arg-type]
    items = {i["id"]: i for i in world["items"]}
    for user in world["users"]:
        page = build_ribbons(state, RibbonRequest(user["id"]), surface)
        consumed = {
            e[1] for e in world["events"]
            if e[0] == user["id"] and e[2] in {"purchase", "rate", "dismiss", "thumbs_down"}
        }  # fmt: skip
        assert len(page.ribbons) <= layers
        shown = [c.item_id for r in page.ribbons for c in r.cards]
        assert len(shown) == len(set(shown))  # an item appears once per page
        segment_ids = [r.segment_id for r in page.ribbons if r.kind == "segment"]
        assert len(set(segment_ids)) == len(segment_ids)
        if segment_ids:
            assert user["personalisation"] and not page.fallback_used
            order = [s.spec.id for s in state.segments]
            assert segment_ids == sorted(segment_ids, key=order.index)  # priority order
        for ribbon in page.ribbons:
            assert 1 <= len(ribbon.cards) <= cards
            ids = [c.item_id for c in ribbon.cards]
            assert len(set(ids)) == len(ids)
            scores = [c.score for c in ribbon.cards]
            # Guardrails may move cards (diversity, exploration), so scores need not be sorted.
            assert all(-1.0 <= s <= 1.0 for s in scores)  # a disliked topic scores below 0
            for card in ribbon.cards:
                item = items[card.item_id]
                assert item["available"] and card.item_id not in consumed
                assert not item["sensitive"] or user["consents"]["crypto"]
            if ribbon.kind == "segment":
                segment = next(s for s in state.segments if s.spec.id == ribbon.segment_id)
                assert segment.qualification.qualifies
                assert segment.members[state.user_index[user["id"]]]
                assert all(segment.eligible[state.item_index[i]] for i in ids)
