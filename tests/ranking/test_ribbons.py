"""Ribbons on a tiny workspace whose right answers are known by hand."""

from __future__ import annotations

import pytest

from launchpoint.domain import EventIn, ItemIn, SegmentSpec, SurfaceSpec, UserIn, WorkspaceConfig
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.errors import NotFound
from launchpoint.ranking.ribbons import RibbonRequest

DAY = 86400.0
NOW = 1_700_000_000.0


@pytest.fixture
def shop(workspace: WorkspaceEngine) -> WorkspaceEngine:
    workspace.add_items(
        [ItemIn(id=f"b{n}", title=f"Bond {n}", categories=["bond"], created_at=0) for n in range(4)]
        + [
            ItemIn(id=f"e{n}", title=f"Equity {n}", categories=["equity"], created_at=0)
            for n in range(4)
        ]
        + [ItemIn(id="gone", title="Gone", categories=["bond"], available=False, created_at=0)]
    )
    workspace.add_users([UserIn(id=f"u{n}", attributes={"n": n}) for n in range(6)])
    events = []
    # Popularity among everyone: b0 > b1 > b2; e0 > e1.
    for user, item, count in (
        ("u1", "b0", 3),
        ("u2", "b0", 3),
        ("u3", "b1", 2),
        ("u4", "b2", 1),
        ("u1", "e0", 2),
        ("u2", "e1", 1),
        ("u5", "gone", 9),
    ):
        events += [EventIn(user_id=user, item_id=item, type="click", timestamp=NOW - DAY)] * 1
        events += [
            EventIn(
                message_id=f"{user}{item}{k}",
                user_id=user,
                item_id=item,
                type="click",
                timestamp=NOW - DAY - k,
            )
            for k in range(count)
        ]
    # u0 loves equities (recent saves) and already bought e3.
    events += [
        EventIn(
            message_id=f"s{k}", user_id="u0", item_id="e2", type="save", timestamp=NOW - k * DAY
        )
        for k in range(3)
    ]
    events.append(EventIn(user_id="u0", item_id="e3", type="purchase", timestamp=NOW))
    # An old click by u5, outside any 30-day window.
    events.append(EventIn(user_id="u5", item_id="b3", type="click", timestamp=NOW - 90 * DAY))
    workspace.add_events(events)
    workspace.apply(
        WorkspaceConfig(
            segments=[
                SegmentSpec(
                    id="everyone",
                    name="Everyone",
                    priority=2,
                    items="true",
                    min_users=1,
                    min_items=1,
                ),
                SegmentSpec(
                    id="bonds",
                    name="Bond fans",
                    priority=1,
                    items="categories contains 'bond'",
                    users=(
                        "count(event = 'click' and categories contains 'bond', within = '30d') >= 1"
                    ),
                    min_users=1,
                    min_items=1,
                ),
            ]
        )
    )
    return workspace


def test_rule_windows_follow_the_clock(shop: WorkspaceEngine) -> None:
    bonds = {s.spec.id: s for s in shop.state(now=NOW).segments}["bonds"]
    members = {shop.state(now=NOW).user_ids[i] for i in bonds.members.nonzero()[0]}
    assert members == {"u1", "u2", "u3", "u4", "u5"}  # u5: "gone" is a bond, clicked recently
    later = {s.spec.id: s for s in shop.state(now=NOW + 40 * DAY).segments}["bonds"]
    assert not later.members.any()  # 40 days on, nobody clicked a bond in the last 30 days
    earlier = {s.spec.id: s for s in shop.state(now=NOW - 70 * DAY).segments}["bonds"]
    later_ids = {shop.state(now=NOW - 70 * DAY).user_ids[i] for i in earlier.members.nonzero()[0]}
    assert later_ids == {"u5"}  # 70 days back, only u5's old click was within 30 days


