"""Rows (user or item attributes, as the closure path reads them) turned into typed Polars
columns, one per field a rule names, built on first use and shared by every rule.

A column holds exactly what the rows held. Values of one Python kind become a native column
(numbers as Float64, which is what the rule language compares them as; strings; booleans).
Anything else (kinds mixed in one field, lists, nested objects, NaN-free floats beyond 2**53)
is dictionary-encoded: one code per row and the distinct Python objects, so a rule clause that
reads only that field can be answered once per distinct value, by the reference closure itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

ColumnKind = Literal["num", "str", "bool", "obj"]
FloatArray = npt.NDArray[np.float64]

# Above this a float no longer holds every integer, so an int column could not give back the
# values it was built from.
_EXACT_INT = 2**53
_NONE = type(None)


@dataclass(frozen=True)
class Const:
    """A value that is the same for every row (a literal, or a column holding one value)."""

    value: Any


@dataclass(frozen=True)
class Column:
    """One field over all rows. ``series``: Float64 (num), String (str), Boolean (bool), or
    Int32 codes into ``objects`` with -1 for a missing value (obj)."""

    name: str
    kind: ColumnKind
    series: pl.Series
    objects: tuple[Any, ...] = ()
    int_valued: bool = False  # num: every value was a Python int
    # num: str() of the value a distinct-value lookup sees is what str() of the row's own value
    # was (False when ints and floats mix in the field, or a float is -0.0). Only
    # `'text' contains field` reads str() of a number.
    str_exact: bool = True
    nonfinite: bool = False  # num: NaN or an infinity occurs


def dig(row: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` as the compiled rule's lookup reads it (None past a non-object)."""
    return inside(row.get(path[0]), path[1:])


