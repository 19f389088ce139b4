"""The column algebra rules compile to: constants and Polars expressions, combined with
exactly the closure compiler's semantics (``_equal``, ``_order``, ``_number`` in
``compiler.py`` are the reference; the comments say where Polars differs from Python and how
that is kept out). An operation without an exact column form raises ``Unsupported``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import polars as pl

from launchpoint.segments.columns import Const
from launchpoint.segments.compiler import _equal, _not_equal, _number, _order

VecKind = Literal["num", "str", "bool", "pred"]


class Unsupported(Exception):
    """No exact vectorised form for this construct; evaluate the rule with closures."""


@dataclass(frozen=True)
class Vec:
    """A column expression. ``pred``: a Python bool per row, never null (what comparisons,
    and/or/not give); the other kinds may be null, which is the closure's None."""

    kind: VecKind
    expr: pl.Expr
    nonfinite: bool = False  # num: may hold NaN (which Polars orders and equates unlike Python)


Value = Const | Vec


def _lit(value: Const | Vec) -> pl.Expr:
    return value.expr if isinstance(value, Vec) else pl.lit(value.value)


def _kind(value: Value) -> str:
    if isinstance(value, Vec):
        return "bool" if value.kind == "pred" else value.kind
    v = value.value
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "num"
    return "str" if isinstance(v, str) else "other"


def pred(expr: pl.Expr) -> Vec:
    return Vec("pred", expr.fill_null(False))


def and_(parts: Iterable[Value]) -> Value:
    exprs: list[pl.Expr] = []
    for part in parts:
        if isinstance(part, Const):
            if not part.value:
                return Const(False)
            continue
        exprs.append(part.expr)
    if not exprs:
        return Const(True)
    out = exprs[0]
    for expr in exprs[1:]:
        out = out & expr
    return Vec("pred", out)


def or_(parts: Iterable[Value]) -> Value:
    exprs: list[pl.Expr] = []
    for part in parts:
        if isinstance(part, Const):
            if part.value:
                return Const(True)
            continue
        exprs.append(part.expr)
    if not exprs:
        return Const(False)
    out = exprs[0]
    for expr in exprs[1:]:
        out = out | expr
    return Vec("pred", out)


def not_(value: Value) -> Value:
    return Const(not value.value) if isinstance(value, Const) else Vec("pred", ~value.expr)


def truth(value: Value) -> Value:
    """``bool(value)`` as and/or/not and a rule's result take it."""
    if isinstance(value, Const):
        return Const(bool(value.value))
    if value.kind == "pred":
        return value
    if value.kind == "bool":
        return pred(value.expr)
    if value.kind == "num":
        return pred(value.expr != 0)  # NaN is truthy in Python and != 0 in Polars
    return pred(value.expr.str.len_bytes() > 0)


def not_null(value: Value) -> Value:
    if isinstance(value, Const):
        return Const(value.value is not None)
    return Const(True) if value.kind == "pred" else Vec("pred", value.expr.is_not_null())


def _number_of(value: Value) -> Value:
    """What the closure's ``_number`` makes of ``value``."""
    if isinstance(value, Const):
        return Const(_number(value.value))
    if value.kind == "num":
        return value
    if value.kind in ("bool", "pred"):
        return Const(None)
    raise Unsupported("numbers written as text, from a column")


def _no_nan(expr: pl.Expr, *values: Value) -> pl.Expr:
    for value in values:
        if isinstance(value, Vec) and value.nonfinite:
            expr = expr & value.expr.is_not_nan()
    return expr


def _nan(value: Value) -> bool:
    v = value.value if isinstance(value, Const) else None
    return isinstance(v, float) and v != v


