"""Does a segment qualify to be shown? Enough members and enough eligible items, with the
reason for each test in the words of DESIGN.md: ``Y``, ``N (<20 users)``, ``N (<10 items)``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from launchpoint.domain.segments import SegmentSpec


@dataclass(frozen=True)
class QualificationRow:
    segment_id: str
    name: str
    priority: int
    status: str
    members: int
    items: int
    min_users: int
    min_items: int
    users_test: str
    items_test: str
    qualifies: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def qualify(spec: SegmentSpec, members: int, items: int) -> QualificationRow:
    users_ok = members >= spec.min_users
    items_ok = items >= spec.min_items
    return QualificationRow(
        segment_id=spec.id,
        name=spec.name,
        priority=spec.priority,
        status=spec.status,
        members=members,
        items=items,
        min_users=spec.min_users,
        min_items=spec.min_items,
        users_test="Y" if users_ok else f"N (<{spec.min_users} users)",
        items_test="Y" if items_ok else f"N (<{spec.min_items} items)",
        qualifies=users_ok and items_ok and spec.status == "active",
    )
