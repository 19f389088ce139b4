"""A rule's syntax tree compiled to one Polars expression over typed columns, meaning exactly
what the closure compiler (``compiler.py``, the reference) means.

Three ways a clause is answered, tried in this order:

1. natively, when its operands' kinds make the closure's semantics a plain column operation
   (numbers against numbers, strings against strings, booleans, null tests, and/or/not);
2. by lookup, when the clause reads one column only: the reference closure runs once per
   distinct value of that column and the answer goes back to every row by ``is_in``. This is
   what makes mixed kinds in a field, lists, nested objects, dates written as text and
   ``contains`` exact without re-implementing the closure's coercions;
3. not at all: ``Unsupported`` is raised and the caller evaluates that rule with closures.

Nothing here ever holds a row; sources (fields, engine values) come from a ``Scope``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import polars as pl

from launchpoint.segments import ast
from launchpoint.segments.columns import Column, Const
from launchpoint.segments.compiler import (
    AGGREGATES,
    NOW_KEY,
    NUMERIC_AGGREGATES,
    RuleKind,
    RuleSchema,
    affinity_key,
    aggregate_key,
    compile_node,
    segment_key,
)
from launchpoint.segments.vector_ops import (
    Unsupported,
    Value,
    Vec,
    and_,
    arith,
    compare,
    contains,
    in_,
    not_,
    not_null,
    or_,
    order,
    pred,
    truth,
)

__all__ = ["Scope", "Source", "Unsupported", "Value", "Vec", "VectorCompiler", "sources"]
# ("field", path) or ("value", key, default): what a row lookup of the closure reads.
Source = tuple[Any, ...]
_PREDICATES = (ast.Compare, ast.In, ast.Between, ast.IsNull, ast.Contains, ast.And, ast.Or, ast.Not)
_DTYPES: dict[str, pl.DataType] = {
    "num": pl.Float64(),
    "str": pl.String(),
    "bool": pl.Boolean(),
    "obj": pl.Int32(),
}


class Scope(Protocol):
    """Where a rule's sources come from: a column, or a value every row shares."""

    @property
    def kind(self) -> RuleKind: ...

    def resolve(self, source: Source) -> Column | Const: ...


def event_row_scope(node: ast.Node) -> ast.Node:
    """An event condition with its fields renamed as the closure reads them (``item.x`` is
    ``x``, ``type`` is ``event``), so it compiles like a row rule over event + item rows."""
    if isinstance(node, ast.Field):
        if node.path[0] == "item" and len(node.path) > 1:
            return dataclasses.replace(node, path=node.path[1:])
        if node.path == ("type",):
            return dataclasses.replace(node, path=("event",))
        return node
    changes: dict[str, Any] = {}
    for name in ("args", "options", "parts"):
        if hasattr(node, name):
            changes[name] = tuple(event_row_scope(n) for n in getattr(node, name))
    for name in ("left", "right", "value", "low", "high", "container", "member"):
        child = getattr(node, name, None)
        if dataclasses.is_dataclass(child) and not isinstance(child, ast.Pos):
            changes[name] = event_row_scope(child)  # type: ignore[arg-type]
    return dataclasses.replace(node, **changes) if changes else node


def _children(node: ast.Node) -> tuple[ast.Node, ...]:
    match node:
        case ast.Call():
            return ()  # an aggregate's arguments are event conditions, not this row's fields
        case ast.Compare(left=a, right=b) | ast.Contains(container=a, member=b):
            return (a, b)
        case ast.Arith(left=a, right=b):
            return (a, b)
        case ast.In(left=a, options=opts):
            return (a, *opts)
        case ast.Between(value=a, low=b, high=c):
            return (a, b, c)
        case ast.IsNull(value=a) | ast.Not(value=a):
            return (a,)
        case ast.And(parts=parts) | ast.Or(parts=parts):
            return parts
    return ()


def call_source(node: ast.Call) -> Source:
    if node.name == "now":
        return ("field", (NOW_KEY,))
    if node.name in AGGREGATES:
        return ("value", aggregate_key(node), 0 if node.name in NUMERIC_AGGREGATES else None)
    argument = node.args[0] if len(node.args) == 1 else None
    if not (isinstance(argument, ast.Literal) and isinstance(argument.value, str)):
        raise Unsupported(f"{node.name}(...) without one quoted name")
    if node.name == "affinity":
        return ("value", affinity_key(argument.value), 0.0)
    return ("value", segment_key(argument.value), False)


def sources(node: ast.Node) -> set[Source]:
    """Every row key the closure of ``node`` reads."""
    out: set[Source] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Field):
            out.add(("field", current.path))
        elif isinstance(current, ast.Call):
            out.add(call_source(current))
        stack.extend(_children(current))
    return out


def _row(assigned: Mapping[Source, Any]) -> dict[str, Any]:
    """A row holding each source's value where the closure will look for it."""
    row: dict[str, Any] = {}
    paths = sorted(s[1] for s in assigned if s[0] == "field")
    for shorter, longer in itertools.pairwise(paths):
        if longer[: len(shorter)] == shorter:
            raise Unsupported("a field and a field inside it in one clause")
    for source, value in assigned.items():
        if source[0] == "value":
            row[source[1]] = value
            continue
        *parents, last = source[1]
        target = row
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return row


