"""A segment's items from its rule, from its members' behaviour, or both."""

from __future__ import annotations

import pytest

from launchpoint.domain import EventIn, ItemIn, SegmentSpec, UserIn, WorkspaceConfig
from launchpoint.engine import WorkspaceEngine

DAY = 86400.0
NOW = 1_700_000_000.0


@pytest.fixture
def shop(workspace: WorkspaceEngine) -> WorkspaceEngine:
    workspace.add_items(
        [ItemIn(id=f"b{n}", categories=["bond"], attributes={"kind": "bond"}) for n in range(4)]
        + [ItemIn(id=f"s{n}", categories=["stock"], attributes={"kind": "stock"})
           for n in range(4)]
        + [ItemIn(id="gone", attributes={"kind": "bond"}, available=False)]
    )  # fmt: skip
    workspace.add_users([UserIn(id=f"u{n}", attributes={"club": n < 3}) for n in range(6)])
    events = []
    # Club members (u0-u2): s0 most, then b1, then s1; b2 only long ago; gone is unavailable.
    for user in ("u0", "u1", "u2"):
        events.append(EventIn(user_id=user, item_id="s0", type="purchase", timestamp=NOW - DAY))
    for user in ("u0", "u1"):
        events.append(EventIn(user_id=user, item_id="b1", type="save", timestamp=NOW - 2 * DAY))
    events.append(EventIn(user_id="u0", item_id="s1", type="click", timestamp=NOW - DAY))
    events.append(EventIn(user_id="u0", item_id="b2", type="purchase", timestamp=NOW - 90 * DAY))
    events.append(EventIn(user_id="u1", item_id="gone", type="purchase", timestamp=NOW - DAY))
    # Outsiders love b3: it must not count for the club.
    for user in ("u3", "u4", "u5"):
        events.append(EventIn(user_id=user, item_id="b3", type="purchase", timestamp=NOW - DAY))
    workspace.add_events(events)
    return workspace


def _items(ws: WorkspaceEngine, **fields: object) -> list[str]:
    spec = SegmentSpec(id="club", users="club = true", min_users=0, min_items=0, **fields)
    ws.apply(WorkspaceConfig(segments=[spec]))
    state = ws.state(now=NOW)
    (segment,) = state.segments
    return [state.item_ids[i] for i in segment.eligible.nonzero()[0]]


def test_from_the_rule(shop: WorkspaceEngine) -> None:
    assert _items(shop, items="kind = 'bond'") == ["b0", "b1", "b2", "b3", "gone"]


def test_from_behaviour_within_the_window(shop: WorkspaceEngine) -> None:
    assert _items(shop, items_from="behaviour") == ["b1", "s0", "s1"]
    assert _items(shop, items_from="behaviour", behaviour_window="120d") == [
        "b1", "b2", "s0", "s1",
    ]  # fmt: skip
    assert _items(shop, items_from="behaviour", behaviour_top=2) == ["b1", "s0"]


def test_both_takes_the_behaviour_items_the_rule_allows(shop: WorkspaceEngine) -> None:
    assert _items(shop, items="kind = 'bond'", items_from="both") == ["b1"]


def test_ribbon_cards_follow_the_behaviour_items(shop: WorkspaceEngine) -> None:
    from launchpoint.ranking.ribbons import RibbonRequest

    _items(shop, items_from="behaviour")
    page = shop.ribbons(RibbonRequest("u2", cards=10), now=NOW)
    # s0 was bought by u2; s1 leads on u2's taste for stocks.
    assert [c.item_id for c in page.ribbons[0].cards] == ["s1", "b1"]


def test_a_bad_window_is_refused(shop: WorkspaceEngine) -> None:
    with pytest.raises(ValueError, match="behaviour_window 'soon' is not a duration"):
        SegmentSpec(id="x", items_from="behaviour", behaviour_window="soon")


def test_definitions_stored_before_a_field_existed_are_not_new_versions(
    shop: WorkspaceEngine,
) -> None:
    spec = SegmentSpec(id="club", users="club = true")
    shop.apply(WorkspaceConfig(segments=[spec]))
    old = spec.model_dump()
    for field in ("items_from", "behaviour_window", "behaviour_top"):
        old.pop(field)
    from launchpoint.storage import tables as t

    with shop.store.db.write() as conn:  # as a definition written before those fields
        conn.execute(
            t.segments.update()
            .where(t.segments.c.workspace_id == shop.workspace_id)
            .values(definition=old)
        )
    result = shop.apply(WorkspaceConfig(segments=[spec]))
    assert result.unchanged == ["club"] and shop.segment("club")[1] == 1
