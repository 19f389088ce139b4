"""Rows become columns that give back exactly what the rows held."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from launchpoint.segments.columns import Column, Const, RowTable, column_from_floats
from launchpoint.segments.vectorised import lookup_values


def build(values: list[Any]) -> Column | Const:
    table = RowTable([{"f": v} for v in values], "t")
    return table.field(("f",))


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["a", None, "b"], "str"),
        ([1, None, 2], "num"),
        ([1, 2.5], "num"),
        ([True, None, False], "bool"),
        ([1, "1"], "obj"),
        ([1, True], "obj"),  # bool is not a number here
        ([["a"], None], "obj"),
        ([{"x": 1}, None], "obj"),
        ([2**60, 1], "obj"),  # ints a float cannot hold
    ],
)
def test_kinds(values: list[Any], kind: str) -> None:
    column = build(values)
    assert isinstance(column, Column) and column.kind == kind


def test_a_field_every_row_holds_once_is_a_constant() -> None:
    assert build(["x", "x"]) == Const("x")
    assert build([None, None]) == Const(None)
    assert build([3, 3]) == Const(3)
    assert isinstance(build([3, 3.0]), Column)  # 3 and 3.0 print differently


def test_distinct_values_keep_their_kinds() -> None:
    column = build([1, 1.0, True, "1", [1], [1.0], [True], -0.0, 0.0, None, [1]])
    assert isinstance(column, Column)
    held = [v for _, v in lookup_values(column)]
    assert len(held) == 10  # [1] twice is one value; everything else is its own
    assert [type(v) for v in held[:4]] == [int, float, bool, str]
    assert math.copysign(1.0, held[7]) == -1.0


def test_int_columns_give_back_ints_and_flag_mixed_numbers() -> None:
    ints = build([1, 2, None])
    assert isinstance(ints, Column) and ints.int_valued and ints.str_exact
    assert sorted(v for _, v in lookup_values(ints) if v is not None) == [1, 2]
    mixed = build([1, 2.5])
    assert isinstance(mixed, Column) and not mixed.int_valued and not mixed.str_exact


def test_nested_paths_and_one_pass_for_many_fields() -> None:
    rows = [{"a": {"b": 1}, "c": "x"}, {"a": "flat", "c": "y"}, {}]
    table = RowTable(rows, "t")
    table.prefetch([("a", "b"), ("c",)])
    nested = table.field(("a", "b"))
    assert isinstance(nested, Column)
    assert nested.series.to_list() == [1.0, None, None]


def test_engine_values_read_nan_as_missing() -> None:
    column = column_from_floats("v", np.array([1.0, np.nan, np.inf]))
    assert isinstance(column, Column)
    assert column.series.to_list() == [1.0, None, np.inf] and column.nonfinite
