"""Why a row matches a rule, or does not: each top-level clause with its result and the
values it read (fields and count(...) aggregates), for support staff and the membership API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from launchpoint.domain.timeutil import to_iso
from launchpoint.segments import ast
from launchpoint.segments.compiler import (
    NOW_KEY,
    NUMERIC_AGGREGATES,
    CompiledRule,
    RuleSchema,
    aggregate_key,
    compile_node,
)

Combinator = Literal["and", "or", "single"]


@dataclass(frozen=True)
class ClauseResult:
    text: str  # the clause as written in the rule
    matched: bool
    values: dict[str, Any] = field(default_factory=dict)  # what it read, by name


@dataclass(frozen=True)
class RuleExplanation:
    rule: str
    matched: bool
    combinator: Combinator
    clauses: list[ClauseResult]


def _values(node: ast.Node, source: str, row: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            text = source[sub.pos.start : sub.pos.end]
            if sub.name == "now":
                values[text] = to_iso(row.get(NOW_KEY))
            elif sub.name in NUMERIC_AGGREGATES:
                count = row.get(aggregate_key(sub), 0)
                values[text] = (
                    int(count) if isinstance(count, float) and count.is_integer() else count
                )
            else:  # first_seen / last_seen: a time, or null when there is no such event
                values[text] = to_iso(row.get(aggregate_key(sub)))
        elif isinstance(sub, ast.Field) and not _inside_call(node, sub):
            value: Any = row
            for part in sub.path:
                value = value.get(part) if isinstance(value, Mapping) else None
            values[sub.dotted] = value
    return values


def _inside_call(root: ast.Node, target: ast.Field) -> bool:
    return any(
        isinstance(n, ast.Call) and any(x is target for x in ast.walk(n)) for n in ast.walk(root)
    )


def explain(rule: CompiledRule, row: Mapping[str, Any]) -> RuleExplanation:
    """``row``: the same row the rule is evaluated on (attributes plus aggregate values)."""
    node = rule.node
    parts: tuple[ast.Node, ...]
    combinator: Combinator
    if isinstance(node, ast.And):
        parts, combinator = node.parts, "and"
    elif isinstance(node, ast.Or):
        parts, combinator = node.parts, "or"
    else:
        parts, combinator = (node,), "single"
    clauses = []
    for part in parts:
        evaluate = compile_node(part, rule.kind, rule.source, RuleSchema())
        clauses.append(
            ClauseResult(
                text=rule.source[part.pos.start : part.pos.end] or rule.source,
                matched=bool(evaluate(row)),
                values=_values(part, rule.source, row),
            )
        )
    return RuleExplanation(rule.source, rule.matches(row), combinator, clauses)


@dataclass(frozen=True)
class SegmentMembership:
    """One segment seen from one user: member or not, shown or not, and why."""

    segment_id: str
    name: str
    priority: int
    status: str
    member: bool
    qualifies: bool
    why: RuleExplanation