def _reads_as_text(node: ast.Node, source: Source) -> bool:
    """Whether ``node`` turns the source's value into text (``'...' contains field``)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Contains) and source in sources(current.member):
            return True
        stack.extend(_children(current))
    return False


class VectorCompiler:
    """Compiles rules against one scope; ``columns`` collects every column the expressions
    read, for the caller to put in the frame."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.columns: dict[str, Column] = {}
        self._closures: dict[ast.Node, Callable[[Mapping[str, Any]], Any]] = {}

    def rule(self, node: ast.Node) -> Value:
        """Whether each row matches: ``Const(bool)`` or a ``pred`` Vec. Raises Unsupported."""
        return self.truth(node)

    def truth(self, node: ast.Node) -> Value:
        fixed, variable = self._split(node)
        if not variable:
            return Const(bool(self._closure(node)(_row(fixed))))
        try:
            return truth(self._native(node))
        except Unsupported:
            return self._lookup(node, fixed, variable)

    def value(self, node: ast.Node) -> Value:
        fixed, variable = self._split(node)
        if not variable:
            return Const(self._closure(node)(_row(fixed)))
        try:
            return self._native(node)
        except Unsupported:
            if not isinstance(node, _PREDICATES):  # only predicates are sure to give bools
                raise
            return self._lookup(node, fixed, variable)

    def _split(self, node: ast.Node) -> tuple[dict[Source, Any], dict[Source, Column]]:
        fixed: dict[Source, Any] = {}
        variable: dict[Source, Column] = {}
        for source in sources(node):
            found = self.scope.resolve(source)
            if isinstance(found, Const):
                fixed[source] = found.value
            else:
                variable[source] = found
        return fixed, variable

    def _closure(self, node: ast.Node) -> Callable[[Mapping[str, Any]], Any]:
        closure = self._closures.get(node)
        if closure is None:
            closure = self._closures[node] = compile_node(node, self.scope.kind, "", RuleSchema())
        return closure

    def _lookup(
        self, node: ast.Node, fixed: dict[Source, Any], variable: dict[Source, Column]
    ) -> Value:
        """The clause's truth for every distinct value of the one column it reads."""
        if len(variable) != 1:
            raise Unsupported("a clause that no column operation expresses reads two columns")
        ((source, column),) = variable.items()
        if column.kind == "num" and not column.str_exact and _reads_as_text(node, source):
            raise Unsupported("text of numbers whose ints and floats are mixed")
        closure = self._closure(node)
        assigned = dict(fixed)
        hits: list[Any] = []
        misses: list[Any] = []
        null_hit = False
        has_null = False
        for raw, value in lookup_values(column):
            assigned[source] = value
            hit = bool(closure(_row(assigned)))
            if raw is None:
                has_null, null_hit = True, hit
            else:
                (hits if hit else misses).append(raw)
        if not hits and not null_hit:
            return Const(False)
        if not misses and (null_hit or not has_null):
            return Const(True)
        self.columns[column.name] = column
        expr = pl.col(column.name)
        dtype = _DTYPES[column.kind]
        if len(hits) <= len(misses):
            expr = expr.is_in(pl.Series(hits, dtype=dtype).implode())
        else:
            expr = ~expr.is_in(pl.Series(misses, dtype=dtype).implode())
        return pred(expr) if not null_hit else Vec("pred", expr.fill_null(True))

    def _column(self, source: Source) -> Value:
        found = self.scope.resolve(source)
        if isinstance(found, Const):
            return found
        if found.kind == "obj":
            raise Unsupported("a field of mixed kinds, lists or objects")
        self.columns[found.name] = found
        return Vec(found.kind, pl.col(found.name), found.nonfinite)

    def _native(self, node: ast.Node) -> Value:
        match node:
            case ast.Literal(value=value):
                return Const(value)
            case ast.Duration(seconds=seconds):
                return Const(seconds)
            case ast.Field(path=path):
                return self._column(("field", path))
            case ast.Call(name=name):
                found = self._column(call_source(node))
                return truth(found) if name == "segment" else found
            case ast.Arith(op=op, left=left, right=right):
                return arith(op, self.value(left), self.value(right))
            case ast.Compare(op=op, left=left, right=right):
                return compare(op, self.value(left), self.value(right))
            case ast.In(left=left, options=options, negated=negated):
                return in_(self.value(left), [self.value(o) for o in options], negated)
            case ast.Between(value=value, low=low, high=high):
                v = self.value(value)
                return and_([order(">=", v, self.value(low)), order("<=", v, self.value(high))])
            case ast.IsNull(value=value, negated=negated):
                v = self.value(value)
                found = not_null(v)
                return found if negated else not_(found)
            case ast.Contains(container=container, member=member):
                return contains(self.value(container), self.value(member))
            case ast.And(parts=parts):
                return and_(self.truth(p) for p in parts)
            case ast.Or(parts=parts):
                return or_(self.truth(p) for p in parts)
            case ast.Not(value=value):
                return not_(self.truth(value))
        raise Unsupported(f"no vectorised form for {type(node).__name__}")  # pragma: no cover


def lookup_values(column: Column) -> list[tuple[Any, Any]]:
    """(what the column stores, what the rows held) for every distinct value; the stored
    value is None where the rows held None (obj columns store -1 for it)."""
    if column.kind == "obj":
        pairs: list[tuple[Any, Any]] = list(enumerate(column.objects))
        if bool((column.series == -1).any()):
            pairs.append((-1, None))
        return pairs
    stored = column.series.unique().to_list()
    if column.kind == "num" and column.int_valued:
        return [(v, None if v is None else int(v)) for v in stored]
    return [(v, v) for v in stored]
