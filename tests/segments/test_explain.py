from __future__ import annotations

from launchpoint.segments.compiler import compile_rule
from launchpoint.segments.explain import explain


def test_each_top_level_clause_says_whether_it_held_and_what_it_read() -> None:
    rule = compile_rule(
        "age >= 30 and (region = 'x' or count(event = 'click', within = 7d) > 2)", "users"
    )
    key = rule.aggregates[0].key
    why = explain(rule, {"age": 35, "region": "y", key: 3.0})
    assert why.matched and why.combinator == "and"
    first, second = why.clauses
    assert (first.text, first.matched, first.values) == ("age >= 30", True, {"age": 35})
    assert second.text == "region = 'x' or count(event = 'click', within = 7d) > 2"
    assert second.matched
    assert second.values == {"region": "y", "count(event = 'click', within = 7d)": 3}


def test_a_failing_clause_is_named_with_its_values() -> None:
    rule = compile_rule("plan = 'pro' or address.city = 'Oslo'", "users")
    why = explain(rule, {"plan": "free", "address": {"city": "Bergen"}})
    assert not why.matched and why.combinator == "or"
    assert [(c.text, c.matched) for c in why.clauses] == [
        ("plan = 'pro'", False),
        ("address.city = 'Oslo'", False),
    ]
    assert why.clauses[1].values == {"address.city": "Bergen"}


def test_a_single_clause_and_missing_values() -> None:
    rule = compile_rule("count(event = 'buy') >= 1", "users")
    why = explain(rule, {})
    assert why.combinator == "single" and not why.matched
    assert why.clauses[0].values == {"count(event = 'buy')": 0}
