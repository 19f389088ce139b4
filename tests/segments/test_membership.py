"""Batch aggregates and memberships: vectorised event conditions give what the real-time path
(one user, closures over their own events) gives, window edges, NaN and summing order
included; segment('id') is evaluated level by level."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from launchpoint.errors import RuleError
from launchpoint.segments.compiler import NOW_KEY, CompiledRule, compile_rule, segment_key
from launchpoint.segments.membership import (
    BatchStats,
    EventColumns,
    RuleBatch,
    aggregate_calls,
    aggregate_values,
    evaluate_segments_in_order,
    evaluate_users,
)
from launchpoint.segments.realtime import UserEvent, user_aggregate_values

NOW = 1_700_000_000.0
DAY = 86400.0
TYPES = ("view", "click", "purchase")

Event = tuple[int, int, str, float | None, float]  # user, item (-1: none), type, value, ts


def columns(events: list[Event]) -> EventColumns:
    return EventColumns(
        np.array([e[0] for e in events], dtype=np.int32),
        np.array([e[1] for e in events], dtype=np.int32),
        np.array([TYPES.index(e[2]) for e in events], dtype=np.int16),
        np.array([math.nan if e[3] is None else e[3] for e in events], dtype=np.float64),
        np.array([e[4] for e in events], dtype=np.float64),
        TYPES,
    )


def both_ways(
    rule: CompiledRule, events: list[Event], items: list[dict[str, Any]], n_users: int
) -> tuple[dict[str, np.ndarray], list[dict[str, float | None]], BatchStats]:
    item_ids = [f"i{n}" for n in range(len(items))]
    stats = BatchStats()
    batch = aggregate_values(
        rule.aggregates, columns(events), items, item_ids, n_users, NOW,
        calls=aggregate_calls([rule]), stats=stats,
    )  # fmt: skip
    realtime = [
        user_aggregate_values(
            rule.aggregates,
            [UserEvent(i, kind, value, ts) for u, i, kind, value, ts in events if u == user],
            items,
            item_ids,
            NOW,
        )
        for user in range(n_users)
    ]
    return batch, realtime, stats


def assert_same(batch: dict[str, np.ndarray], realtime: list[dict[str, float | None]]) -> None:
    for user, values in enumerate(realtime):
        for key, expected in values.items():
            got = float(batch[key][user])
            if expected is None:
                assert math.isnan(got), (key, user)
            else:
                assert got == expected, (key, user, got, expected)


ITEMS: list[dict[str, Any]] = [
    {"genre": "x", "price": 1, "categories": ["stock"], "created_at": NOW - DAY, NOW_KEY: NOW},
    {"genre": 1, "price": "2.5", "categories": [], "created_at": NOW - 9 * DAY, NOW_KEY: NOW},
    {"genre": None, "price": 3.5, "categories": ["bond", "stock"], NOW_KEY: NOW},
    {NOW_KEY: NOW},
]
EVENTS: list[Event] = [
    (0, 0, "click", None, NOW - 7 * DAY),  # exactly on the 7-day edge: inside
    (0, 1, "purchase", 0.1, NOW - 3 * DAY),
    (0, 2, "purchase", 0.2, NOW - 2 * DAY),
    (0, -1, "view", None, NOW),  # exactly now: inside
    (0, 0, "purchase", 0.3, NOW - DAY),
    (1, 3, "click", 5.0, NOW + 1),  # in the future: outside every window
    (1, 2, "view", 2.0, NOW - 7 * DAY - 1),
    (2, 1, "click", None, NOW - 30 * DAY),
]


@pytest.mark.parametrize(
    "aggregate",
    [
        "count(within = '7d')",
        "count(event = 'click')",
        "count(type in ('view', 'click'), within = '7d')",
        "count(genre = 'x')",
        "count(item.genre = 1 or genre is null)",
        "count(categories contains 'stock')",
        "count(price > 2)",  # numbers and numeric text in one item field
        "count(price between 1 and 3 and event != 'view')",
        "count(item_id = 'i2' or item_id is null)",
        "count(created_at > now() - 172800)",  # now() is the item's evaluation time
        "sum(event = 'purchase')",  # 0.1 + 0.2 + 0.3 in event order, across types
        "sum(value > 0.15)",
        "sum(item.value >= 2)",  # item.value is the event's value, as in real time
        "distinct(within = '7d')",
        "distinct(event = 'purchase' and categories contains 'stock')",
        "first_seen(event = 'click')",
        "last_seen(within = '7d')",
        "last_seen(genre = 'nope')",
    ],
)
def test_each_condition_is_vectorised_and_agrees_with_real_time(aggregate: str) -> None:
    rule = compile_rule(f"{aggregate} = 0", "users")
    batch, realtime, stats = both_ways(rule, EVENTS, ITEMS, 4)
    assert_same(batch, realtime)
    assert not stats.fallbacks


def test_window_edges_and_future_events() -> None:
    rule = compile_rule("count(within = '7d') = 0", "users")
    batch, _, _ = both_ways(rule, EVENTS, ITEMS, 4)
    assert batch[rule.aggregates[0].key].tolist() == [5.0, 0.0, 0.0, 0.0]


def test_sum_adds_in_event_order() -> None:
    rule = compile_rule("sum(event in ('purchase', 'view')) = 0", "users")
    events: list[Event] = [
        (0, 0, kind, value, NOW - n)
        for n, (kind, value) in enumerate(
            [("purchase", 0.1), ("view", 1e16), ("purchase", 0.7), ("view", -1e16), ("view", 0.2)]
        )
    ]
    batch, realtime, _ = both_ways(rule, events, ITEMS, 1)
    assert batch[rule.aggregates[0].key][0] == realtime[0][rule.aggregates[0].key]


def test_a_condition_without_a_column_form_falls_back_and_still_agrees() -> None:
    rule = compile_rule("count(genre contains item_id) = 0", "users")
    batch, realtime, stats = both_ways(rule, EVENTS, ITEMS, 4)
    assert_same(batch, realtime)
    assert [f.reason for f in stats.fallbacks] == ["event condition: no vectorised form"]


def test_without_syntax_trees_conditions_run_as_closures() -> None:
    rule = compile_rule("count(event = 'click') = 0", "users")
    stats = BatchStats()
    values = aggregate_values(
        rule.aggregates, columns(EVENTS), ITEMS, ["i0", "i1", "i2", "i3"], 4, NOW, stats=stats
    )
    assert values[rule.aggregates[0].key].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert stats.fallbacks


def test_no_events_and_no_users() -> None:
    rule = compile_rule("count() = 0 and last_seen() is null", "users")
    batch, _, _ = both_ways(rule, [], ITEMS, 2)
    count, last_seen = (batch[a.key] for a in rule.aggregates)
    assert count.tolist() == [0.0, 0.0] and np.isnan(last_seen).all()
    assert evaluate_users(rule, [{}, {}], batch).tolist() == [True, True]
    assert evaluate_users(rule, [], {k: v[:0] for k, v in batch.items()}).tolist() == []


def test_segments_are_evaluated_level_by_level() -> None:
    users = [{"age": a} for a in (20, 35, 50, None)]
    rules = {
        "older": compile_rule("segment('adult') and age > 40", "users"),
        "adult": compile_rule("age >= 30", "users"),
        "rest": compile_rule("not segment('older') and not segment('outside')", "users"),
    }
    values: dict[str, np.ndarray] = {segment_key("outside"): np.array([1.0, 0.0, 0.0, 0.0])}
    members = evaluate_segments_in_order(RuleBatch(users, "users"), rules, values)
    assert members["adult"].tolist() == [False, True, True, False]
    assert members["older"].tolist() == [False, False, True, False]
    assert members["rest"].tolist() == [False, True, False, True]
    assert values[segment_key("older")].tolist() == [0.0, 0.0, 1.0, 0.0]
    with pytest.raises(RuleError, match="cycle"):
        evaluate_segments_in_order(
            RuleBatch(users, "users"),
            {
                "a": compile_rule("segment('b')", "users"),
                "b": compile_rule("segment('a')", "users"),
            },
            {},
        )


# -- property: random aggregates over random events and catalogues --------------------------
ITEM_FIELD = st.one_of(
    st.none(),
    st.integers(0, 3),
    st.sampled_from([0.5, 2.5, "x", "X", "1", "2.5", "2023-11-10", True, False]),
    st.lists(st.sampled_from(["x", "stock", 1]), max_size=2),
)
CONDITIONS = st.recursive(
    st.sampled_from(
        ["event = 'click'", "type in ('view', 'click')", "event != 'view'", "genre = 'x'",
         "item.genre = 1", "genre contains 'x'", "categories contains 'stock'", "price > 1",
         "price between 1 and 2", "value > 1", "value is null", "item.value >= 2",
         "item_id = 'i1'", "item_id is null", "created_at > now() - 172800", "genre = price",
         "value > price", "genre", "event contains 'IC'", "price + value > 3", "true"]
    ),
    lambda inner: st.one_of(
        st.builds("not ({})".format, inner),
        st.builds("({}) and ({})".format, inner, inner),
        st.builds("({}) or ({})".format, inner, inner),
    ),
    max_leaves=3,
)  # fmt: skip


@st.composite
def aggregate_texts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["count", "sum", "distinct", "first_seen", "last_seen"]))
    arguments = [draw(CONDITIONS)] if draw(st.booleans()) else []
    window = draw(st.sampled_from([None, "1d", "3d", "7d"]))
    if window:
        arguments.append(f"within = '{window}'")
    return f"{kind}({', '.join(arguments)})"


@st.composite
def catalogues(draw: st.DrawFn) -> list[dict[str, Any]]:
    items = []
    for _ in range(draw(st.integers(0, 4))):
        item: dict[str, Any] = {NOW_KEY: NOW, "created_at": NOW - draw(st.integers(0, 4)) * DAY}
        for name in ("genre", "price", "categories"):
            if draw(st.booleans()):
                item[name] = draw(ITEM_FIELD)
        items.append(item)
    return items


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aggregate=aggregate_texts(), items=catalogues(), data=st.data())
def test_random_aggregates_agree_with_real_time(
    aggregate: str, items: list[dict[str, Any]], data: st.DataObject
) -> None:
    rule = compile_rule(f"{aggregate} = 0", "users")
    events = data.draw(
        st.lists(
            st.tuples(
                st.integers(0, 3),
                st.integers(-1, len(items) - 1),
                st.sampled_from(TYPES),
                st.one_of(st.none(), st.sampled_from([0.1, 0.2, 0.5, 1.0, 2.0, 3.0])),
                # whole days before now hit the window edges exactly; -1: in the future
                st.integers(-1, 8).map(lambda days: NOW - days * DAY),
            ),
            max_size=30,
        )
    )
    if data.draw(st.booleans()):  # oldest first, as storage gives them: windows are slices
        events.sort(key=lambda e: e[4])
    batch, realtime, stats = both_ways(rule, events, items, 4)
    event("closures" if stats.fallbacks else "vectorised")
    assert_same(batch, realtime)