def inside(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        # type() first: isinstance against the Mapping ABC is slow, and JSON gives dicts.
        if type(value) is dict or isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
    return value


def column_from_values(name: str, values: Sequence[Any]) -> Column | Const:
    kinds = set(map(type, values))
    if kinds <= {_NONE}:
        return Const(None)
    if len(kinds) == 1 and kinds <= {str, int, bool, float}:
        # One value in every row (the evaluation time, say) is found without building a
        # column; list.count compares with ==, so one kind only, and no 0.0 that may be -0.0.
        first = values[0]
        if first != 0 and values.count(first) == len(values):
            return Const(first)
    column: Column | None = None
    if kinds <= {str, _NONE}:
        column = Column(name, "str", pl.Series(name, values, dtype=pl.String))
    elif kinds <= {bool, _NONE}:
        column = Column(name, "bool", pl.Series(name, values, dtype=pl.Boolean))
    elif kinds <= {int, float, _NONE}:
        column = _numbers(name, values, kinds)
    if column is None:
        column = _encoded(name, values)
    return _constant(column) or column


def column_from_floats(name: str, array: FloatArray) -> Column | Const:
    """A column of engine values (aggregates, affinities, memberships): NaN means no value,
    as the closure path reads it."""
    series = pl.Series(name, np.asarray(array, dtype=np.float64)).fill_nan(None)
    column = Column(name, "num", series, nonfinite=bool(np.isinf(array).any()))
    return _constant(column) or column


def _numbers(name: str, values: Sequence[Any], kinds: set[type]) -> Column | None:
    has_int, has_float = int in kinds, float in kinds
    try:
        series = pl.Series(name, values, dtype=pl.Float64, strict=True)
    except (TypeError, OverflowError, pl.exceptions.PolarsError):
        return None
    array = series.to_numpy()  # nulls read as NaN here: only used where NaN cannot matter
    if has_int and len(array) and np.nanmax(np.abs(array), initial=0.0) >= _EXACT_INT:
        return None
    negative_zero = bool(np.any((array == 0) & np.signbit(array)))
    return Column(
        name,
        "num",
        series,
        int_valued=has_int and not has_float,
        str_exact=not (has_int and has_float) and not negative_zero,
        nonfinite=bool(series.is_nan().any()) or bool(series.is_infinite().any()),
    )


def _key(value: Any) -> Any:
    """A dict key that tells apart what the rule language tells apart: the type (1, 1.0 and
    True are one key in Python, not one value here), order inside lists and objects, and
    -0.0 from 0.0. Fast for the common cases (text, numbers, lists of scalars); may be
    unhashable, in which case ``_deep_key`` is used."""
    kind = type(value)
    if kind is str:
        return value
    if kind is list:
        types = tuple(map(type, value))
        if float not in types:
            return (list, tuple(value), types)
        return _deep_key(value)
    if kind is float:
        return (kind, value, math.copysign(1.0, value))
    if kind is tuple:
        return _deep_key(value)
    return (kind, value)


def _deep_key(value: Any) -> Any:
    kind = type(value)
    if kind is list or kind is tuple:
        return (kind, tuple(_deep_key(v) for v in value))  # a 2-tuple: never a fast list key
    if isinstance(value, Mapping):
        return (dict, tuple((k, _deep_key(v)) for k, v in value.items()))
    if kind is float:
        return (kind, value, math.copysign(1.0, value))
    try:
        hash(value)
    except TypeError:
        return (id, id(value))
    return (kind, value)


def _encoded(name: str, values: Sequence[Any]) -> Column:
    index: dict[Any, int] = {}
    objects: list[Any] = []
    codes: list[int] = []
    append = codes.append
    for value in values:
        if value is None:
            append(-1)
            continue
        key = _key(value)
        try:
            code = index.get(key)
        except TypeError:  # a list holding lists or objects, an object, ...
            key = _deep_key(value)
            code = index.get(key)
        if code is None:
            code = index[key] = len(objects)
            objects.append(value)
        append(code)
    series = pl.Series(name, np.asarray(codes, dtype=np.int32))
    return Column(name, "obj", series, tuple(objects))


def _constant(column: Column) -> Const | None:
    """The one value every row holds, if they all hold one (and it reads back exactly)."""
    series = column.series
    if len(series) == 0:
        return None
    if column.kind == "obj":
        if len(column.objects) == 1 and not bool((series == -1).any()):
            return Const(column.objects[0])
        return None
    if not column.str_exact or series.null_count() not in (0, len(series)):
        return None
    if series.n_unique() != 1:
        return None
    value = series[0]
    if column.kind == "num" and column.int_valued and value is not None:
        value = int(value)
    return Const(value)


class RowTable:
    """The columns of a list of rows, built once per field and kept. ``prefix`` keeps the
    column names of different tables apart inside one frame."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], prefix: str) -> None:
        self.rows = rows
        self.prefix = prefix
        self._fields: dict[tuple[str, ...], Column | Const] = {}
        self._arrays: dict[str, tuple[FloatArray, Column | Const]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def field(self, path: tuple[str, ...]) -> Column | Const:
        found = self._fields.get(path)
        if found is None:
            self.prefetch([path])
            found = self._fields[path]
        return found

    def prefetch(self, paths: Iterable[tuple[str, ...]]) -> None:
        """Build the columns of ``paths`` not built yet, reading every row once for all of
        them (one row's fields after another is far kinder to the cache than one field over
        all rows after another)."""
        wanted = [p for p in dict.fromkeys(paths) if p not in self._fields]
        if not wanted:
            return
        heads = list(dict.fromkeys(p[0] for p in wanted))
        if len(heads) == 1:
            head = heads[0]
            columns = [[row.get(head) for row in self.rows]]
        else:
            columns = [[] for _ in heads]
            appends = [c.append for c in columns]
            for row in self.rows:
                get = row.get
                for append, name in zip(appends, heads, strict=True):
                    append(get(name))
        by_head = dict(zip(heads, columns, strict=True))
        for path in wanted:
            values = by_head[path[0]]
            if len(path) > 1:
                rest = path[1:]
                values = [inside(v, rest) for v in values]
            name = f"{self.prefix}f{len(self._fields)}"
            self._fields[path] = column_from_values(name, values)

    def array(self, key: str, values: FloatArray) -> Column | Const:
        """The column of an engine value, rebuilt only when its array is replaced."""
        cached = self._arrays.get(key)
        if cached is not None and cached[0] is values:
            return cached[1]
        if len(values) != len(self.rows):
            raise ValueError(f"{key}: {len(values)} values for {len(self.rows)} rows")
        column = column_from_floats(f"{self.prefix}v{len(self._arrays)}", values)
        self._arrays[key] = (values, column)
        return column