def test_priority_order_and_layers(shop: WorkspaceEngine) -> None:
    page = shop.ribbons(RibbonRequest("u3", layers=2, cards=3), now=NOW)
    assert [r.segment_id for r in page.ribbons] == ["bonds", "everyone"]
    assert len(shop.ribbons(RibbonRequest("u3", layers=1), now=NOW).ribbons) == 1
    assert [r.segment_id for r in shop.ribbons(RibbonRequest("u0"), now=NOW).ribbons] == [
        "everyone"
    ]


def test_cards_rank_by_segment_popularity_and_skip_unavailable(shop: WorkspaceEngine) -> None:
    page = shop.ribbons(RibbonRequest("u4", layers=1, cards=10), now=NOW)
    cards = page.ribbons[0].cards
    assert [c.item_id for c in cards][:3] == ["b0", "b1", "b2"]
    assert "gone" not in [c.item_id for c in cards]
    assert cards[0].reason == "Popular with Bond fans"
    assert cards[0].signal == "segment_popularity"
    assert [c.score for c in cards] == sorted((c.score for c in cards), reverse=True)


def test_affinity_lifts_the_users_categories_and_says_so(shop: WorkspaceEngine) -> None:
    cards = shop.ribbons(RibbonRequest("u0", cards=8), now=NOW).ribbons[0].cards
    ids = [c.item_id for c in cards]
    assert "e3" not in ids  # purchased: consumed
    assert ids[0] == "e2"  # saved three times: affinity for equities, and popular with everyone
    equity_cards = [c for c in cards if c.item_id.startswith("e")]
    assert all(c.reason == "Because you like equity" for c in equity_cards[1:])
    assert max(ids.index(c.item_id) for c in equity_cards) < min(
        ids.index(c.item_id) for c in cards if c.item_id.startswith("b")
    )


def test_fallback(shop: WorkspaceEngine) -> None:
    shop.apply(WorkspaceConfig(segments=[SegmentSpec(id="everyone", status="archived")]))
    assert shop.ribbons(RibbonRequest("u0"), now=NOW).ribbons == []
    shop.apply(WorkspaceConfig(surfaces={"home": SurfaceSpec(fallback="popular")}))
    page = shop.ribbons(RibbonRequest("u0", cards=3), now=NOW)
    assert page.fallback_used
    (ribbon,) = page.ribbons
    assert ribbon.kind == "fallback" and ribbon.title == "Popular right now"
    assert [c.item_id for c in ribbon.cards] == ["b0", "e2", "b1"]


def test_personalisation_off_gets_the_non_personalised_page(shop: WorkspaceEngine) -> None:
    shop.add_users([UserIn(id="u3", attributes={"n": 3}, personalisation=False)])
    assert shop.ribbons(RibbonRequest("u3"), now=NOW).ribbons == []


def test_unknown_user_and_surface(shop: WorkspaceEngine) -> None:
    with pytest.raises(NotFound, match="nobody"):
        shop.ribbons(RibbonRequest("nobody"), now=NOW)
    with pytest.raises(NotFound, match="known surfaces: home"):
        shop.ribbons(RibbonRequest("u1", surface="email"), now=NOW)


def test_each_page_has_its_own_recommendation_id(shop: WorkspaceEngine) -> None:
    a = shop.ribbons(RibbonRequest("u1"), now=NOW)
    b = shop.ribbons(RibbonRequest("u1"), now=NOW)
    assert a.recommendation_id != b.recommendation_id
    assert a.ribbons == b.ribbons


def test_state_is_rebuilt_when_data_changes(shop: WorkspaceEngine) -> None:
    first = shop.state(now=NOW)
    assert shop.state(now=NOW) is first
    shop.add_events([EventIn(user_id="u0", item_id="b0", type="purchase", timestamp=NOW)])
    second = shop.state(now=NOW)
    assert second is not first and second.version > first.version


