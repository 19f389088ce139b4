"""Check a parsed rule against what a workspace knows, and compile it into a closure.

A compiled rule is evaluated over a *row view*: a mapping from field name to value (a user's
attributes, an item's attributes) plus, for user rules, the values of its behavioural
aggregates. Missing values behave as in SQL WHERE: any comparison with them is false.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from typing import Literal as TLiteral

from launchpoint.domain.timeutil import to_epoch
from launchpoint.errors import ErrorDetail, RuleError
from launchpoint.segments import ast
from launchpoint.segments.parser import parse_duration, parse_rule

RuleKind = TLiteral["users", "items"]
Row = Mapping[str, Any]
Evaluator = Callable[[Row], Any]

USER_BUILTINS = frozenset({"id", "created_at"})
ITEM_BUILTINS = frozenset(
    {"id", "title", "text", "categories", "available", "created_at", "sensitive"}
)
EVENT_FIELDS = frozenset({"event", "type", "value", "item_id"})
# Aggregates over the user's own events, each taking the same arguments: conditions on the
# event and its item, and an optional `within = <duration>`.
AGGREGATES = {
    "count": "the number of matching events",
    "sum": "the sum of the matching events' values",
    "distinct": "the number of distinct items among the matching events",
    "first_seen": "the time of the first matching event (null if none)",
    "last_seen": "the time of the latest matching event (null if none)",
}
NUMERIC_AGGREGATES = frozenset({"count", "sum", "distinct"})
FUNCTIONS = (*AGGREGATES, "now", "affinity", "segment")
MAX_AGGREGATES = 20
NOW_KEY = "@now"  # rows carry the evaluation time under this key


def affinity_key(category: str) -> str:
    return f"@affinity:{category}"


def segment_key(segment_id: str) -> str:
    return f"@segment:{segment_id}"


@dataclass(frozen=True)
class Aggregate:
    """``count(conditions, within=...)`` and its kin over one user's events. ``key`` names its
    value in a user row (``"@" + canonical text``) so identical aggregates are computed once."""

    key: str
    condition: Evaluator | None  # evaluated on an event row: event fields + its item's fields
    window_seconds: float | None
    uses_value: bool = False  # whether the condition reads the event's value
    kind: str = "count"  # one of AGGREGATES


@dataclass(frozen=True)
class CompiledRule:
    kind: RuleKind
    source: str
    node: ast.Node
    evaluate: Evaluator
    aggregates: tuple[Aggregate, ...]
    affinities: tuple[str, ...] = ()  # categories named by affinity('...')
    segments: tuple[str, ...] = ()  # segment ids named by segment('...')

    def matches(self, row: Row) -> bool:
        return bool(self.evaluate(row))


@dataclass(frozen=True)
class RuleSchema:
    """The fields a rule may name. ``None`` means not known yet (an empty workspace): then
    any name is accepted and simply finds nothing."""

    user_fields: Collection[str] | None = None
    item_fields: Collection[str] | None = None


class _Checker:
    def __init__(self, kind: RuleKind, source: str, schema: RuleSchema) -> None:
        self.kind = kind
        self.source = source
        self.schema = schema
        self.errors: list[ErrorDetail] = []
        self.aggregates: dict[str, Aggregate] = {}
        self.affinities: set[str] = set()
        self.segments: set[str] = set()

    def fail(self, pos: ast.Pos, message: str) -> None:
        self.errors.append(
            ErrorDetail(
                f"{self.kind}:{pos.line}:{pos.column}",
                message,
                {"rule": self.kind, "line": pos.line, "column": pos.column},
            )
        )

    def check_field(self, node: ast.Field, scope: str) -> None:
        head = node.path[0]
        if scope == "event":
            if head in EVENT_FIELDS and len(node.path) == 1:
                return
            if head == "item" and len(node.path) > 1:
                self._known(
                    node.pos, node.path[1], ITEM_BUILTINS, self.schema.item_fields, "item field"
                )
            else:
                self._known(
                    node.pos,
                    head,
                    ITEM_BUILTINS | EVENT_FIELDS,
                    self.schema.item_fields,
                    "event or item field",
                )
            return
        if head in {"event", "item"} and self.kind == "users":
            self.fail(node.pos, f"{node.dotted!r} only means something inside count(...)")
            return
        if self.kind == "users":
            self._known(node.pos, head, USER_BUILTINS, self.schema.user_fields, "user field")
        else:
            self._known(node.pos, head, ITEM_BUILTINS, self.schema.item_fields, "item field")

    def _known(
        self,
        pos: ast.Pos,
        name: str,
        builtins: frozenset[str],
        observed: Collection[str] | None,
        what: str,
    ) -> None:
        if name in builtins or observed is None or name in observed:
            return
        choices = sorted(set(builtins) | set(observed))
        close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(choices[:12])}"
        self.fail(pos, f"unknown {what} {name!r}{hint}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        if _DATE.match(value):  # a date or time compares with times, which are epoch seconds
            try:
                return to_epoch(value)
            except ValueError:
                return None
    return None


def _arith(op: str, a: Any, b: Any) -> float | None:
    na, nb = _number(a), _number(b)
    if na is None or nb is None:
        return None
    return na + nb if op == "+" else na - nb


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        if isinstance(a, bool) and isinstance(b, bool):
            return a is b
        return str(a).lower() == str(b).lower()
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na == nb
    return bool(a == b)


def _not_equal(a: Any, b: Any) -> bool:
    return a is not None and b is not None and not _equal(a, b)


def _order(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if not (isinstance(a, str) and isinstance(b, str)):
        na, nb = _number(a), _number(b)
        if na is None or nb is None:
            return False
        a, b = na, nb
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _in(value: Any, options: list[Any]) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(_equal(v, o) for v in values for o in options)


def _contains(container: Any, member: Any) -> bool:
    if isinstance(container, list):
        return any(_equal(v, member) for v in container)
    if isinstance(container, str) and member is not None:
        return str(member).lower() in container.lower()
    return False


def _lookup(path: tuple[str, ...]) -> Evaluator:
    head, rest = path[0], path[1:]

    def get(row: Row) -> Any:
        value = row.get(head)
        for part in rest:
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    return get


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class _Compiler:
    def __init__(self, checker: _Checker) -> None:
        self.checker = checker

    def compile(self, node: ast.Node, scope: str = "row") -> Evaluator:
        match node:
            case ast.Literal(value=value):
                return lambda row: value
            case ast.Duration(pos=pos, text=text, seconds=seconds):
                if scope != "arith":
                    self.checker.fail(
                        pos,
                        f"a duration ({text}) fits in arithmetic (now() - {text}) or in "
                        f"count(..., within = {text})",
                    )
                return lambda row: seconds
            case ast.Arith(op=op, left=left, right=right):
                inner = "arith" if scope in ("row", "arith") else scope
                lf, rf = self.compile(left, inner), self.compile(right, inner)
                return lambda row: _arith(op, lf(row), rf(row))
            case ast.Field():
                self.checker.check_field(node, "row" if scope == "arith" else scope)
                path = node.path
                if scope == "event" and path[0] == "item" and len(path) > 1:
                    path = path[1:]
                elif scope == "event" and path == ("type",):
                    path = ("event",)
                return _lookup(path)
            case ast.Call():
                return self.call(node, scope)
            case ast.Compare(op=op, left=left, right=right):
                lf, rf = self.compile(left, scope), self.compile(right, scope)
                self.check_operands(node, left, right)
                if op == "=":
                    return lambda row: _equal(lf(row), rf(row))
                if op == "!=":
                    return lambda row: _not_equal(lf(row), rf(row))
                return lambda row: _order(op, lf(row), rf(row))
            case ast.In(left=left, options=options, negated=negated):
                lf = self.compile(left, scope)
                ofs = [self.compile(o, scope) for o in options]
                if negated:
                    return lambda row: (
                        (v := lf(row)) is not None and not _in(v, [f(row) for f in ofs])
                    )
                return lambda row: _in(lf(row), [f(row) for f in ofs])
            case ast.Between(value=value, low=low, high=high):
                vf, lo, hi = (self.compile(n, scope) for n in (value, low, high))
                return lambda row: _order(">=", v := vf(row), lo(row)) and _order("<=", v, hi(row))
            case ast.IsNull(value=value, negated=negated):
                vf = self.compile(value, scope)
                if negated:
                    return lambda row: vf(row) is not None
                return lambda row: vf(row) is None
            case ast.Contains(container=container, member=member):
                cf, mf = self.compile(container, scope), self.compile(member, scope)
                return lambda row: _contains(cf(row), mf(row))
            case ast.And(parts=parts):
                fs = [self.compile(p, scope) for p in parts]
                return lambda row: all(f(row) for f in fs)
            case ast.Or(parts=parts):
                fs = [self.compile(p, scope) for p in parts]
                return lambda row: any(f(row) for f in fs)
            case ast.Not(value=value):
                vf = self.compile(value, scope)
                return lambda row: not vf(row)
        raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover

    def check_operands(self, node: ast.Compare, left: ast.Node, right: ast.Node) -> None:
        for a, b in ((left, right), (right, left)):
            if (
                isinstance(a, ast.Call)
                and a.name in NUMERIC_AGGREGATES
                and isinstance(b, ast.Literal)
                and (isinstance(b.value, bool) or not isinstance(b.value, int | float))
            ):
                self.checker.fail(
                    b.pos,
                    f"{a.name}(...) is a number; compare it with a number, not {_show(b.value)}",
                )

    def call(self, node: ast.Call, scope: str) -> Evaluator:
        checker = self.checker
        if node.name not in FUNCTIONS:
            close = difflib.get_close_matches(node.name, FUNCTIONS, n=1)
            hint = (
                f" (did you mean {close[0]!r}?)"
                if close
                else f"; available: {', '.join(FUNCTIONS)}"
            )
            checker.fail(node.pos, f"unknown function {node.name!r}{hint}")
            return lambda row: None
        if node.name == "now":
            if node.args:
                checker.fail(node.pos, "now() takes no arguments")
            return lambda row: row.get(NOW_KEY)
        if node.name in ("affinity", "segment"):
            return self.named_value(node, scope)
        name = node.name
        if checker.kind != "users":
            checker.fail(node.pos, f"{name}(...) reads a user's events; it only fits user rules")
            return lambda row: None
        if scope == "event":
            checker.fail(node.pos, f"{name}(...) cannot be nested inside another aggregate")
            return lambda row: None
        window: float | None = None
        conditions: list[ast.Node] = []
        for arg in node.args:
            if (
                isinstance(arg, ast.Compare)
                and isinstance(arg.left, ast.Field)
                and arg.left.path == ("within",)
            ):
                window = self._window(arg)
            else:
                conditions.append(arg)
        condition: Evaluator | None = None
        if conditions:
            combined = (
                conditions[0] if len(conditions) == 1 else ast.And(tuple(conditions), node.pos)
            )
            condition = self.compile(combined, "event")
        key = aggregate_key(node)
        if key not in checker.aggregates and len(checker.aggregates) >= MAX_AGGREGATES:
            checker.fail(node.pos, f"a rule may use at most {MAX_AGGREGATES} different aggregates")
        uses_value = any(
            isinstance(n, ast.Field) and n.path in (("value",), ("item", "value"))
            for c in conditions
            for n in ast.walk(c)
        )
        checker.aggregates.setdefault(key, Aggregate(key, condition, window, uses_value, name))
        if name in NUMERIC_AGGREGATES:
            return lambda row: row.get(key, 0)
        return lambda row: row.get(key)

    def named_value(self, node: ast.Call, scope: str) -> Evaluator:
        """affinity('category'): the user's interest in it, 0 to 1. segment('id'): whether the
        user is a member of that segment (true or false)."""
        checker = self.checker
        name = node.name
        argument = node.args[0] if len(node.args) == 1 else None
        if not (isinstance(argument, ast.Literal) and isinstance(argument.value, str)):
            checker.fail(node.pos, f"{name}(...) takes one quoted name, e.g. {name}('growth')")
            return lambda row: None
        if checker.kind != "users" or scope == "event":
            checker.fail(node.pos, f"{name}(...) describes a user; it only fits user rules")
            return lambda row: None
        if name == "affinity":
            checker.affinities.add(argument.value)
            key = affinity_key(argument.value)
            return lambda row: row.get(key, 0.0)
        checker.segments.add(argument.value)
        key = segment_key(argument.value)
        return lambda row: bool(row.get(key, False))

    def _window(self, arg: ast.Compare) -> float | None:
        right = arg.right
        seconds: float | None = None
        if arg.op == "=" and isinstance(right, ast.Duration):
            seconds = right.seconds
        elif arg.op == "=" and isinstance(right, ast.Literal) and isinstance(right.value, str):
            seconds = parse_duration(right.value)
        if not seconds or seconds <= 0:
            self.checker.fail(
                arg.pos, "within must be a positive duration such as '30d', '12h' or '2w'"
            )
            return None
        return seconds


def aggregate_key(node: ast.Call) -> str:
    """The name under which a row carries this aggregate's value."""
    return "@" + _canonical(node)


