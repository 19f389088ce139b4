"""Many rules over one set of rows (every user, or every item) at once: the rows become
columns once, each rule becomes one Polars expression over them, and all of them run in one
pass. A rule with no exact vectorised form runs with its closure, row by row, and is counted.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from launchpoint.segments.columns import Column, Const, RowTable
from launchpoint.segments.compiler import CompiledRule, RuleKind, affinity_key, segment_key
from launchpoint.segments.dependencies import evaluation_order
from launchpoint.segments.vectorised import Source, Unsupported, Value, VectorCompiler, sources

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fallback:
    """A rule (or an aggregate's event condition) evaluated with closures, and why."""

    source: str
    reason: str


@dataclass
class BatchStats:
    """What a batch did the slow way; benchmarks print it, tests hold it at zero."""

    fallbacks: list[Fallback] = field(default_factory=list)

    def note(self, source: str, reason: str) -> None:
        self.fallbacks.append(Fallback(source, reason))


def value_keys(rule: CompiledRule) -> list[str]:
    """The engine values (aggregates, affinities, memberships) a user rule reads."""
    return [
        *(a.key for a in rule.aggregates),
        *(affinity_key(c) for c in rule.affinities),
        *(segment_key(s) for s in rule.segments),
    ]


class _RowScope:
    def __init__(self, kind: RuleKind, table: RowTable, values: Mapping[str, FloatArray]) -> None:
        self._kind = kind
        self.table = table
        self.values = values

    @property
    def kind(self) -> RuleKind:
        return self._kind

    def resolve(self, source: Source) -> Column | Const:
        if source[0] == "field":
            return self.table.field(source[1])
        _, key, default = source
        array = self.values.get(key)
        return Const(default) if array is None else self.table.array(key, array)


class RuleBatch:
    """Rows of one kind as columns, built on first use and kept for every later rule: build
    one per state, evaluate all its rules with it."""

    def __init__(
        self, rows: Sequence[Mapping[str, Any]], kind: RuleKind, stats: BatchStats | None = None
    ) -> None:
        self.rows = rows
        self.kind = kind
        self.table = RowTable(rows, "u" if kind == "users" else "i")
        self.stats = stats if stats is not None else BatchStats()

    def evaluate(
        self, rule: CompiledRule, values: Mapping[str, FloatArray] | None = None
    ) -> BoolArray:
        """Membership of every row in ``rule``; ``values``: engine values by key, one per
        row (NaN where none), for user rules."""
        return self.evaluate_many([rule], values)[0]

    def evaluate_many(
        self, rules: Sequence[CompiledRule], values: Mapping[str, FloatArray] | None = None
    ) -> list[BoolArray]:
        """Every rule over every row, in one Polars pass. Rules naming segment('x') need x's
        members in ``values`` already: evaluate them level by level."""
        values = values or {}
        n = len(self.rows)
        self.table.prefetch(s[1] for rule in rules for s in sources(rule.node) if s[0] == "field")
        compiler = VectorCompiler(_RowScope(self.kind, self.table, values))
        results: list[BoolArray | None] = [None] * len(rules)
        exprs: list[pl.Expr] = []
        slots: list[int] = []
        for k, rule in enumerate(rules):
            try:
                compiled: Value = compiler.rule(rule.node) if n else Const(False)
            except Unsupported as exc:
                self.stats.note(rule.source, str(exc))
                results[k] = self._with_closures(rule, values)
                continue
            if isinstance(compiled, Const):
                results[k] = np.full(n, bool(compiled.value))
            else:
                exprs.append(compiled.expr.alias(f"r{k}"))
                slots.append(k)
        if exprs:
            frame = pl.DataFrame([c.series for c in compiler.columns.values()])
            out = frame.lazy().select(exprs).collect()
            for k, series in zip(slots, out.iter_columns(), strict=True):
                results[k] = series.to_numpy().astype(bool, copy=False)
        return [r if r is not None else np.zeros(n, dtype=bool) for r in results]

    def _with_closures(self, rule: CompiledRule, values: Mapping[str, FloatArray]) -> BoolArray:
        mask = np.zeros(len(self.rows), dtype=bool)
        keys = [k for k in value_keys(rule) if k in values]
        if not keys:
            for i, row in enumerate(self.rows):
                mask[i] = rule.matches(row)
            return mask
        columns = [values[k] for k in keys]
        for i, row in enumerate(self.rows):
            extended = dict(row)
            for key, column in zip(keys, columns, strict=True):
                value = float(column[i])
                extended[key] = None if value != value else value  # NaN: no such event
            mask[i] = rule.matches(extended)
        return mask


def evaluate_segments_in_order(
    batch: RuleBatch,
    rules: Mapping[str, CompiledRule],
    values: MutableMapping[str, FloatArray],
) -> dict[str, BoolArray]:
    """Members of every segment (id -> user rule), one Polars pass per level: first the rules
    that name no segment among ``rules``, then those naming only those, and so on. Each
    level's members go into ``values`` (as ``segment_key``) for the next; a segment named but
    not in ``rules`` must be in ``values`` already (else it has no members). Raises RuleError
    for a cycle."""
    needs = {sid: set(rule.segments) & rules.keys() for sid, rule in rules.items()}
    level: dict[str, int] = {}
    for sid in evaluation_order(needs):
        level[sid] = 1 + max((level[n] for n in needs[sid]), default=-1)
    out: dict[str, BoolArray] = {}
    for depth in sorted(set(level.values())):
        ids = [sid for sid in rules if level[sid] == depth]
        for sid, members in zip(
            ids, batch.evaluate_many([rules[s] for s in ids], values), strict=True
        ):
            out[sid] = members
            values[segment_key(sid)] = members.astype(np.float64)
    return out
