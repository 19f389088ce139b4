"""segment('id') and affinity('category') in user rules."""

from __future__ import annotations

import pytest

from launchpoint.domain import EventIn, ItemIn, SegmentSpec, UserIn, WorkspaceConfig
from launchpoint.engine import WorkspaceEngine
from launchpoint.errors import RuleError
from launchpoint.segments.dependencies import evaluation_order

NOW = 1_700_000_000.0


def test_evaluation_order_puts_named_segments_first() -> None:
    assert evaluation_order({"a": {"b"}, "b": {"c"}, "c": set(), "d": set()}) == [
        "c", "b", "a", "d",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("needs", "fragment"),
    [
        ({"a": {"b"}, "b": {"a"}}, "cycle: a -> b -> a"),
        ({"a": {"a"}}, "cycle: a -> a"),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, "cycle: a -> b -> c -> a"),
        ({"a": {"nope"}}, "segment('nope') names no segment"),
    ],
)
def test_cycles_and_unknown_names_are_refused(needs: dict[str, set[str]], fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        evaluation_order(needs)
    assert fragment in str(info.value)


@pytest.fixture
def shop(workspace: WorkspaceEngine) -> WorkspaceEngine:
    workspace.add_items([ItemIn(id="b", categories=["bond"]), ItemIn(id="s", categories=["stock"])])
    workspace.add_users([UserIn(id=f"u{n}", attributes={"age": 20 + 10 * n}) for n in range(5)])
    events = [EventIn(user_id="u0", item_id="b", type="save", timestamp=NOW)] * 1
    events += [EventIn(user_id="u1", item_id="s", type="save", timestamp=NOW)]
    events += [EventIn(user_id="u2", item_id="b", type="view", timestamp=NOW),
               EventIn(user_id="u2", item_id="s", type="purchase", timestamp=NOW)]  # fmt: skip
    workspace.add_events(events)
    return workspace


def _members(ws: WorkspaceEngine, segment_id: str) -> set[str]:
    state = ws.state(now=NOW)
    seg = next(s for s in state.segments if s.spec.id == segment_id)
    return {state.user_ids[i] for i in seg.members.nonzero()[0]}


def test_segment_membership_in_rules(shop: WorkspaceEngine) -> None:
    shop.apply(WorkspaceConfig(segments=[
        SegmentSpec(id="young_savers", priority=2, users="segment('young') and count() >= 1",
                    min_users=0),
        SegmentSpec(id="young", priority=1, users="age < 45", min_users=0),
        SegmentSpec(id="others", priority=3, users="not segment('young')", min_users=0),
    ]))  # fmt: skip
    assert _members(shop, "young") == {"u0", "u1", "u2"}
    assert _members(shop, "young_savers") == {"u0", "u1", "u2"}
    assert _members(shop, "others") == {"u3", "u4"}
    why = {m.segment_id: m for m in shop.user_segments("u3")}["others"].why
    assert why.clauses[0].matched and why.clauses[0].text == "not segment('young')"


def test_a_cycle_or_unknown_name_is_refused_and_nothing_stored(shop: WorkspaceEngine) -> None:
    shop.apply(WorkspaceConfig(segments=[SegmentSpec(id="a", users="true", min_users=0)]))
    with pytest.raises(RuleError, match="cycle: a -> b -> a"):
        shop.apply(WorkspaceConfig(segments=[
            SegmentSpec(id="a", users="segment('b')"), SegmentSpec(id="b", users="segment('a')"),
        ]))  # fmt: skip
    with pytest.raises(RuleError, match="names no segment"):
        shop.apply(WorkspaceConfig(segments=[SegmentSpec(id="c", users="segment('zzz')")]))
    assert [s.id for s, _ in shop.segments()] == ["a"]
    assert shop.segment("a")[0].users == "true"


def test_affinity_for_a_category(shop: WorkspaceEngine) -> None:
    shop.apply(WorkspaceConfig(segments=[
        SegmentSpec(id="bond_lovers", users="affinity('bond') >= 0.5", min_users=0),
        SegmentSpec(id="stock_first", users="affinity('stock') = 1", min_users=0),
        SegmentSpec(id="none", users="affinity('crypto') > 0", min_users=0),
    ]))  # fmt: skip
    assert _members(shop, "bond_lovers") == {"u0"}  # u2: view 1 vs purchase 5 -> 0.2
    assert _members(shop, "stock_first") == {"u1", "u2"}
    assert _members(shop, "none") == set()


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("affinity(bond) > 0", "takes one quoted name"),
        ("segment() ", "takes one quoted name"),
        ("count(segment('x')) > 0", "only fits user rules"),
    ],
)
def test_argument_errors(shop: WorkspaceEngine, rule: str, fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        shop.apply(WorkspaceConfig(segments=[SegmentSpec(id="x", users=rule)]))
    assert fragment in str(info.value)
