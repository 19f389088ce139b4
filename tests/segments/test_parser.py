from __future__ import annotations

import pytest

from launchpoint.errors import RuleError
from launchpoint.segments import ast
from launchpoint.segments.parser import MAX_RULE_CHARS, parse_duration, parse_rule


def test_precedence_not_binds_tighter_than_and_than_or() -> None:
    node = parse_rule("not a = 1 and b = 2 or c = 3")
    assert isinstance(node, ast.Or)
    left, right = node.parts
    assert isinstance(left, ast.And)
    assert isinstance(left.parts[0], ast.Not)
    assert isinstance(right, ast.Compare)


def test_chains_flatten() -> None:
    node = parse_rule("a = 1 and b = 2 and c = 3")
    assert isinstance(node, ast.And) and len(node.parts) == 3


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("x in ('a', 'b')", ast.In),
        ("x not in (1, 2)", ast.In),
        ("x between 1 and 5", ast.Between),
        ("x is null", ast.IsNull),
        ("x is not null", ast.IsNull),
        ("tags contains 'Drama'", ast.Contains),
        ("count(event = 'click', within = 30d) >= 2", ast.Compare),
        ("address.city = 'Oslo'", ast.Compare),
        ("AND_flag = TRUE", ast.Compare),
    ],
)
def test_constructs_parse(text: str, kind: type) -> None:
    assert isinstance(parse_rule(text), kind)


def test_keywords_are_case_insensitive_but_names_containing_them_are_names() -> None:
    node = parse_rule("android = 1 AND order_count > 2 Or island is NOT null")
    assert isinstance(node, ast.Or)
    fields = [n.path for n in ast.walk(node) if isinstance(n, ast.Field)]
    assert fields == [("android",), ("order_count",), ("island",)]


def test_literals() -> None:
    node = parse_rule("a in ('it''s', \"dq\", 3, 2.5, -1, true, false, null)")
    assert isinstance(node, ast.In)
    assert [o.value for o in node.options if isinstance(o, ast.Literal)] == [
        "it's",
        "dq",
        3,
        2.5,
        -1,
        True,
        False,
        None,
    ]


def test_not_in_is_negated() -> None:
    node = parse_rule("x not in ('a')")
    assert isinstance(node, ast.In) and node.negated


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("a = ", 5, "ends too early"),
        ("a == = 3", 6, "unexpected '='"),
        ("a = 'open", 5, "never closed"),
        ("a in 3", 6, "expected '('"),
        ("a = 1 b = 2", 7, "unexpected 'b'"),
        ("a = 1 $ 2", 7, "unexpected character '$'"),
    ],
)
def test_syntax_errors_point_at_the_token(text: str, column: int, fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_rule(text, "users")
    detail = info.value.details[0]
    assert detail.extra["column"] == column, info.value.message
    assert fragment in info.value.message
    assert detail.loc == f"users:1:{column}"


def test_empty_and_oversized_rules_are_refused() -> None:
    with pytest.raises(RuleError, match="empty"):
        parse_rule("   ")
    with pytest.raises(RuleError, match="limit"):
        parse_rule("a = 1 or " * (MAX_RULE_CHARS // 9 + 1) + "a = 1")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(RuleError, match="nests too deeply"):
        parse_rule("not " * 200 + "a = 1")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("2w", 1209600), ("90m", 5400), ("45s", 45)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_not_a_duration() -> None:
    assert parse_duration("30 days") is None
    assert parse_duration("d30") is None


def test_long_flat_chains_are_one_node_not_a_deep_tree() -> None:
    node = parse_rule(" and ".join(f"a{n} = {n}" for n in range(200)))
    assert isinstance(node, ast.And) and len(node.parts) == 200
    node = parse_rule(" or ".join(f"(a = {n} and b = 1)" for n in range(100)))
    assert isinstance(node, ast.Or) and len(node.parts) == 100
