"""The real-time memo answers, per event, for a whole list of aggregates at once: it must give
what evaluating every condition gives, and lists of aggregates sharing one memo never mix."""

from __future__ import annotations

from typing import Any

from launchpoint.segments.compiler import compile_rule
from launchpoint.segments.realtime import UserEvent, evaluate_user, user_aggregate_values

NOW = 1_000_000.0
ITEMS = [{"id": "a", "shelf": "x"}, {"id": "b", "shelf": "y"}]
IDS = ["a", "b"]
EVENTS = [
    UserEvent(0, "rate", 5.0, NOW - 10),
    UserEvent(1, "rate", 2.0, NOW - 10),
    UserEvent(0, "click", None, NOW - 5 * 86400),
    UserEvent(1, "click", None, NOW - 20),
    UserEvent(-1, "search", None, NOW - 30),
    UserEvent(0, "rate", 4.0, NOW + 10),  # in the future: outside every window
]
FIRST = compile_rule(
    "count(event = 'rate' and value >= 4) >= 1 and count(event = 'click', within = '2d') >= 1"
    " and distinct(shelf = 'x') >= 1 and last_seen() > 0",
    "users",
)
SECOND = compile_rule(
    "sum(value, event = 'rate', within = '1d') > 6 or count(shelf = 'y') >= 3", "users"
)


def test_a_shared_memo_gives_what_no_memo_gives() -> None:
    memo: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for rule in (FIRST, SECOND, FIRST, SECOND):
        plain = user_aggregate_values(rule.aggregates, EVENTS, ITEMS, IDS, NOW)
        memoised = user_aggregate_values(rule.aggregates, EVENTS, ITEMS, IDS, NOW, memo)
        assert plain == memoised
    first = user_aggregate_values(FIRST.aggregates, EVENTS, ITEMS, IDS, NOW, memo)
    assert sorted(v for v in first.values() if v is not None) == [1.0, 1.0, 2.0, NOW + 10]
    second = user_aggregate_values(SECOND.aggregates, EVENTS, ITEMS, IDS, NOW, memo)
    assert sorted(second.values()) == [2.0, 7.0]  # 5 + 2 within the day; b's two events


def test_a_repeated_aggregate_is_computed_once_and_rules_read_the_values() -> None:
    aggregates = [*FIRST.aggregates, *FIRST.aggregates]
    values = user_aggregate_values(aggregates, EVENTS, ITEMS, IDS, NOW, {})
    assert len(values) == len(FIRST.aggregates)
    assert evaluate_user(FIRST, {"@now": NOW}, values)
    # values win over the row, as {**row, **values} would have them
    shadowed = {key: 0.0 for key in values}
    assert not evaluate_user(FIRST, {"@now": NOW, **values}, shadowed)