def compile_node(node: ast.Node, kind: RuleKind, source: str, schema: RuleSchema) -> Evaluator:
    """One node of a parsed rule as its own evaluator (explanations evaluate clause by clause)."""
    return _Compiler(_Checker(kind, source, schema)).compile(node)


def _show(value: Any) -> str:
    """A literal as the rule language writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _canonical(node: ast.Node) -> str:
    """A stable text for a node with positions dropped: equal aggregates share one key."""
    return repr(_strip(node))


def _strip(node: Any) -> Any:
    if isinstance(node, ast.Pos):
        return None
    if isinstance(node, tuple):
        return tuple(_strip(n) for n in node)
    if hasattr(node, "__dataclass_fields__"):
        return (
            type(node).__name__,
            *(_strip(getattr(node, f)) for f in node.__dataclass_fields__ if f != "pos"),
        )
    return node


def compile_rule(text: str, kind: RuleKind, schema: RuleSchema | None = None) -> CompiledRule:
    """Parse, check and compile ``text``; every problem found is reported at once."""
    node = parse_rule(text, kind)
    checker = _Checker(kind, text, schema or RuleSchema())
    evaluate = _Compiler(checker).compile(node)
    if checker.errors:
        first = checker.errors[0]
        more = f" (and {len(checker.errors) - 1} more)" if len(checker.errors) > 1 else ""
        raise RuleError(
            f"{kind} rule, line {first.extra['line']} column "
            f"{first.extra['column']}: {first.message}{more}",
            checker.errors,
        )
    return CompiledRule(
        kind,
        text,
        node,
        evaluate,
        tuple(checker.aggregates.values()),
        tuple(sorted(checker.affinities)),
        tuple(sorted(checker.segments)),
    )
