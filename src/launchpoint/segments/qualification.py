"""Does a segment qualify to be shown? Enough members and enough eligible items, with the
reason for each test in the words of DESIGN.md: ``Y``, ``N (<20 users)``, ``N (<10 items)``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
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
    # The trend, filled in by the report from the qualification history:
    trend_since: str | None = None  # when the figures below were kept (ISO 8601)
    members_before: int | None = None
    items_before: int | None = None
    at_risk: bool = False  # shown now, within 20% of a threshold, and not growing

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


AT_RISK_MARGIN = 1.2


def with_trend(
    row: QualificationRow, since: str | None, members: int | None, items: int | None
) -> QualificationRow:
    """``row`` with the figures of an earlier time, and whether it is about to drop out."""

    def near(now: int, threshold: int, before: int | None) -> bool:
        growing = before is not None and now > before
        return threshold > 0 and now < threshold * AT_RISK_MARGIN and not growing

    at_risk = row.qualifies and (
        near(row.members, row.min_users, members) or near(row.items, row.min_items, items)
    )
    return replace(
        row, trend_since=since, members_before=members, items_before=items, at_risk=at_risk
    )
