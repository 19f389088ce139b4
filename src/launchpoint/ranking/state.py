"""A workspace held in memory for serving: indices, interaction matrices, segment memberships
and per-segment popularity, all built in one pass from storage.

The state is rebuilt when the workspace's ``data_version`` moves (any write, from any process)
or when it is older than the refresh interval, so time windows in rules keep sliding.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from scipy import sparse

from launchpoint.domain.segments import SegmentSpec
from launchpoint.pacing import no_pace
from launchpoint.profiles.interests import (
    ProfileEdits,
    SignalConfig,
    combine,
    interest_matrix,
    scale_rows,
)
from launchpoint.ranking.signals import CONSUMED_TYPES, event_weights
from launchpoint.segments.compiler import (
    NOW_KEY,
    CompiledRule,
    affinity_key,
    compile_rule,
    segment_key,
)
from launchpoint.segments.dependencies import evaluation_order
from launchpoint.segments.membership import (
    EventColumns,
    RuleBatch,
    aggregate_calls,
    aggregate_values,
)
from launchpoint.segments.parser import parse_duration
from launchpoint.segments.qualification import QualificationRow, qualify

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

T = TypeVar("T")


@dataclass(frozen=True)
class SegmentState:
    spec: SegmentSpec
    user_rule: CompiledRule
    item_rule: CompiledRule
    members: BoolArray
    eligible: BoolArray
    qualification: QualificationRow
    popularity: FloatArray  # weighted interactions of members with each item, >= 0
    top_popularity: float  # the highest popularity among eligible, available items


@dataclass
class WorkspaceState:
    version: int
    built_at: float
    now: float
    user_ids: list[str]
    user_index: dict[str, int]
    user_rows: list[dict[str, Any]]
    item_ids: list[str]
    item_index: dict[str, int]
    item_rows: list[dict[str, Any]]
    available: BoolArray
    personalised: BoolArray  # False where the user switched personalisation off
    consents: list[dict[str, bool]]  # per user: sensitive topic -> consented
    sensitive_items: dict[str, npt.NDArray[np.intp]]  # topic -> items labelled with it
    categories: list[str]
    item_categories: sparse.csr_matrix  # items x categories, rows sum to 1
    interactions: sparse.csr_matrix  # users x items, summed event weights
    consumed: sparse.csr_matrix  # users x items, 1 where the item is not to be offered again
    popularity: FloatArray  # all users, >= 0
    top_popularity: float  # the highest popularity among available items
    events: EventColumns  # kept so segment definitions can be tried against this state
    positive: sparse.csr_matrix  # interactions clipped at 0: what popularity counts
    interest: sparse.csr_matrix  # users x categories: signed, decayed implicit interest
    signals: SignalConfig = field(default_factory=SignalConfig)
    edits: ProfileEdits = field(default_factory=lambda: ProfileEdits.none(0))
    aggregates: dict[str, FloatArray] = field(default_factory=dict)  # key -> value per user
    segments: list[SegmentState] = field(default_factory=list)
    segment_order: list[str] = field(default_factory=list)  # dependencies first
    # Users whose events arrived after the build: their own, exact, up-to-date view.
    overlays: dict[int, Any] = field(default_factory=dict)
    # Which aggregates' conditions an event meets, per (aggregates, event type, item[, value]),
    # for the real-time path (see segments.realtime); valid for this state's catalogue.
    condition_memo: dict[tuple[Any, ...], tuple[int, ...]] = field(default_factory=dict)
    # Item ids that events name but the catalogue does not hold (yet): an item created later
    # with one of these ids has history a rebuild would read (see ranking.item_changes).
    unknown_items: set[str] = field(default_factory=set)

    @property
    def user_fields(self) -> set[str]:
        return _keys(self.user_rows)

    @property
    def item_fields(self) -> set[str]:
        return _keys(self.item_rows)

    def rule_row(self, user: int) -> dict[str, Any]:
        """The row a user rule sees for this user: attributes and aggregate values."""
        row = dict(self.user_rows[user])
        for key, values in self.aggregates.items():
            value = float(values[user])
            row[key] = None if value != value else value  # NaN: no such event
        return row

    def allowed_for(self, user: int) -> BoolArray:
        """Items whose sensitive topics this user has all consented to."""
        allowed = np.ones(len(self.item_ids), dtype=bool)
        consents = self.consents[user]
        for topic, items in self.sensitive_items.items():
            if not consents.get(topic, False):
                allowed[items] = False
        return allowed

    @cached_property
    def category_interest(self) -> sparse.csr_matrix:
        """users x categories: implicit interest scaled to -1..1 per user, before the users'
        own edits (removed and stated interests; see ``category_affinity``)."""
        return scale_rows(self.interest)

    def category_affinity(self, user: int) -> FloatArray:
        """The user's affinity for each category, -1..1: implicit interest scaled, with the
        user's removed interests at 0 and stated ones at least STATED_INTEREST. What ranking
        and affinity() read."""
        overlay = self.overlays.get(user)
        if overlay is not None:
            return np.asarray(overlay.affinity, dtype=np.float64)
        return self.with_edits(user, self.scaled_interest(user))

    def scaled_interest(self, user: int) -> FloatArray:
        """The user's row of ``category_interest``, dense."""
        interest = self.category_interest
        row = np.zeros(len(self.categories))
        start, end = interest.indptr[user], interest.indptr[user + 1]
        row[interest.indices[start:end]] = interest.data[start:end]
        return row

    def with_edits(self, user: int, scaled: FloatArray) -> FloatArray:
        if user in self.edits.no_inferred:
            scaled = np.zeros_like(scaled)
        return combine(
            scaled,
            self.categories,
            self.edits.removed.get(user, frozenset()),
            self.edits.stated.get(user, frozenset()),
        )

    def consumed_items(self, user: int) -> npt.NDArray[np.int32]:
        """Items the user is not offered again (purchased, rated, dismissed...)."""
        consumed = self.consumed
        own = consumed.indices[consumed.indptr[user] : consumed.indptr[user + 1]]
        overlay = self.overlays.get(user)
        if overlay is not None and overlay.consumed:
            # Overlays are shared with a state made from this one by taking items in: an
            # item only that one has is not this one's (a request still reading this one).
            later = np.fromiter(overlay.consumed, np.int32)
            later = later[later < len(self.item_ids)]
            return np.union1d(own, later).astype(np.int32)
        return np.asarray(own, dtype=np.int32)

    @cached_property
    def item_categories_by_column(self) -> sparse.csc_matrix:
        """``item_categories`` column-major: its product with one per-category vector (a
        user's affinity for every item, once per request) reads it three times faster."""
        return sparse.csc_matrix(self.item_categories)

    @cached_property
    def item_norms(self) -> FloatArray:
        """Per item: the length of its column of positive interactions (for cosine)."""
        squared = self.positive.multiply(self.positive).sum(axis=0)
        return np.sqrt(np.asarray(squared, dtype=np.float64).ravel())

    @cached_property
    def events_by_user(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """(order, indptr): events.user[order] is sorted; user u's events are
        order[indptr[u]:indptr[u+1]], oldest first."""
        user, ts = self.events.user, self.events.ts
        n, n_users = len(user), len(self.user_ids)
        if bool((ts[1:] >= ts[:-1]).all()):  # stored events are read oldest first
            # Then a stable sort by user alone is the order: a counting sort, which scipy's
            # COO to CSR conversion is (in C, the interpreter let go): 1.0 s for 15M events
            # against lexsort's 2.2 s.
            by_user = sparse.csr_matrix(
                (np.ones(n, dtype=np.int8), (user, np.arange(n))), shape=(n_users, n)
            )
            return by_user.indices.astype(np.intp), by_user.indptr.astype(np.intp)
        order = np.lexsort((ts, user))
        return order, np.searchsorted(user[order], np.arange(n_users + 1))


def _keys(rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Field names a rule may use; '@' keys are the engine's own (now, aggregate values)."""
    out: set[str] = set()
    for row in rows:
        out.update(row)
    return {key for key in out if not key.startswith("@")}


def user_row(record: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The fields a user rule sees: attributes, then the built-ins, which win, and the time
    the rule is evaluated at (what now() returns)."""
    row = dict(record.get("attributes") or {})
    row.update(id=record["id"], created_at=record["created_at"])
    row[NOW_KEY] = now
    return row


def item_row(record: Mapping[str, Any], now: float) -> dict[str, Any]:
    row = dict(record.get("attributes") or {})
    for key in ("id", "title", "text", "categories", "available", "created_at", "sensitive"):
        row[key] = record[key]
    row[NOW_KEY] = now
    return row


def build_state(
    version: int,
    users: Iterable[Mapping[str, Any]],
    items: Iterable[Mapping[str, Any]],
    event_chunks: Iterable[Sequence[tuple[Any, ...]]],
    specs: Sequence[SegmentSpec],
    now: float | None = None,
    *,
    signals: SignalConfig | None = None,
    profiles: Mapping[str, Mapping[str, Any]] | None = None,
    pace: Callable[[], None] = no_pace,
) -> WorkspaceState:
    """``profiles``: user id -> the user's profile edits (removed_interests, reset_at).
    ``pace``: called between pieces of the work, each a few milliseconds at most (a build
    beside the serving state gives way to requests there: ``launchpoint.pacing``)."""
    now = time.time() if now is None else now
    signals = signals or SignalConfig()
    user_records = list(_paced(users, pace))
    user_rows = [user_row(u, now) for u in _paced(user_records, pace)]
    personalised = np.fromiter(
        (u.get("personalisation", True) is not False for u in _paced(user_records, pace)),
        bool,
        len(user_rows),
    )
    user_ids = [r["id"] for r in _paced(user_rows, pace, 4096)]
    user_index = {uid: i for i, uid in enumerate(_paced(user_ids, pace, 4096))}
    item_rows = [item_row(i, now) for i in _paced(items, pace)]
    item_ids = [r["id"] for r in item_rows]
    item_index = {iid: i for i, iid in enumerate(item_ids)}
    available = np.fromiter((bool(r["available"]) for r in item_rows), bool, len(item_rows))

    categories = sorted({c for r in item_rows for c in r["categories"]})
    item_categories = category_matrix(item_rows, categories)

    unknown_items: set[str] = set()
    events = _event_columns(event_chunks, user_index, item_index, pace, unknown_items)
    n_users, n_items = len(user_ids), len(item_ids)
    weights = event_weights(events.types, events.type_code, events.value, signals.weights)
    edits = _profile_edits(user_records, user_index, profiles or {}, pace)
    has_item = events.item >= 0
    interactions = sparse.csr_matrix(
        (weights[has_item], (events.user[has_item], events.item[has_item])),
        shape=(n_users, n_items),
    )
    interactions.sum_duplicates()
    pace()  # each matrix is its own step: at 200k users and 3M events, 100-400 ms together
    consumed_codes = [k for k, kind in enumerate(events.types) if kind in CONSUMED_TYPES]
    is_consumed = has_item & np.isin(events.type_code, consumed_codes)
    consumed = sparse.csr_matrix(
        (np.ones(int(is_consumed.sum())), (events.user[is_consumed], events.item[is_consumed])),
        shape=(n_users, n_items),
    )
    consumed.sum_duplicates()
    pace()
    positive = interactions.copy()
    positive.data = np.clip(positive.data, 0.0, None)
    popularity = np.asarray(positive.sum(axis=0)).ravel()
    pace()
    consents = [dict(u.get("consents") or {}) for u in _paced(user_records, pace)]
    sensitive_items = sensitive_topics(item_rows)
    pace()
    interest = interest_matrix(
        events.user,
        events.item,
        weights,
        events.ts,
        item_categories,
        n_users,
        now,
        signals,
        edits.reset_at,
        pace,
    )
    pace()

    state = WorkspaceState(
        version=version,
        built_at=time.time(),
        now=now,
        user_ids=user_ids,
        user_index=user_index,
        user_rows=user_rows,
        item_ids=item_ids,
        item_index=item_index,
        item_rows=item_rows,
        available=available,
        personalised=personalised,
        consents=consents,
        sensitive_items=sensitive_items,
        categories=categories,
        item_categories=item_categories,
        interactions=interactions,
        consumed=consumed,
        popularity=popularity,
        top_popularity=float(popularity[available].max(initial=0.0)),
        events=events,
        positive=positive,
        interest=interest,
        signals=signals,
        edits=edits,
        unknown_items=unknown_items,
    )
    pace()
    state.segments = evaluate_segments(state, specs, pace)
    needs = {s.spec.id: set(s.user_rule.segments) for s in state.segments}
    state.segment_order = [sid for sid in evaluation_order(needs) if sid in needs]
    return state


def category_matrix(
    item_rows: Sequence[Mapping[str, Any]], categories: Sequence[str]
) -> sparse.csr_matrix:
    """items x categories: each item's categories, its row summing to 1."""
    cat_index = {c: k for k, c in enumerate(categories)}
    rows_, cols_, vals_ = [], [], []
    for i, r in enumerate(item_rows):
        cats = r["categories"]
        for c in cats:
            rows_.append(i)
            cols_.append(cat_index[c])
            vals_.append(1.0 / len(cats))
    return sparse.csr_matrix((vals_, (rows_, cols_)), shape=(len(item_rows), len(categories)))


def stated_interests(attributes: Mapping[str, Any]) -> frozenset[str]:
    """Categories a user stated (the ``interests`` attribute: onboarding, profile edits)."""
    value = attributes.get("interests")
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    return frozenset()


def _profile_edits(
    user_records: Sequence[Mapping[str, Any]],
    user_index: Mapping[str, int],
    profiles: Mapping[str, Mapping[str, Any]],
    pace: Callable[[], None] = no_pace,
) -> ProfileEdits:
    edits = ProfileEdits.none(len(user_records))
    removed: dict[int, frozenset[str]] = {}
    stated: dict[int, frozenset[str]] = {}
    no_inferred: set[int] = set()
    for user_id, profile in profiles.items():
        u = user_index.get(user_id)
        if u is None:
            continue
        if "inferred_interests" in (profile.get("opt_outs") or ()):
            no_inferred.add(u)
        if profile.get("reset_at") is not None:
            edits.reset_at[u] = float(profile["reset_at"])
        if profile.get("removed_interests"):
            removed[u] = frozenset(profile["removed_interests"])
    for u, record in enumerate(_paced(user_records, pace, 4096)):
        own = stated_interests(record.get("attributes") or {})
        if own:
            stated[u] = own
    return ProfileEdits(edits.reset_at, removed, stated, frozenset(no_inferred))


def sensitive_topics(item_rows: Sequence[Mapping[str, Any]]) -> dict[str, npt.NDArray[np.intp]]:
    topics: dict[str, list[int]] = {}
    for i, row in enumerate(item_rows):
        for topic in row["sensitive"] or ():
            topics.setdefault(topic, []).append(i)
    return {topic: np.array(items, dtype=np.intp) for topic, items in topics.items()}


def _paced(records: Iterable[T], pace: Callable[[], None], every: int = 256) -> Iterator[T]:
    for n, record in enumerate(records):
        if n % every == 0:
            pace()
        yield record


def _event_columns(
    chunks: Iterable[Sequence[tuple[Any, ...]]],
    user_index: dict[str, int],
    item_index: dict[str, int],
    pace: Callable[[], None] = no_pace,
    unknown_items: set[str] | None = None,
) -> EventColumns:
    """``unknown_items``: filled with the item ids events name that ``item_index`` lacks."""
    types: dict[str, int] = {}
    parts: list[tuple[Any, ...]] = []
    for chunk in chunks:  # the store reads events in chunks of a few milliseconds' work
        pace()
        u = np.fromiter((user_index.get(r[0], -1) for r in chunk), np.int32, len(chunk))
        i = np.fromiter(  # -1: no item; -2: an item the catalogue does not hold
            (item_index.get(r[1], -2) if r[1] is not None else -1 for r in chunk),
            np.int32,
            len(chunk),
        )
        k = np.fromiter((types.setdefault(r[2], len(types)) for r in chunk), np.int16, len(chunk))
        v = np.fromiter((np.nan if r[3] is None else r[3] for r in chunk), np.float64, len(chunk))
        ts = np.fromiter((r[4] for r in chunk), np.float64, len(chunk))
        keep = u >= 0  # events of users that are not stored are not anyone's behaviour
        unknown = i == -2
        if unknown.any():
            if unknown_items is not None:
                unknown_items.update(chunk[n][1] for n in np.flatnonzero(keep & unknown).tolist())
            i[unknown] = -1
        parts.append((u[keep], i[keep], k[keep], v[keep], ts[keep]))
    if not parts:
        empty = np.zeros(0)
        return EventColumns(
            empty.astype(np.int32), empty.astype(np.int32), empty.astype(np.int16), empty, empty, ()
        )
    cols = [np.concatenate([p[n] for p in parts]) for n in range(5)]
    return EventColumns(cols[0], cols[1], cols[2], cols[3], cols[4], tuple(types))


def evaluate_segments(
    state: WorkspaceState, specs: Sequence[SegmentSpec], pace: Callable[[], None] = no_pace
) -> list[SegmentState]:
    """Members, eligible items, popularity and qualification of each segment that is not
    archived, against this state's data, in priority order. Rules must be valid; a segment
    named by segment('id') is evaluated before the segments that name it (from ``specs`` when
    it is there, else from the state's own segments)."""
    events, positive = state.events, state.positive
    compiled = {
        spec.id: (spec, compile_rule(spec.users, "users"), compile_rule(spec.items, "items"))
        for spec in specs
        if spec.status != "archived"
    }
    pace()
    known = {s.spec.id: s for s in state.segments}
    needs = {sid: set(rule.segments) for sid, (_, rule, _) in compiled.items()}
    for names in list(needs.values()):
        for name in names - needs.keys():  # named but not in specs: the state's own
            needs[name] = set()
    order = [sid for sid in evaluation_order(needs) if sid in compiled]
    values = state.aggregates
    aggregates = [a for _, rule, _ in compiled.values() for a in rule.aggregates]
    missing = [a for a in aggregates if a.key not in values]
    values.update(
        aggregate_values(
            missing,
            events,
            state.item_rows,
            state.item_ids,
            len(state.user_ids),
            state.now,
            calls=aggregate_calls(rule for _, rule, _ in compiled.values()),
            pace=pace,
        )
    )
    pace()
    users = RuleBatch(state.user_rows, "users")  # columns built once, shared by every rule
    pace()
    items = RuleBatch(state.item_rows, "items")
    for _, rule, _ in compiled.values():
        for category in rule.affinities:
            values[affinity_key(category)] = _affinity_column(state, category)
    out: list[SegmentState] = []
    for segment_id in order:
        pace()
        spec, user_rule, item_rule = compiled[segment_id]
        for name in user_rule.segments:
            if name not in compiled:  # the state's own segment; archived ones have no members
                other = known.get(name)
                members_of = other.members if other is not None else None
                values[segment_key(name)] = (
                    members_of.astype(np.float64)
                    if members_of is not None
                    else np.zeros(len(state.user_ids))
                )
        members = users.evaluate(user_rule, values)
        values[segment_key(segment_id)] = members.astype(np.float64)
        pace()
        eligible = segment_items(state, spec, items.evaluate(item_rule), members)
        pace()
        n_items = int((eligible & state.available).sum())
        row = qualify(spec, int(members.sum()), n_items)
        popularity = np.asarray(positive[members].sum(axis=0), dtype=np.float64).ravel()
        top = float(popularity[eligible & state.available].max(initial=0.0))
        out.append(
            SegmentState(spec, user_rule, item_rule, members, eligible, row, popularity, top)
        )
    out.sort(key=lambda s: (s.spec.priority, s.spec.id))
    return out


def segment_items(
    state: WorkspaceState, spec: SegmentSpec, by_rule: BoolArray, members: BoolArray
) -> BoolArray:
    """The segment's items: from its item rule, from its members' behaviour (the items they
    engaged with most within behaviour_window), or the latter among the former."""
    if spec.items_from == "rule":
        return by_rule
    events = state.events
    window = parse_duration(spec.behaviour_window) or 0.0
    recent = (events.ts >= state.now - window) & (events.ts <= state.now) & (events.item >= 0)
    recent &= members[np.clip(events.user, 0, None)]
    weights = np.clip(event_weights(events.types, events.type_code, events.value), 0.0, None)
    engagement = np.bincount(
        events.item[recent], weights=weights[recent], minlength=len(state.item_ids)
    )
    pool = engagement > 0
    if spec.items_from == "both":
        pool &= by_rule
    candidates = np.flatnonzero(pool & state.available)
    top = candidates[np.lexsort((candidates, -engagement[candidates]))[: spec.behaviour_top]]
    chosen = np.zeros(len(state.item_ids), dtype=bool)
    chosen[top] = True
    return chosen


def _affinity_column(state: WorkspaceState, category: str) -> FloatArray:
    """Every user's affinity for ``category`` (as ranking sees it); 0 for an unknown one."""
    if category not in state.categories:
        return np.zeros(len(state.user_ids))
    k = state.categories.index(category)
    column = np.asarray(state.category_interest[:, k].todense(), dtype=np.float64).ravel()
    for user in {*state.edits.removed, *state.edits.stated, *state.edits.no_inferred}:
        column[user] = state.with_edits(user, state.scaled_interest(user))[k]
    for user, overlay in state.overlays.items():
        column[user] = overlay.affinity[k]
    return column
