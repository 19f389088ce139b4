"""Items created or changed after the build, taken into a serving state without a rebuild.

Unlike users and events, which change rows of the state in place, an item write makes a new
state: the catalogue's length is in every per-item array, and a request reading the state in
another thread must not meet a catalogue half grown. The new state shares everything about
users with the one it follows (rows, matrices, whose columns are widened without a copy of
their entries, aggregates, memberships, overlays) and has its own catalogue: lists and index,
availability, sensitive topics, item categories, popularity and each segment's items.

A changed item can change what users' views are made of: its categories their interests,
the fields that aggregates' conditions read their values. The users with events on an item
changed so are recomputed by ``overlay.refresh_user``, as if their events had just arrived;
an item whose other fields changed (its availability, its title) leaves every user as is.
So the new state holds what a rebuild from storage would, for every user and item (a
property test holds it so), but for what waits for a rebuild after events too: the items of
segments drawn from members' behaviour, and co-occurrence, as events taken in since the
build are not in them.

Not taken in (``take_items`` returns None, and the caller rebuilds): a write that brings a
category the state does not know (every user's interests would grow a column), a new item
that events already name (stored before the item was: a rebuild reads them as the item's
history), and a change that more than ``MAX_USERS_REFRESHED`` users' views depend on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from launchpoint.ranking.overlay import refresh_user
from launchpoint.ranking.state import (
    SegmentState,
    WorkspaceState,
    category_matrix,
    item_row,
    segment_items,
    sensitive_topics,
)
from launchpoint.segments import ast
from launchpoint.segments.batch import RuleBatch
from launchpoint.segments.qualification import qualify

BoolArray = npt.NDArray[np.bool_]

# A changed item whose users are more than this is cheaper to rebuild from (each user's view
# is recomputed from all of its events: about a millisecond for a user with a long history).
MAX_USERS_REFRESHED = 2000

# What a user-independent state cache is called, kept as is in the new state.
_USER_CACHES = ("events_by_user", "category_interest")


def take_items(
    state: WorkspaceState, records: Sequence[Mapping[str, Any]], now: float
) -> WorkspaceState | None:
    """A new state: ``state`` with stored item ``records`` (as ``WorkspaceStore.iter_items``
    gives them) created or replaced; None when the write cannot be taken in (module doc).
    Users whose views depend on a changed item are recomputed as of ``now``, in the new
    state. What the two share about users (overlays, memberships, aggregates, profile
    edits, the lists of users) is changed for both; ``state``'s catalogue is not."""
    known = set(state.categories)
    if any(c not in known for r in records for c in r["categories"]):
        return None
    new_ids = [r["id"] for r in records if r["id"] not in state.item_index]
    if len(set(new_ids)) != len(new_ids) or any(i in state.unknown_items for i in new_ids):
        return None
    n_old, k = len(state.item_ids), len(new_ids)
    item_ids = [*state.item_ids, *new_ids]
    item_index = dict(state.item_index)
    item_index.update((item_id, n_old + n) for n, item_id in enumerate(new_ids))
    item_rows = [*state.item_rows, *({} for _ in new_ids)]
    available = np.concatenate((state.available, np.zeros(k, dtype=bool)))
    changed: list[int] = []  # items the state held, written again
    recategorised: list[int] = []
    read = _fields_read(state.segments)
    reread: list[int] = []  # changed items whose users' views may change
    for record in records:
        item = item_index[record["id"]]
        row = item_rows[item] = item_row(record, state.now)
        available[item] = bool(row["available"])
        if item < n_old:
            changed.append(item)
            old = state.item_rows[item]
            if row["categories"] != old["categories"]:
                recategorised.append(item)
                reread.append(item)
            elif any(row.get(name) != old.get(name) for name in read):
                reread.append(item)
    refresh = _users_to_refresh(state, reread)
    if refresh is None:
        return None
    remade = [*recategorised, *range(n_old, n_old + k)]
    item_categories = _with_rows(state.item_categories, item_rows, remade, state.categories)
    popularity = np.concatenate((state.popularity, np.zeros(k)))
    written = np.array([item_index[r["id"]] for r in records], dtype=np.intp)
    new = replace(
        state,
        item_ids=item_ids,
        item_index=item_index,
        item_rows=item_rows,
        available=available,
        sensitive_items=_topics(state, item_rows, written),
        item_categories=item_categories,
        interactions=_widened(state.interactions, k),
        consumed=_widened(state.consumed, k),
        positive=_widened(state.positive, k),
        popularity=popularity,
        top_popularity=float(popularity[available].max(initial=0.0)),
        condition_memo=_memo_without(state.condition_memo, set(reread)),
    )
    _carry_caches(state, new, k)
    new.segments = [_grown(new, s, written) for s in state.segments]
    drawn = {s.spec.id: s.members.copy() for s in new.segments if s.spec.items_from != "rule"}
    for user in refresh:
        refresh_user(new, user, now)
    new.segments = [_settled(new, state, s, written, drawn.get(s.spec.id)) for s in new.segments]
    return new


def _fields_read(segments: Iterable[SegmentState]) -> set[str]:
    """Every field name the segments' user rules read, those in aggregates' conditions
    included (where an event's item's fields are read): more than the conditions read, which
    only costs users recomputed for nothing."""
    out: set[str] = set()
    stack: list[Any] = [s.user_rule.node for s in segments]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Field):
            out.add(node.path[0])
            if node.path[0] == "item" and len(node.path) > 1:  # item.price in a condition
                out.add(node.path[1])
        elif isinstance(node, tuple):
            stack.extend(node)
        elif is_dataclass(node):
            stack.extend(getattr(node, f.name) for f in fields(node))
    return out


