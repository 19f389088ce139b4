"""now(), durations in arithmetic, dates, and the aggregates beyond count(...)."""

from __future__ import annotations

from typing import Any

import pytest

from launchpoint.domain import SegmentSpec
from launchpoint.errors import RuleError
from launchpoint.ranking.state import build_state
from launchpoint.segments.compiler import NOW_KEY, compile_rule
from launchpoint.segments.explain import explain

DAY = 86400.0
NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def matches(rule: str, row: dict[str, Any], kind: str = "users") -> bool:
    return compile_rule(rule, kind).matches({NOW_KEY: NOW, **row})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "row", "expected"),
    [
        ("created_at < now() - 30d", {"created_at": NOW - 31 * DAY}, True),
        ("created_at < now() - 30d", {"created_at": NOW - 29 * DAY}, False),
        ("created_at > '2023-01-01'", {"created_at": NOW}, True),
        ("created_at between '2023-11-01' and '2023-11-30'", {"created_at": NOW}, True),
        ("created_at < '2023-11-14T00:00:00Z'", {"created_at": NOW}, False),
        ("balance - 100 >= -50", {"balance": 60}, True),
        ("balance + 1 = 2", {"balance": 1}, True),
        ("balance - 1 > 0", {}, False),  # missing stays missing
        ("score in (-1, -2)", {"score": -2}, True),
        ("now() > '2023-01-01'", {}, True),
        ("launch_date > now() - 2w", {"launch_date": "2023-11-10"}, True),
    ],
)
def test_time_and_arithmetic(rule: str, row: dict[str, Any], expected: bool) -> None:
    assert matches(rule, row) is expected


@pytest.mark.parametrize(
    ("rule", "kind", "fragment"),
    [
        ("now(1) > 0", "users", "now() takes no arguments"),
        ("sum(event = 'buy') > 1", "items", "only fits user rules"),
        ("sum(event = 'buy') > 'lots'", "users", "compare it with a number"),
        ("last_seen(last_seen(event = 'x') > 1) > 0", "users", "cannot be nested"),
        ("age > 3d", "users", "fits in arithmetic"),
        ("nowt() > 1", "users", "did you mean 'now'?"),
    ],
)
def test_errors(rule: str, kind: str, fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        compile_rule(rule, kind)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def _state(specs: list[SegmentSpec]):  # type: ignore[no-untyped-def]
    users = [
        {"id": f"u{n}", "attributes": {}, "consents": {}, "personalisation": True,
         "created_at": NOW - n * 100 * DAY}
        for n in range(4)
    ]  # fmt: skip
    items = [
        {"id": f"i{n}", "title": "", "text": "", "categories": ["bond" if n < 2 else "stock"],
         "attributes": {}, "available": True, "created_at": 0.0, "sensitive": []}
        for n in range(3)
    ]  # fmt: skip
    events = [
        ("u0", "i0", "purchase", 500.0, NOW - 2 * DAY),
        ("u0", "i1", "purchase", 700.0, NOW - 40 * DAY),
        ("u0", "i0", "view", None, NOW - 1 * DAY),
        ("u1", "i2", "purchase", 50.0, NOW - 3 * DAY),
        ("u1", "i2", "view", None, NOW - 5 * DAY),
        ("u1", "i2", "view", None, NOW - 6 * DAY),
        ("u2", None, "search", None, NOW - 200 * DAY),
    ]
    return build_state(1, users, items, [events], specs, now=NOW)


def _members(rule: str) -> set[str]:
    state = _state([SegmentSpec(id="s", users=rule, min_users=0, min_items=0)])
    (segment,) = state.segments
    return {state.user_ids[i] for i in segment.members.nonzero()[0]}


@pytest.mark.parametrize(
    ("rule", "members"),
    [
        ("sum(event = 'purchase') >= 1000", {"u0"}),
        ("sum(event = 'purchase', within = '30d') >= 100", {"u0"}),
        ("sum(event = 'purchase' and categories contains 'stock') > 0", {"u1"}),
        ("distinct(event = 'view') >= 1", {"u0", "u1"}),
        ("distinct() >= 2", {"u0"}),  # u1's three events are all one item
        ("count(event = 'view') = 2", {"u1"}),
        ("last_seen() > now() - 7d", {"u0", "u1"}),
        ("last_seen() < now() - 100d", {"u2"}),
        ("last_seen() is null", {"u3"}),
        ("first_seen(event = 'purchase') < now() - 30d", {"u0"}),
        ("created_at < now() - 150d and last_seen() is not null", {"u2"}),
    ],
)
def test_aggregates_over_a_known_history(rule: str, members: set[str]) -> None:
    assert _members(rule) == members


def test_explanations_show_times_as_dates() -> None:
    state = _state([SegmentSpec(id="s", users="last_seen() > now() - 7d", min_users=0)])
    (segment,) = state.segments
    why = explain(segment.user_rule, state.rule_row(state.user_index["u1"]))
    assert why.matched
    assert why.clauses[0].values == {
        "last_seen()": "2023-11-11T22:13:20Z",
        "now()": "2023-11-14T22:13:20Z",
    }
    nobody = explain(segment.user_rule, state.rule_row(state.user_index["u3"]))
    assert not nobody.matched and nobody.clauses[0].values["last_seen()"] is None
