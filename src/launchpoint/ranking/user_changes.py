"""Users created or changed after the build, taken into a built serving state in place.

A new user (the first events of an id not seen before, a user created through the API or by
onboarding) grows every per-user structure of the state by one row: lists, the per-user
arrays, the users x items and users x categories matrices (an empty row costs a copy of
their row pointers, not of their entries) and each segment's members. A changed user (its
attributes, consents, personalisation switch, profile edits) has its row replaced. Either
way the user's interests, aggregates and memberships are then recomputed from its events by
``overlay.refresh_user``, the function events arriving after the build use, so the state
holds what a rebuild from storage would.

Requests read the state while this runs, in other threads: a new user's id goes into the
index last, once every structure has the user's row and the row is the user's, so no
request meets a user half taken in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import sparse

from launchpoint.ranking.overlay import refresh_user
from launchpoint.ranking.state import WorkspaceState, stated_interests, user_row


def take_users(
    state: WorkspaceState,
    records: Sequence[Mapping[str, Any]],
    profiles: Mapping[str, Mapping[str, Any]],
    now: float,
) -> None:
    """Take stored user ``records`` (as ``WorkspaceStore.iter_users`` gives them, location
    already hidden where the user opted out of it) into ``state``, with their ``profiles``
    (user id -> profile edits, as ``PeopleStore.profiles`` gives them)."""
    new = [r["id"] for r in records if r["id"] not in state.user_index]
    first = len(state.user_ids)
    if new:
        _grow(state, new)
    added = {user_id: first + n for n, user_id in enumerate(new)}
    for record in records:
        user_id = record["id"]
        user = added[user_id] if user_id in added else state.user_index[user_id]
        _set_user(state, user, record, profiles.get(user_id) or {})
        refresh_user(state, user, now)
    for user_id, user in added.items():  # last: the new users' rows are there, and theirs
        state.user_index[user_id] = user


def _grow(state: WorkspaceState, user_ids: Sequence[str]) -> None:
    """Empty rows for new users everywhere per-user data is kept (``_set_user`` fills them),
    not yet in the index."""
    k = len(user_ids)
    state.user_rows.extend({} for _ in user_ids)
    state.consents.extend({} for _ in user_ids)
    state.user_ids.extend(user_ids)
    state.personalised = np.concatenate((state.personalised, np.ones(k, dtype=bool)))
    state.edits = replace(
        state.edits, reset_at=np.concatenate((state.edits.reset_at, np.full(k, -np.inf)))
    )
    for name in ("interactions", "consumed", "positive", "interest"):
        setattr(state, name, _with_empty_rows(getattr(state, name), k))
    cached = state.__dict__
    if "category_interest" in cached:
        cached["category_interest"] = _with_empty_rows(cached["category_interest"], k)
    if "events_by_user" in cached:
        order, indptr = cached["events_by_user"]
        cached["events_by_user"] = (order, np.append(indptr, np.full(k, indptr[-1])))
    # Values a rule reads for a user without events; refresh_user sets those it computes.
    for key, values in state.aggregates.items():
        state.aggregates[key] = np.concatenate((values, np.zeros(k, dtype=values.dtype)))
    state.segments = [
        replace(s, members=np.concatenate((s.members, np.zeros(k, dtype=bool))))
        for s in state.segments
    ]


def _with_empty_rows(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """``matrix`` with ``k`` empty rows below it, sharing its entries."""
    indptr = np.append(matrix.indptr, np.full(k, matrix.indptr[-1], dtype=matrix.indptr.dtype))
    rows, columns = matrix.shape
    return sparse.csr_matrix(
        (matrix.data, matrix.indices, indptr), shape=(rows + k, columns), copy=False
    )


def _set_user(
    state: WorkspaceState, user: int, record: Mapping[str, Any], profile: Mapping[str, Any]
) -> None:
    """The user's row, consents, switch and profile edits, as a build would read them."""
    state.user_rows[user] = user_row(record, state.now)
    state.consents[user] = dict(record.get("consents") or {})
    state.personalised[user] = record.get("personalisation", True) is not False
    edits = state.edits
    reset_at = profile.get("reset_at")
    edits.reset_at[user] = -np.inf if reset_at is None else float(reset_at)
    _put(edits.removed, user, frozenset(profile.get("removed_interests") or ()))
    _put(edits.stated, user, stated_interests(record.get("attributes") or {}))
    opted_out = "inferred_interests" in (profile.get("opt_outs") or ())
    if opted_out != (user in edits.no_inferred):
        no_inferred = edits.no_inferred | {user} if opted_out else edits.no_inferred - {user}
        state.edits = replace(edits, no_inferred=no_inferred)


def _put(by_user: dict[int, frozenset[str]], user: int, value: frozenset[str]) -> None:
    if value:
        by_user[user] = value
    else:
        by_user.pop(user, None)
