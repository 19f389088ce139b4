"""Parse rule text into the syntax tree, with errors that point at the offending token.

lark is the parser (a well-kept LALR parser generator); nothing here ever calls ``eval``.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from launchpoint.errors import ErrorDetail, RuleError
from launchpoint.segments import ast

MAX_RULE_CHARS = 4000
MAX_DEPTH = 40

_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")

_TERMINAL_WORDS = {
    "COMP": "a comparison (=, !=, <, <=, >, >=)",
    "NAME": "a field name",
    "STRING": "a 'quoted string'",
    "NUMBER": "a number",
    "DURATION": "a duration like 30d",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "DOT": "'.'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "_AND": "'and'",
    "_OR": "'or'",
    "_NOT": "'not'",
    "_IN": "'in'",
    "_IS": "'is'",
    "_NULL": "'null'",
    "_BETWEEN": "'between'",
    "_CONTAINS": "'contains'",
    "_TRUE": "true",
    "_FALSE": "false",
    "$END": "the end of the rule",
}


def parse_duration(text: str) -> float | None:
    """Seconds in '30d', '12h', '2w', '90m', '45s'; None when it is not a duration."""
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


@functools.cache
def _parser() -> Lark:
    grammar = resources.files("launchpoint.segments").joinpath("grammar.lark").read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True)


def _pos(meta_or_token: Any, span: Any = None) -> ast.Pos:
    """Line and column of ``meta_or_token``; the character span of ``span`` (a rule's meta)
    or, when not given, of ``meta_or_token`` itself."""
    source = span if span is not None and not getattr(span, "empty", False) else meta_or_token
    return ast.Pos(
        getattr(meta_or_token, "line", 1),
        getattr(meta_or_token, "column", 1),
        getattr(source, "start_pos", 0) or 0,
        getattr(source, "end_pos", 0) or 0,
    )


def _unquote(text: str) -> str:
    body = text[1:-1]
    if text[0] == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body)


@v_args(meta=True)
class _ToAst(Transformer[Token, ast.Node]):
    def start(self, meta: Any, children: list[ast.Node]) -> ast.Node:
        return children[0]

    def string(self, meta: Any, children: list[Token]) -> ast.Node:
        return ast.Literal(_unquote(str(children[0])), _pos(children[0]))

    def number(self, meta: Any, children: list[Token]) -> ast.Node:
        text = str(children[0])
        value: float | int = float(text) if any(c in text for c in ".eE") else int(text)
        return ast.Literal(value, _pos(children[0]))

    def duration(self, meta: Any, children: list[Token]) -> ast.Node:
        text = str(children[0])
        return ast.Duration(parse_duration(text) or 0.0, text, _pos(children[0]))

    def true(self, meta: Any, children: list[Any]) -> ast.Node:
        return ast.Literal(True, _pos(meta))

    def false(self, meta: Any, children: list[Any]) -> ast.Node:
        return ast.Literal(False, _pos(meta))

    def null(self, meta: Any, children: list[Any]) -> ast.Node:
        return ast.Literal(None, _pos(meta))

    def name(self, meta: Any, children: list[Token]) -> ast.Node:
        return ast.Field(tuple(str(c) for c in children), _pos(children[0], meta))

    def call(self, meta: Any, children: list[Any]) -> ast.Node:
        name_token, *args = children
        return ast.Call(str(name_token).lower(), tuple(args), _pos(name_token, meta))

    def value_list(self, meta: Any, children: list[ast.Node]) -> tuple[ast.Node, ...]:
        return tuple(children)

    def arith(self, meta: Any, children: list[Any]) -> ast.Node:
        left, op, right = children
        return ast.Arith(str(op), left, right, _pos(op, meta))

    def neg(self, meta: Any, children: list[Any]) -> ast.Node:
        minus, value = children
        number = isinstance(value, ast.Literal) and isinstance(value.value, int | float)
        if number and not isinstance(value.value, bool):
            return ast.Literal(-value.value, _pos(minus, meta))
        if isinstance(value, ast.Duration):
            return ast.Duration(-value.seconds, "-" + value.text, _pos(minus, meta))
        return ast.Arith("-", ast.Literal(0, _pos(minus)), value, _pos(minus, meta))

    def compare(self, meta: Any, children: list[Any]) -> ast.Node:
        left, op, right = children
        normal = {"==": "=", "<>": "!="}.get(str(op), str(op))
        return ast.Compare(normal, left, right, _pos(op, meta))

    def in_(self, meta: Any, children: list[Any]) -> ast.Node:
        return ast.In(children[0], children[1], False, _pos(meta))

    def not_in(self, meta: Any, children: list[Any]) -> ast.Node:
        return ast.In(children[0], children[1], True, _pos(meta))

    def between(self, meta: Any, children: list[Any]) -> ast.Node:
        return ast.Between(children[0], children[1], children[2], _pos(meta))

    def is_null(self, meta: Any, children: list[Any]) -> ast.Node:
        return ast.IsNull(children[0], False, _pos(meta))

    def is_not_null(self, meta: Any, children: list[Any]) -> ast.Node:
        return ast.IsNull(children[0], True, _pos(meta))

    def contains(self, meta: Any, children: list[Any]) -> ast.Node:
        return ast.Contains(children[0], children[1], _pos(meta))

    def and_expr(self, meta: Any, children: list[ast.Node]) -> ast.Node:
        return ast.And(tuple(children), _pos(meta))

    def or_expr(self, meta: Any, children: list[ast.Node]) -> ast.Node:
        return ast.Or(tuple(children), _pos(meta))

    def not_(self, meta: Any, children: list[ast.Node]) -> ast.Node:
        return ast.Not(children[0], _pos(meta))


def _syntax_error(rule_name: str, text: str, exc: UnexpectedInput) -> RuleError:
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedCharacters):
        found = text.splitlines()[line - 1][column - 1 : column] if text else ""
        what = f"unexpected character {found!r}"
        if found in {'"', "'"}:
            what = "a string that is never closed"
        expected: set[str] = set()
    elif isinstance(exc, UnexpectedEOF):
        what = "the rule ends too early"
        expected = set(exc.expected)
    elif isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            what = "the rule ends too early"
            line, column = _end_position(text)
        else:
            what = f"unexpected {str(token)!r}"
        expected = set(exc.expected)
    else:  # pragma: no cover - lark has no other kind
        what, expected = str(exc), set()
    words = sorted({_TERMINAL_WORDS.get(name, name.lower()) for name in expected})
    hint = f"; expected {', '.join(words[:8])}" if words else ""
    message = f"{rule_name} rule, line {line} column {column}: {what}{hint}"
    return RuleError(
        message,
        [
            ErrorDetail(
                f"{rule_name}:{line}:{column}",
                f"{what}{hint}",
                {"rule": rule_name, "line": line, "column": column},
            )
        ],
    )


def _end_position(text: str) -> tuple[int, int]:
    lines = text.splitlines() or [""]
    return len(lines), len(lines[-1]) + 1


def _depth(tree: Tree[Token] | Token, limit: int) -> int:
    stack: list[tuple[Tree[Token] | Token, int]] = [(tree, 1)]
    deepest = 0
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children)
    return deepest


def parse_rule(text: str, rule_name: str = "this") -> ast.Node:
    """Parse ``text``; raise ``RuleError`` naming line, column and what was expected."""
    if len(text) > MAX_RULE_CHARS:
        raise RuleError(
            f"{rule_name} rule is {len(text)} characters long; the limit is {MAX_RULE_CHARS}",
            [ErrorDetail(rule_name, f"longer than {MAX_RULE_CHARS} characters")],
        )
    if not text.strip():
        raise RuleError(
            f"{rule_name} rule is empty; write 'true' to match everything",
            [ErrorDetail(rule_name, "empty rule")],
        )
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(rule_name, text, exc) from None
    # Each level of nesting (parenthesised and/or, not, a call) adds a level or two to the
    # tree; the bound keeps compiling and evaluating far from Python's recursion limit.
    if _depth(tree, 3 * MAX_DEPTH) > 3 * MAX_DEPTH:
        raise RuleError(
            f"{rule_name} rule nests too deeply; simplify it",
            [ErrorDetail(rule_name, "nesting limit exceeded")],
        )
    return _ToAst().transform(tree)