def _users_to_refresh(state: WorkspaceState, items: list[int]) -> list[int] | None:
    """Users with events on ``items``; None when there are too many."""
    if not items:
        return []
    events = state.events
    users = set(np.unique(events.user[np.isin(events.item, items)]).tolist())
    watched = set(items)
    for user, overlay in state.overlays.items():  # events arrived since the build
        if user not in users and any(e.item in watched for e in overlay.events):
            users.add(user)
    return sorted(users) if len(users) <= MAX_USERS_REFRESHED else None


def _with_rows(
    matrix: sparse.csr_matrix,
    item_rows: Sequence[Mapping[str, Any]],
    remade: list[int],
    categories: Sequence[str],
) -> sparse.csr_matrix:
    """The items x categories matrix with the rows of ``remade`` items (changed, or new at
    its end) made from ``item_rows``: what ``category_matrix`` gives for them all, in time
    that grows with the items remade, not the catalogue (at 100k items, a few ms against
    hundreds)."""
    if not remade:
        return matrix
    old = matrix.tocoo()
    keep = ~np.isin(old.row, remade)
    part = category_matrix([item_rows[i] for i in remade], categories).tocoo()
    rows = np.concatenate((old.row[keep], np.asarray(remade, dtype=old.row.dtype)[part.row]))
    return sparse.csr_matrix(
        (
            np.concatenate((old.data[keep], part.data)),
            (rows, np.concatenate((old.col[keep], part.col))),
        ),
        shape=(len(item_rows), len(categories)),
    )


def _memo_without(
    memo: dict[tuple[Any, ...], tuple[int, ...]], items: set[int]
) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """The conditions met per (aggregates, event type, item[, value]), less those of
    ``items``; shared as it is when no item is to be left out (both states may fill it)."""
    if not items:
        return memo
    return {key: hits for key, hits in memo.items() if key[2] not in items}


def _lead_may_change(
    state: WorkspaceState,
    before: WorkspaceState,
    rule: Any,
    written: np.ndarray,
    *,
    both: bool,
) -> bool:
    """Whether the items a segment's members engaged with most, among those available (and
    its rule's, ``both``), may differ: an item they held changed availability, or rule
    result. A new item has no engagement yet."""
    held = written[written < len(before.item_ids)]
    if bool((state.available[held] != before.available[held]).any()):
        return True
    return both and any(
        rule.matches(state.item_rows[i]) != rule.matches(before.item_rows[i]) for i in held.tolist()
    )


def _topics(
    state: WorkspaceState, item_rows: Sequence[Mapping[str, Any]], written: np.ndarray
) -> dict[str, np.ndarray]:
    """Sensitive topic -> its items: the state's own when no written item's labels changed
    (a new item without any included), else made again (a pass over the catalogue)."""
    n_old = len(state.item_rows)
    for item in written.tolist():
        was = state.item_rows[item]["sensitive"] if item < n_old else ()
        if list(item_rows[item]["sensitive"] or ()) != list(was or ()):
            return sensitive_topics(item_rows)
    return state.sensitive_items


def _widened(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """``matrix`` with ``k`` empty columns on its right, sharing its entries."""
    rows, columns = matrix.shape
    return sparse.csr_matrix(
        (matrix.data, matrix.indices, matrix.indptr), shape=(rows, columns + k), copy=False
    )


def _carry_caches(old: WorkspaceState, new: WorkspaceState, k: int) -> None:
    """What ``old`` made on first use, in ``new`` too: a new state is warm from its start."""
    cached, made = old.__dict__, new.__dict__
    for name in _USER_CACHES:
        if name in cached:
            made[name] = cached[name]
    if "item_norms" in cached:  # a new item has no interactions yet
        made["item_norms"] = np.concatenate((cached["item_norms"], np.zeros(k)))
    if "item_categories_by_column" in cached:
        made["item_categories_by_column"] = sparse.csc_matrix(new.item_categories)


def _grown(state: WorkspaceState, segment: SegmentState, written: np.ndarray) -> SegmentState:
    """The segment's per-item arrays the length of ``state``'s catalogue, the written
    items' eligibility by its item rule (a segment drawn from behaviour: in ``_settled``)."""
    k = len(state.item_ids) - len(segment.eligible)
    eligible = np.concatenate((segment.eligible, np.zeros(k, dtype=bool)))
    if segment.spec.items_from == "rule":
        for item in written.tolist():
            eligible[item] = segment.item_rule.matches(state.item_rows[item])
    popularity = np.concatenate((segment.popularity, np.zeros(k)))
    return replace(segment, eligible=eligible, popularity=popularity)


def _settled(
    state: WorkspaceState,
    before: WorkspaceState,
    segment: SegmentState,
    written: np.ndarray,
    drawn: BoolArray | None,
) -> SegmentState:
    """Once the users are recomputed: a segment drawn from its members' behaviour has its
    items worked out again when the written items, or its members (``drawn``: they before),
    may change which lead; then every segment's highest popularity and qualification."""
    spec, eligible = segment.spec, segment.eligible
    both = spec.items_from == "both"
    if drawn is not None and (
        not np.array_equal(drawn, segment.members)
        or _lead_may_change(state, before, segment.item_rule, written, both=both)
    ):
        by_rule = (
            RuleBatch(state.item_rows, "items").evaluate(segment.item_rule)
            if both
            else np.ones(len(state.item_ids), dtype=bool)  # not read
        )
        eligible = segment_items(state, spec, by_rule, segment.members)
    offered = eligible & state.available
    return replace(
        segment,
        eligible=eligible,
        top_popularity=float(segment.popularity[offered].max(initial=0.0)),
        qualification=qualify(spec, segment.qualification.members, int(offered.sum())),
    )
