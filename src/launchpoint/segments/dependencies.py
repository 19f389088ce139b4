"""Segments whose rules name other segments (``segment('id')``): the order to evaluate them in,
and the cycles and unknown names that make a set of definitions invalid."""

from __future__ import annotations

from collections.abc import Mapping, Set

from launchpoint.errors import ErrorDetail, RuleError


def evaluation_order(needs: Mapping[str, Set[str]]) -> list[str]:
    """Every segment after the segments its rule names (ties in the given order).
    ``needs``: segment id -> ids its user rule names. Raises RuleError for a cycle or a name
    that is not a segment."""
    problems: list[ErrorDetail] = []
    for segment_id, names in needs.items():
        for name in sorted(names - needs.keys()):
            problems.append(
                ErrorDetail(
                    f"segments ({segment_id}).users",
                    f"segment({name!r}) names no segment; known: {', '.join(sorted(needs))}",
                    {"segment": segment_id},
                )
            )
    if problems:
        raise RuleError(f"{problems[0].loc}: {problems[0].message}", problems)
    order: list[str] = []
    state: dict[str, str] = {}  # "visiting" or "done"
    for segment_id in needs:
        _visit(segment_id, [], needs, state, order)
    return order


def _visit(
    segment_id: str,
    path: list[str],
    needs: Mapping[str, Set[str]],
    state: dict[str, str],
    order: list[str],
) -> None:
    """Depth first: ``segment_id`` after what it needs. A function of its own, not a closure
    calling itself: that is a reference cycle, left for the garbage collector at every build
    of a serving state."""
    if state.get(segment_id) == "done":
        return
    if state.get(segment_id) == "visiting":
        cycle = [*path[path.index(segment_id) :], segment_id]
        message = f"segments refer to each other in a cycle: {' -> '.join(cycle)}"
        raise RuleError(
            message,
            [ErrorDetail(f"segments ({segment_id}).users", message, {"cycle": cycle})],
        )
    state[segment_id] = "visiting"
    for name in sorted(needs[segment_id]):
        _visit(name, [*path, segment_id], needs, state, order)
    state[segment_id] = "done"
    order.append(segment_id)
