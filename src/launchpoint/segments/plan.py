"""What applying a set of segment definitions would change, before anything is written: per
segment, the fields that change and the users who would enter and leave."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from launchpoint.domain.segments import SegmentSpec
from launchpoint.segments.qualification import QualificationRow

Action = Literal["create", "update", "unchanged"]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class SegmentChange:
    segment_id: str
    action: Action
    fields: list[FieldChange]
    members_before: int
    members_after: int
    entering: int  # users who are members after and were not before
    leaving: int
    qualifies_before: bool
    qualification_after: QualificationRow | None  # None when the segment ends up archived


@dataclass(frozen=True)
class ApplyPlan:
    segments: list[SegmentChange] = field(default_factory=list)
    surfaces: dict[str, Action] = field(default_factory=dict)

    @property
    def changes_anything(self) -> bool:
        return any(s.action != "unchanged" for s in self.segments) or any(
            a != "unchanged" for a in self.surfaces.values()
        )


def diff_fields(before: SegmentSpec | None, after: SegmentSpec) -> list[FieldChange]:
    if before is None:
        return []
    old, new = before.model_dump(), after.model_dump()
    return [FieldChange(k, old[k], new[k]) for k in new if old.get(k) != new[k]]


def segment_change(
    before: SegmentSpec | None,
    after: SegmentSpec,
    members_before: BoolArray | None,
    members_after: BoolArray | None,
    qualifies_before: bool,
    qualification_after: QualificationRow | None,
) -> SegmentChange:
    """``members_*`` are None where the segment has none (absent, or archived)."""
    fields = diff_fields(before, after)
    action: Action = "create" if before is None else ("update" if fields else "unchanged")
    was, now = members_before, members_after
    n_before = int(was.sum()) if was is not None else 0
    n_after = int(now.sum()) if now is not None else 0
    if was is not None and now is not None:
        entering, leaving = int((now & ~was).sum()), int((was & ~now).sum())
    else:
        entering, leaving = n_after, n_before
    return SegmentChange(
        segment_id=after.id,
        action=action,
        fields=fields,
        members_before=n_before,
        members_after=n_after,
        entering=entering,
        leaving=leaving,
        qualifies_before=qualifies_before,
        qualification_after=qualification_after,
    )
