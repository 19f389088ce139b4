"""The vectorised rule evaluator gives exactly the closure compiler's answer for every row,
whatever the rows hold: missing fields, nulls, kinds mixed in one field, lists, objects,
numbers and dates written as text, NaN and infinities."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from launchpoint.errors import RuleError
from launchpoint.segments.batch import BatchStats, RuleBatch, value_keys
from launchpoint.segments.compiler import NOW_KEY, CompiledRule, compile_rule

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
DAY = 86400.0


def closure_answers(
    rule: CompiledRule, rows: list[dict[str, Any]], values: dict[str, np.ndarray]
) -> list[bool]:
    out = []
    for i, row in enumerate(rows):
        extended = dict(row)
        for key, column in values.items():
            value = float(column[i])
            extended[key] = None if value != value else value
        out.append(rule.matches(extended))
    return out


def batch_answers(
    rule: CompiledRule, rows: list[dict[str, Any]], values: dict[str, np.ndarray]
) -> tuple[list[bool], BatchStats]:
    stats = BatchStats()
    got = RuleBatch(rows, rule.kind, stats).evaluate(rule, values)
    return got.tolist(), stats


ROWS: list[dict[str, Any]] = [
    {"age": 30, "region": "north", "tags": ["a", "b"], "address": {"city": "Oslo"},
     "created_at": NOW - 40 * DAY, "signup": "2023-01-05", "mixed": 1, "vip": True,
     "score": 2.5, NOW_KEY: NOW},
    {"age": "31", "region": "South", "tags": [], "address": "Oslo", "created_at": NOW - DAY,
     "signup": "2023-11-05", "mixed": "x", "vip": False, "score": float("nan"), NOW_KEY: NOW},
    {"age": None, "region": None, "mixed": True, "score": float("inf"), NOW_KEY: NOW},
    {"age": 25.5, "region": "north", "tags": ["B", 1], "mixed": [1], "score": -0.0,
     "signup": "not a date", NOW_KEY: NOW},
    {NOW_KEY: NOW},
]  # fmt: skip

# Each construct, over the rows above; ``vectorised``: answered without closures per row.
CONSTRUCTS = [
    ("age >= 30", True),  # numbers and numeric text in one field: by lookup
    ("score >= 2", True),
    ("score = score", True),  # NaN is not equal to itself
    ("score != 1", True),
    ("not score = 2.5", True),  # not of a comparison with a missing value is true
    ("score + 1 > 2", True),
    ("score - 1 >= 1 or score is null", True),
    ("created_at < now() - 30d", True),
    ("created_at between '2023-01-01' and '2023-11-01'", True),
    ("signup > now() - 400d", True),  # a date written as text
    ("region = 'north'", True),
    ("region != 'north'", True),
    ("region in ('north', 'x')", True),
    ("region not in ('north')", True),
    ("region in ('north', 1, true)", True),  # options of mixed kinds
    ("region < 'n'", True),
    ("region contains 'OR'", True),
    ("region is not null and not region = 'South'", True),
    ("tags contains 'b'", True),
    ("tags in ('B', 'z')", True),
    ("tags", True),
    ("address.city = 'Oslo'", True),
    ("address is not null", True),
    ("mixed = 1", True),
    ("mixed = true", True),
    ("mixed", True),
    ("vip", True),
    ("not vip", True),
    ("vip = 'TRUE'", True),
    ("vip != false", True),
    ("age between 20 and 30", True),
    ("age is null", True),
    ("region = 'north' or age > 26", True),
    ("count(event = 'click') >= 2 and affinity('bond') > 0.5", True),
    ("last_seen() > now() - 7d or first_seen() is null", True),
    ("segment('vip') and not segment('other')", True),
    ("created_at > score", True),
    ("region = address.city", True),
    ("true", True),
    ("1 = 2", True),
    ("segment('vip') not in (1)", True),  # a membership is never missing
    ("age < 100000000000000000000000", True),  # a literal int beyond 64 bits
    ("score > 1e400", True),
    ("age > region", False),  # two columns, neither with a column form: closures
    ("'north-x' contains region", True),
    ("'north-x' contains region or region contains mixed", False),
]


@pytest.mark.parametrize(("text", "vectorised"), CONSTRUCTS)
def test_each_construct_agrees_with_the_closure(text: str, vectorised: bool) -> None:
    rule = compile_rule(text, "users")
    values = {key: np.array([0.0, 2.0, 3.0, np.nan, 1.0])[: len(ROWS)] for key in value_keys(rule)}
    got, stats = batch_answers(rule, ROWS, values)
    assert got == closure_answers(rule, ROWS, values)
    assert (not stats.fallbacks) is vectorised, stats.fallbacks


def test_item_rules_and_an_empty_table() -> None:
    items = [{"asset_class": "etf", "risk": 3}, {"asset_class": "crypto", "risk": "5"}, {}]
    rule = compile_rule("asset_class in ('equity', 'etf') and risk <= 4", "items")
    assert RuleBatch(items, "items").evaluate(rule).tolist() == [True, False, False]
    assert RuleBatch([], "items").evaluate(rule).tolist() == []


def test_many_rules_share_one_pass_and_missing_values_take_defaults() -> None:
    rules = [compile_rule(t, "users") for t in ("age > 26", "count() = 0", "segment('x')")]
    batch = RuleBatch(ROWS, "users")
    got = batch.evaluate_many(rules, {})
    assert [g.tolist() for g in got] == [
        [r.matches(row) for row in ROWS] for r in rules
    ]  # count() is 0 and segment('x') false without their columns, as in a row without them


# -- property: random rules over random rows ------------------------------------------------
FIELD_KINDS: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(-3, 3),
    "float": st.sampled_from([0.5, -1.5, 2.0, 3.25, -0.0]),
    "numbers": st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 2.0, 1e300])),
    "nonfinite": st.sampled_from([math.nan, math.inf, -math.inf, 1.0, 0.0]),
    "text": st.sampled_from(["", "x", "X", "north", "North", "ß", "é", "true"]),
    "numeric text": st.sampled_from(["1", "2.5", " 3 ", "-1", "1e3", "nan", "inf"]),
    "dates": st.sampled_from(["2023-01-01", "2023-11-10T12:00:00Z", "2023-11-14", "2024-02-30"]),
    "bool": st.booleans(),
}
SCALARS = st.one_of(*FIELD_KINDS.values())
FIELD_KINDS["list"] = st.lists(st.sampled_from(["x", "X", "1", 1, True, 2.0]), max_size=3)
FIELD_KINDS["object"] = st.dictionaries(st.just("x"), SCALARS, max_size=1)
FIELD_KINDS["mixed"] = st.one_of(SCALARS, FIELD_KINDS["list"], FIELD_KINDS["object"])
FIELDS = ("a", "b", "c")


@st.composite
def row_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    kinds = {f: draw(st.sampled_from(sorted(FIELD_KINDS))) for f in (*FIELDS, "obj")}
    nows = draw(st.sampled_from([[NOW], [NOW, NOW - DAY]]))
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        row: dict[str, Any] = {NOW_KEY: draw(st.sampled_from(nows))}
        for name, kind in kinds.items():
            presence = draw(st.sampled_from(["value", "value", "value", "none", "missing"]))
            if presence == "missing":
                continue
            value = None if presence == "none" else draw(FIELD_KINDS[kind])
            if name == "obj" and draw(st.booleans()):
                value = {"x": value}
            row[name] = value
        rows.append(row)
    return rows


LITERALS = st.sampled_from(
    ["1", "0", "-2", "2.5", "'x'", "'X'", "'1'", "' 3 '", "'2023-03-01'", "'2023-11-12'",
     "true", "false", "null", "''", "'north'", "'TRUE'", "'nan'", "1e300"]
)  # fmt: skip
ATOMS = st.one_of(
    st.sampled_from([*FIELDS, "obj.x", "obj"]),
    LITERALS,
    st.sampled_from(
        ["now()", "now() - 3d", "a + 1", "b - 2.5", "count(event = 'click')", "last_seen()",
         "affinity('x')", "segment('s')"]
    ),
)  # fmt: skip
COMPARISONS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
BASE = st.one_of(
    st.builds("{} {} {}".format, ATOMS, COMPARISONS, ATOMS),
    st.builds("{} in ({})".format, ATOMS, st.lists(ATOMS, min_size=1, max_size=3).map(", ".join)),
    st.builds("{} not in ({})".format, ATOMS,
              st.lists(LITERALS, min_size=1, max_size=3).map(", ".join)),
    st.builds("{} between {} and {}".format, ATOMS, ATOMS, ATOMS),
    st.builds("{} is null".format, ATOMS),
    st.builds("{} is not null".format, ATOMS),
    st.builds("{} contains {}".format, ATOMS, ATOMS),
    ATOMS,
)  # fmt: skip
RULES = st.recursive(
    BASE,
    lambda inner: st.one_of(
        st.builds("not ({})".format, inner),
        st.builds("({}) and ({})".format, inner, inner),
        st.builds("({}) or ({})".format, inner, inner),
    ),
    max_leaves=4,
)
ENGINE_VALUES = st.sampled_from([0.0, 1.0, 2.0, 0.5, math.nan, NOW - DAY, NOW - 10 * DAY])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=RULES, rows=row_sets(), data=st.data())
def test_random_rules_over_random_rows_agree_with_the_closure(
    text: str, rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    try:
        rule = compile_rule(text, "users")
    except RuleError:
        assume(False)
        raise
    values = {
        key: np.array(data.draw(st.lists(ENGINE_VALUES, min_size=len(rows), max_size=len(rows))))
        for key in value_keys(rule)
        if data.draw(st.sampled_from([True, True, False]))  # absent: the closure default
    }
    got, stats = batch_answers(rule, rows, values)
    event("closures" if stats.fallbacks else "vectorised")
    assert got == closure_answers(rule, rows, values), (text, rows)
