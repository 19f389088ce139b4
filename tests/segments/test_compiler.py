from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from launchpoint.errors import RuleError
from launchpoint.segments.compiler import MAX_AGGREGATES, RuleSchema, compile_rule

USERS = RuleSchema(user_fields={"age", "region", "tags", "address"}, item_fields={"genre", "risk"})


def matches(rule: str, row: dict[str, Any], kind: str = "users") -> bool:
    return compile_rule(rule, kind, USERS).matches(row)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "row", "expected"),
    [
        ("age >= 30", {"age": 30}, True),
        ("age >= 30", {"age": 29}, False),
        ("age >= 30", {"age": "31"}, True),  # numeric text compares as a number
        ("age >= 30", {}, False),  # missing: false, as in SQL
        ("age != 30", {}, False),
        ("not age = 30", {}, True),
        ("region = 'north'", {"region": "north"}, True),
        ("region = 'North'", {"region": "north"}, False),  # equality is exact
        ("region in ('a', 'b')", {"region": "b"}, True),
        ("region not in ('a', 'b')", {"region": "c"}, True),
        ("region not in ('a', 'b')", {}, False),
        ("tags in ('x', 'y')", {"tags": ["q", "y"]}, True),  # any element of a list
        ("tags contains 'y'", {"tags": ["q", "y"]}, True),
        ("tags contains 'z'", {"tags": ["q", "y"]}, False),
        ("region contains 'ORTH'", {"region": "north"}, True),  # substring, any case
        ("age between 18 and 25", {"age": 25}, True),
        ("age between 18 and 25", {"age": 26}, False),
        ("age is null", {}, True),
        ("age is not null", {"age": 0}, True),
        ("address.city = 'Oslo'", {"address": {"city": "Oslo"}}, True),
        ("address.city = 'Oslo'", {"address": "Oslo"}, False),
        ("region = 'a' or age > 3 and age < 5", {"region": "a", "age": 10}, True),
        ("(region = 'a' or age > 3) and age < 5", {"region": "a", "age": 10}, False),
        ("true", {}, True),
        ("age = true", {"age": "true"}, True),
    ],
)
def test_semantics(rule: str, row: dict[str, Any], expected: bool) -> None:
    assert matches(rule, row) is expected


def test_count_reads_its_aggregate_value() -> None:
    rule = compile_rule("count(event = 'click', within = '7d') >= 2", "users", USERS)
    (aggregate,) = rule.aggregates
    assert aggregate.window_seconds == 7 * 86400
    assert aggregate.condition is not None
    assert aggregate.condition({"event": "click"}) and not aggregate.condition({"event": "view"})
    assert rule.matches({aggregate.key: 2.0}) and not rule.matches({aggregate.key: 1.0})


def test_identical_aggregates_share_one_key() -> None:
    rule = compile_rule(
        "count(event = 'click') > 1 and count( event='click' ) < 9 and count() > 0",
        "users",
        USERS,
    )
    assert len(rule.aggregates) == 2


def test_count_conditions_see_the_event_item() -> None:
    rule = compile_rule(
        "count(event = 'rate' and item.genre = 'Drama' and risk < 3) >= 1", "users", USERS
    )
    condition = rule.aggregates[0].condition
    assert condition is not None
    assert condition({"event": "rate", "genre": "Drama", "risk": 2})
    assert not condition({"event": "rate", "genre": "Drama", "risk": 5})


@pytest.mark.parametrize(
    ("rule", "kind", "fragment"),
    [
        ("agee > 3", "users", "unknown user field 'agee' (did you mean 'age'?)"),
        ("genr = 'x'", "items", "did you mean 'genre'?"),
        ("zzz = 1", "users", "known: "),
        ("cnt(event = 'x') > 1", "users", "unknown function 'cnt' (did you mean 'count'?)"),
        ("count(event = 'x') > 1", "items", "only fits user rules"),
        ("count(count(event = 'x') > 1) > 1", "users", "cannot be nested"),
        ("count(within = 'soon') > 1", "users", "positive duration"),
        ("count(within = 0d) > 1", "users", "positive duration"),
        ("count(event = 'x') > 'many'", "users", "compare it with a number"),
        ("age > 30d", "users", "fits in arithmetic"),
        ("event = 'click'", "users", "only means something inside count"),
        ("count(genra = 'x') > 1", "users", "did you mean 'genre'?"),
    ],
)
def test_validation_errors(rule: str, kind: str, fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        compile_rule(rule, kind, USERS)  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert info.value.details and "column" in info.value.details[0].extra


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(RuleError) as info:
        compile_rule("agee > 1 and regoin = 'x'", "users", USERS)
    assert len(info.value.details) == 2
    assert [d.extra["column"] for d in info.value.details] == [1, 14]


def test_unknown_schema_accepts_any_field() -> None:
    assert compile_rule("anything = 1", "users").matches({"anything": 1})


def test_aggregate_limit() -> None:
    text = " and ".join(f"count(event = 'e{n}') > 0" for n in range(MAX_AGGREGATES + 1))
    with pytest.raises(RuleError, match="at most"):
        compile_rule(text, "users")


@given(
    age=st.one_of(
        st.none(), st.integers(-5, 120), st.floats(allow_nan=False, allow_infinity=False)
    ),
    low=st.integers(-10, 130),
    high=st.integers(-10, 130),
)
def test_between_agrees_with_two_comparisons(age: Any, low: int, high: int) -> None:
    row = {"age": age}
    assert matches(f"age between {low} and {high}", row) == matches(
        f"age >= {low} and age <= {high}", row
    )


@given(value=st.one_of(st.none(), st.integers(), st.text(max_size=5)), other=st.integers())
def test_not_equal_is_equal_negated_for_present_values(value: Any, other: int) -> None:
    row = {"age": value}
    if value is None:
        assert not matches(f"age = {other}", row) and not matches(f"age != {other}", row)
    else:
        assert matches(f"age != {other}", row) is not matches(f"age = {other}", row)
