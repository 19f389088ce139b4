"""Managing a workspace's segments: validation against its fields, the apply plan (dry run),
versions, previews, memberships and the qualification report. A part of ``WorkspaceEngine``,
kept in its own module; it reads the engine's store and serving state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from launchpoint.domain.segments import SegmentSpec, SurfaceSpec, WorkspaceConfig
from launchpoint.domain.timeutil import to_iso
from launchpoint.errors import ErrorDetail, NotFound, RuleError
from launchpoint.ranking.popularity import among
from launchpoint.ranking.state import WorkspaceState, evaluate_segments
from launchpoint.segments.compiler import RuleKind, RuleSchema, compile_rule
from launchpoint.segments.dependencies import evaluation_order
from launchpoint.segments.explain import SegmentMembership, explain
from launchpoint.segments.plan import Action, ApplyPlan, diff_fields, segment_change
from launchpoint.segments.qualification import QualificationRow, with_trend

if TYPE_CHECKING:
    from launchpoint.storage import WorkspaceStore


@dataclass(frozen=True)
class SegmentPreview:
    qualification: QualificationRow  # as if the segment were active
    sample_members: list[str]  # in id order
    sample_items: list[str]  # the most popular with its would-be members first


@dataclass(frozen=True)
class ApplyResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    surfaces: list[str] = field(default_factory=list)
    report: list[QualificationRow] = field(default_factory=list)
    plan: ApplyPlan = field(default_factory=ApplyPlan)
    dry_run: bool = False


class SegmentOperations:
    """The segment half of ``WorkspaceEngine``."""

    store: WorkspaceStore
    _stale: bool
    _rebuild_for_write: Callable[[], None]
    _surfaces: dict[str, SurfaceSpec]

    state: Callable[..., WorkspaceState]  # the engine's serving state

    @property
    def workspace_id(self) -> str:
        return self.store.workspace_id

    def segments(self) -> list[tuple[SegmentSpec, int]]:
        return self.store.list_segments()

    def segment(self, segment_id: str) -> tuple[SegmentSpec, int]:
        for spec, version in self.store.list_segments():
            if spec.id == segment_id:
                return spec, version
        raise NotFound(f"segment {segment_id!r} does not exist in workspace {self.workspace_id!r}")

    def validate_segments(self, specs: Sequence[SegmentSpec], where: str = "segments") -> None:
        """Check every rule against the fields this workspace has; report all problems."""
        state = self.state()
        schema = RuleSchema(
            user_fields=state.user_fields or None, item_fields=state.item_fields or None
        )
        details: list[ErrorDetail] = []
        needs = {
            stored.id: set(compile_rule(stored.users, "users").segments)
            for stored, _ in self.store.list_segments()
        }
        for n, spec in enumerate(specs):
            rules: tuple[tuple[RuleKind, str], ...] = (("users", spec.users), ("items", spec.items))
            for kind, text in rules:
                try:
                    compiled = compile_rule(text, kind, schema)
                    if kind == "users":
                        needs[spec.id] = set(compiled.segments)
                except RuleError as exc:
                    for d in exc.details:
                        details.append(
                            ErrorDetail(
                                f"{where}[{n}] ({spec.id}).{d.loc}",
                                d.message,
                                {**d.extra, "segment": spec.id},
                            )
                        )
        if details:
            first = details[0]
            more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
            raise RuleError(f"{first.loc}: {first.message}{more}", details)
        evaluation_order(needs)  # segment('...') names known segments, with no cycle

    def plan(self, config: WorkspaceConfig) -> ApplyPlan:
        """What applying ``config`` would change, against the data as it is now: fields per
        segment and the users who would enter and leave. Validates; writes nothing."""
        self.validate_segments(config.segments)
        state = self.state()
        current = {spec.id: spec for spec, _ in self.store.list_segments()}
        before = {s.spec.id: s for s in state.segments}
        after = {s.spec.id: s for s in evaluate_segments(state, config.segments)}
        changes = []
        for spec in config.segments:
            old, new = before.get(spec.id), after.get(spec.id)
            changes.append(
                segment_change(
                    current.get(spec.id),
                    spec,
                    old.members if old is not None else None,
                    new.members if new is not None else None,
                    old.qualification.qualifies if old is not None else False,
                    new.qualification if new is not None else None,
                )
            )
        surfaces: dict[str, Action] = {}
        for surface_id, surface in config.surfaces.items():
            known = self._surfaces.get(surface_id)
            surfaces[surface_id] = (
                "create" if known is None else "unchanged" if known == surface else "update"
            )
        return ApplyPlan(changes, surfaces)

    def apply(
        self, config: WorkspaceConfig, actor: str = "", *, dry_run: bool = False
    ) -> ApplyResult:
        """Validate everything and plan it, then store it unless ``dry_run``; nothing is
        written if anything is invalid."""
        plan = self.plan(config)
        by_action = {
            a: [c.segment_id for c in plan.segments if c.action == a]
            for a in ("create", "update", "unchanged")
        }
        if dry_run:
            return ApplyResult(
                created=by_action["create"],
                updated=by_action["update"],
                unchanged=by_action["unchanged"],
                surfaces=sorted(config.surfaces),
                report=[c.qualification_after for c in plan.segments if c.qualification_after],
                plan=plan,
                dry_run=True,
            )
        before = {spec.id for spec, _ in self.store.list_segments()}
        changed = set(self.store.save_config(config.segments, config.surfaces, actor=actor))
        self._rebuild_for_write()
        ids = [s.id for s in config.segments]
        return ApplyResult(
            created=[i for i in ids if i in changed and i not in before],
            updated=[i for i in ids if i in changed and i in before],
            unchanged=[i for i in ids if i not in changed],
            surfaces=sorted(config.surfaces),
            report=self.report(),
            plan=plan,
        )

    def put_segment(self, spec: SegmentSpec, actor: str = "") -> int:
        self.validate_segments([spec])
        self.store.save_segments([spec], actor=actor)
        self._rebuild_for_write()
        return self.segment(spec.id)[1]

    def history(self, segment_id: str) -> list[dict[str, Any]]:
        """Every version of a segment: when, by whom, and what changed from the one before."""
        self.segment(segment_id)
        out: list[dict[str, Any]] = []
        previous: SegmentSpec | None = None
        for entry in self.store.segment_history(segment_id):
            spec = SegmentSpec.model_validate(entry["definition"])
            changes = [asdict(c) for c in diff_fields(previous, spec)]
            out.append({**entry, "changes": changes})
            previous = spec
        return out

    def preview(self, spec: SegmentSpec, sample: int = 5) -> SegmentPreview:
        """What a segment would be against the data as it is now, before it is stored:
        counts, qualification and a sample of members and items. Validates; writes nothing."""
        self.validate_segments([spec], where="segment")
        state = self.state()
        draft = spec.model_copy(update={"status": "active"})
        (result,) = evaluate_segments(state, [draft])
        members = result.members.nonzero()[0]
        eligible = (result.eligible & state.available).nonzero()[0]
        popularity = among(state, result.members, result.popularity)  # events taken in too
        ranked = eligible[np.argsort(-popularity[eligible], kind="stable")]
        return SegmentPreview(
            qualification=result.qualification,
            sample_members=[state.user_ids[i] for i in members[:sample]],
            sample_items=[state.item_ids[i] for i in ranked[:sample]],
        )

    def user_segments(self, user_id: str) -> list[SegmentMembership]:
        """Every segment that is not archived, in priority order, from this user's side: member
        or not, and the clauses of its user rule with the values they read."""
        state = self.state()
        user = state.user_index.get(user_id)
        if user is None:
            raise NotFound(f"user {user_id!r} does not exist in workspace {self.workspace_id!r}")
        row = state.rule_row(user)
        return [
            SegmentMembership(
                segment_id=s.spec.id,
                name=s.spec.name,
                priority=s.spec.priority,
                status=s.spec.status,
                member=bool(s.members[user]),
                qualifies=s.qualification.qualifies,
                why=explain(s.user_rule, row),
            )
            for s in state.segments
        ]

    def segment_members(
        self, segment_id: str, offset: int = 0, limit: int = 100
    ) -> tuple[int, list[str]]:
        """(how many members, the ids of one page of them, in id order)."""
        self.segment(segment_id)  # 404 for an unknown id
        state = self.state()
        found = next((s for s in state.segments if s.spec.id == segment_id), None)
        if found is None:  # archived: no members
            return 0, []
        members = found.members.nonzero()[0]
        return len(members), [state.user_ids[i] for i in members[offset : offset + limit]]

    def report(
        self, *, now: float | None = None, trend_days: float = 7.0
    ) -> list[QualificationRow]:
        """Qualification per segment, with its figures of ``trend_days`` ago (the last kept at
        or before then) and whether it is about to drop out."""
        state = self.state(now=now)
        before = self.store.qualification_at(state.now - trend_days * 86400)
        rows = []
        for s in state.segments:
            kept = before.get(s.spec.id)
            if kept is None:
                rows.append(with_trend(s.qualification, None, None, None))
            else:
                rows.append(with_trend(s.qualification, to_iso(kept[0]), kept[1], kept[2]))
        return rows
