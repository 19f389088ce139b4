"""Which events satisfy an aggregate's condition (``count(event = 'click' and genre = 'x')``),
vectorised: the condition is compiled once per event type against the item columns (the
type is then a constant, so ``event = 'click'`` folds away), evaluated over the catalogue,
and read back per event by its item. Only a condition that reads the event's value is
evaluated over that type's events themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from launchpoint.segments import ast
from launchpoint.segments.columns import (
    Column,
    Const,
    RowTable,
    column_from_floats,
    column_from_values,
)
from launchpoint.segments.compiler import Evaluator, RuleKind
from launchpoint.segments.vectorised import (
    Source,
    Unsupported,
    VectorCompiler,
    event_row_scope,
    sources,
)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
EVENT_KEYS = ("event", "value", "item_id")  # what an event row holds before its item's fields
_NO_ITEM: dict[str, Any] = {}


class EventRow(Mapping[str, Any]):
    """An event as a rule sees it: its own fields, then its item's, without copying either."""

    __slots__ = ("_event", "_item")

    def __init__(self, event: dict[str, Any], item: Mapping[str, Any]) -> None:
        self._event = event
        self._item = item

    def __getitem__(self, key: str) -> Any:
        if key in self._event:
            return self._event[key]
        return self._item[key]

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._event:
            return self._event[key]
        return self._item.get(key, default)

    def __iter__(self) -> Any:
        yield from self._event
        yield from (k for k in self._item if k not in self._event)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def condition_node(call: ast.Call) -> ast.Node | None:
    """An aggregate call's conditions as one node, fields named as an event row holds them;
    None when it has none (every event counts)."""
    conditions = [
        arg
        for arg in call.args
        if not (
            isinstance(arg, ast.Compare)
            and isinstance(arg.left, ast.Field)
            and arg.left.path == ("within",)
        )
    ]
    if not conditions:
        return None
    node = conditions[0] if len(conditions) == 1 else ast.And(tuple(conditions), call.pos)
    return event_row_scope(node)


def reads_value(node: ast.Node) -> bool:
    return ("field", ("value",)) in sources(node)


class _EventScope:
    """One event type's rows: the type is a constant, item fields come from the catalogue
    (row 0: no item), the value is a constant None or that type's values."""

    def __init__(
        self, items: RowTable, item_ids: Column | Const, event_type: str, value: Column | Const
    ) -> None:
        self.items = items
        self.item_ids = item_ids
        self.event_type = event_type
        self.value = value

    @property
    def kind(self) -> RuleKind:
        return "items"

    def resolve(self, source: Source) -> Column | Const:
        if source[0] != "field":
            raise Unsupported("a function inside an aggregate's condition")
        path = source[1]
        if path[0] in EVENT_KEYS:
            if len(path) > 1:
                return Const(None)  # a type, a number or an id has no fields
            if path[0] == "event":
                return Const(self.event_type)
            return self.value if path[0] == "value" else self.item_ids
        return self.items.field(path)


class Catalogue:
    """The items as event conditions read them, built once per batch: row 0 is "no item"."""

    def __init__(self, items: Sequence[Mapping[str, Any]], item_ids: Sequence[str]) -> None:
        self.items = items
        self.item_ids = item_ids
        self.table = RowTable([_NO_ITEM, *items], "e")
        self.ids = column_from_values("eid", [None, *item_ids])
        self._grids: dict[tuple[str, str], BoolArray | bool | None] = {}

    def prefetch(self, nodes: Iterable[ast.Node]) -> None:
        """Build, in one pass over the catalogue, the item columns these conditions read."""
        self.table.prefetch(
            s[1]
            for node in nodes
            for s in sources(node)
            if s[0] == "field" and s[1][0] not in EVENT_KEYS
        )

    def item_grid(self, node: ast.Node, cache_key: str, event_type: str) -> BoolArray | bool | None:
        """Per catalogue row (0: no item), whether an event of this type on it matches; a bool
        when the answer is the same for every item; None when it has no exact vectorised form.
        ``node`` must not read the event's value."""
        key = (cache_key, event_type)
        if key not in self._grids:
            self._grids[key] = self._grid(node, event_type)
        return self._grids[key]

    def _grid(self, node: ast.Node, event_type: str) -> BoolArray | bool | None:
        compiler = VectorCompiler(_EventScope(self.table, self.ids, event_type, Const(None)))
        try:
            compiled = compiler.rule(node)
        except Unsupported:
            return None
        if isinstance(compiled, Const):
            return bool(compiled.value)
        frame = pl.DataFrame([c.series for c in compiler.columns.values()])
        return frame.select(compiled.expr).to_series().to_numpy().astype(bool, copy=False)

    def event_mask(
        self,
        node: ast.Node,
        event_type: str,
        item_row: npt.NDArray[np.int32],
        values: FloatArray,
    ) -> BoolArray | bool | None:
        """Per event of one type (its catalogue rows and values), for a condition that reads
        the value; None when it has no exact vectorised form."""
        value = column_from_floats("evalue", values)
        compiler = VectorCompiler(_EventScope(self.table, self.ids, event_type, value))
        try:
            compiled = compiler.rule(node)
        except Unsupported:
            return None
        if isinstance(compiled, Const):
            return bool(compiled.value)
        rows = pl.Series(item_row)
        columns = [
            c.series if c.name == "evalue" else c.series.gather(rows)
            for c in compiler.columns.values()
        ]
        frame = pl.DataFrame(columns)
        return frame.select(compiled.expr).to_series().to_numpy().astype(bool, copy=False)

    def closure_mask(
        self,
        condition: Evaluator,
        event_type: str,
        item: npt.NDArray[np.int32],
        values: FloatArray | None,
    ) -> BoolArray:
        """The slow way, for what has no vectorised form: the closure once per distinct item
        (and value, when it reads it) among these events of one type."""
        row_key = item.astype(np.int64) + 1
        distinct_values = np.array([np.nan])
        if values is not None:
            distinct_values, value_code = np.unique(values, return_inverse=True)  # one NaN
            row_key = row_key * len(distinct_values) + value_code.reshape(-1)
        unique, inverse = np.unique(row_key, return_inverse=True)
        results = np.empty(len(unique), dtype=bool)
        for k, combined in enumerate(unique.tolist()):
            row_plus_one, value_index = divmod(combined, len(distinct_values))
            value = float(distinct_values[value_index])
            row = row_plus_one - 1
            event = {
                "event": event_type,
                "value": None if value != value else value,  # NaN: no value
                "item_id": self.item_ids[row] if row >= 0 else None,
            }
            item_fields = self.items[row] if row >= 0 else _NO_ITEM
            results[k] = bool(condition(EventRow(event, item_fields)))
        mask: BoolArray = results[inverse.reshape(-1)]
        return mask