def test_sensitive_items_reach_only_users_who_consented(shop: WorkspaceEngine) -> None:
    shop.add_items(
        [ItemIn(id="c0", title="Coin", categories=["bond"], sensitive=["crypto"], created_at=0)]
    )
    shop.add_events(
        [
            EventIn(
                message_id=f"c{k}",
                user_id=f"u{k % 5 + 1}",
                item_id="c0",
                type="purchase",
                timestamp=NOW - DAY,
            )
            for k in range(20)
        ]
    )
    shop.apply(WorkspaceConfig(surfaces={"home": SurfaceSpec(fallback="popular")}))
    shop.add_users(
        [
            UserIn(id="yes", consents={"crypto": True}),
            UserIn(id="no", consents={"crypto": False}),
            UserIn(id="unset"),
        ]
    )
    for user, expected in (("yes", True), ("no", False), ("unset", False), ("u4", False)):
        page = shop.ribbons(RibbonRequest(user, layers=3, cards=20), now=NOW)
        shown = {c.item_id for r in page.ribbons for c in r.cards}
        assert ("c0" in shown) is expected, (user, page.ribbons)


def test_a_segment_with_nothing_left_gives_its_layer_to_the_next(shop: WorkspaceEngine) -> None:
    shop.apply(
        WorkspaceConfig(
            segments=[
                SegmentSpec(id="b3only", priority=0, items="id = 'b3'", min_users=1, min_items=1)
            ]
        )
    )
    shop.add_events([EventIn(user_id="u1", item_id="b3", type="purchase", timestamp=NOW)])
    ids = [r.segment_id for r in shop.ribbons(RibbonRequest("u1", layers=2), now=NOW).ribbons]
    assert ids == ["bonds", "everyone"]
    ids = [r.segment_id for r in shop.ribbons(RibbonRequest("u2", layers=2), now=NOW).ribbons]
    assert ids == ["b3only", "bonds"]


def test_fallback_scores_are_scaled_like_segment_scores(shop: WorkspaceEngine) -> None:
    shop.apply(
        WorkspaceConfig(
            segments=[
                SegmentSpec(id="everyone", status="draft"),
                SegmentSpec(id="bonds", status="draft"),
            ],
            surfaces={"home": SurfaceSpec(fallback="popular")},
        )
    )
    cards = shop.ribbons(RibbonRequest("u0"), now=NOW).ribbons[0].cards
    assert all(0 <= c.score <= 1 for c in cards) and cards[0].score == 1.0


def test_scores_stay_within_zero_and_one(shop: WorkspaceEngine) -> None:
    for user in ("u0", "u1", "u3"):
        for ribbon in shop.ribbons(RibbonRequest(user, layers=3, cards=20), now=NOW).ribbons:
            assert all(0.0 <= c.score <= 1.0 for c in ribbon.cards), ribbon


def test_another_process_sees_writes_once_it_rechecks(launchpoint: Launchpoint) -> None:
    settings = launchpoint.settings.model_copy(update={"version_check_seconds": 0.0})
    other = Launchpoint(settings)  # a second server process on the same database
    try:
        mine, theirs = launchpoint.workspace(), other.workspace()
        mine.add_users([UserIn(id="a")])
        assert theirs.state().user_ids == ["a"]
        mine.add_users([UserIn(id="b")])
        assert theirs.state().user_ids == ["a", "b"]  # re-read at once with a 0 s check
        mine.put_surface("home", SurfaceSpec(layers=5))
        assert theirs.surface("home").layers == 5
    finally:
        other.close()


def test_own_writes_are_seen_at_once_even_with_a_long_check(launchpoint: Launchpoint) -> None:
    settings = launchpoint.settings.model_copy(update={"version_check_seconds": 3600.0})
    lp = Launchpoint(settings)
    try:
        ws = lp.workspace()
        ws.add_users([UserIn(id="a")])
        assert ws.state().user_ids == ["a"]
        ws.add_users([UserIn(id="b")])
        assert ws.state().user_ids == ["a", "b"]
    finally:
        lp.close()