def arith(op: str, a: Value, b: Value) -> Value:
    na, nb = _number_of(a), _number_of(b)
    if isinstance(na, Const) and isinstance(nb, Const):
        if na.value is None or nb.value is None:
            return Const(None)
        return Const(na.value + nb.value if op == "+" else na.value - nb.value)
    if (isinstance(na, Const) and na.value is None) or (isinstance(nb, Const) and nb.value is None):
        return Const(None)
    expr = _lit(na) + _lit(nb) if op == "+" else _lit(na) - _lit(nb)
    return Vec("num", expr, nonfinite=True)  # inf - inf is NaN, whatever went in


def equal(a: Value, b: Value) -> Value:
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(_equal(a.value, b.value))
    ka, kb = _kind(a), _kind(b)
    if "null" in (ka, kb):
        return Const(False)
    if "other" in (ka, kb):
        raise Unsupported("a list or object constant")
    if "bool" in (ka, kb):
        if ka == kb:
            return pred(_lit(a) == _lit(b))
        flag, other = (a, b) if ka == "bool" else (b, a)
        if _kind(other) == "num":
            return Const(False)  # str(number).lower() is never 'true' or 'false'
        if isinstance(other, Const) and isinstance(flag, Vec):
            word = str(other.value).lower()
            if word == "true":
                return truth(flag)
            if word == "false":
                return pred(~flag.expr)
            return Const(False)
        raise Unsupported("booleans against text from a column")
    if ka == kb == "str":
        return pred(_lit(a) == _lit(b))
    if "str" in (ka, kb):
        text, number = (a, b) if ka == "str" else (b, a)
        if isinstance(text, Vec):
            raise Unsupported("numbers written as text, from a column")
        a, b = Const(_number(text.value)), number
        if a.value is None:
            return Const(False)
    a, b = _number_of(a), _number_of(b)  # literal ints as the floats they compare as
    if _nan(a) or _nan(b):
        return Const(False)
    return pred(_no_nan(_lit(a) == _lit(b), a, b))


def not_equal(a: Value, b: Value) -> Value:
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(_not_equal(a.value, b.value))
    return and_([not_null(a), not_null(b), not_(equal(a, b))])


_ORDERS: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y,
    ">": lambda x, y: x > y,
    ">=": lambda x, y: x >= y,
}


def order(op: str, a: Value, b: Value) -> Value:
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(_order(op, a.value, b.value))
    ka, kb = _kind(a), _kind(b)
    if "null" in (ka, kb) or "bool" in (ka, kb):
        return Const(False)
    if "other" in (ka, kb):
        raise Unsupported("a list or object constant")
    if ka == kb == "str":  # UTF-8 bytes order as Python orders code points
        return pred(_ORDERS[op](_lit(a), _lit(b)))
    if "str" in (ka, kb) and isinstance(a if ka == "str" else b, Vec):
        raise Unsupported("numbers written as text, from a column")
    a, b = _number_of(a), _number_of(b)
    if (isinstance(a, Const) and a.value is None) or (isinstance(b, Const) and b.value is None):
        return Const(False)
    if _nan(a) or _nan(b):
        return Const(False)
    return pred(_no_nan(_ORDERS[op](_lit(a), _lit(b)), a, b))


def compare(op: str, a: Value, b: Value) -> Value:
    if op == "=":
        return equal(a, b)
    if op == "!=":
        return not_equal(a, b)
    return order(op, a, b)


def in_(left: Value, options: list[Value], negated: bool) -> Value:
    texts = [o.value for o in options if isinstance(o, Const) and isinstance(o.value, str)]
    if isinstance(left, Vec) and left.kind == "str" and options and len(texts) == len(options):
        found: Value = pred(left.expr.is_in(pl.Series(texts, dtype=pl.String).implode()))
    else:
        found = or_(equal(left, option) for option in options)
    return and_([not_null(left), not_(found)]) if negated else found


def contains(container: Value, member: Value) -> Value:
    if isinstance(container, Const):
        if isinstance(container.value, str | list):
            raise Unsupported("contains with its member from a column")
        return Const(False)
    if container.kind != "str" or _kind(member) == "null":
        return Const(False)
    raise Unsupported("contains on text from a column")  # Python's lower() is the reference
