"""The report's trend: figures kept over time, and segments about to drop out."""

from __future__ import annotations

import time

from launchpoint.domain import SegmentSpec, UserIn, WorkspaceConfig
from launchpoint.domain.timeutil import to_iso
from launchpoint.engine import Launchpoint, WorkspaceEngine
from launchpoint.segments.qualification import qualify, with_trend

DAY = 86400.0
T0 = 1_700_000_000.0


def test_at_risk_means_shown_near_a_threshold_and_not_growing() -> None:
    spec = SegmentSpec(id="s", min_users=20, min_items=10)
    close = qualify(spec, 22, 50)
    assert with_trend(close, None, None, None).at_risk  # no history: near is enough
    assert with_trend(close, "t", 25, 50).at_risk  # shrinking
    assert not with_trend(close, "t", 18, 50).at_risk  # growing into safety
    assert not with_trend(qualify(spec, 40, 50), "t", 45, 50).at_risk  # far from it
    assert not with_trend(qualify(spec, 10, 50), "t", 12, 50).at_risk  # already not shown
    assert with_trend(qualify(spec, 40, 11), "t", 40, 11).at_risk  # items near their test


def test_the_report_compares_with_a_week_ago(workspace: WorkspaceEngine) -> None:
    # Applying builds a state at the real time too, and history only moves forward: the
    # pinned times of this test lie after it.
    t0 = time.time() + 30 * DAY
    workspace.add_users([UserIn(id=f"u{n}", attributes={"n": n}) for n in range(30)])
    workspace.apply(
        WorkspaceConfig(segments=[SegmentSpec(id="s", users="n < 25", min_users=20, min_items=0)])
    )
    first = workspace.report(now=t0)
    assert first[0].members == 25 and not first[0].at_risk  # 25 >= 20 x 1.2
    # A week later a rule change leaves 21 members: shown, near 20, and shrinking.
    workspace.apply(
        WorkspaceConfig(segments=[SegmentSpec(id="s", users="n < 21", min_users=20, min_items=0)])
    )
    (row,) = workspace.report(now=t0 + 8 * DAY)
    assert (row.members, row.members_before, row.items_before) == (21, 25, 0)
    assert row.trend_since == to_iso(t0)
    assert row.qualifies and row.at_risk


def test_history_is_kept_on_change_and_at_most_hourly_otherwise(
    workspace: WorkspaceEngine,
) -> None:
    store = workspace.store
    assert store.record_qualification([("s", 5, 1, False)], at=T0, every=3600) == 1
    assert store.record_qualification([("s", 5, 1, False)], at=T0 + 60, every=3600) == 0
    assert store.record_qualification([("s", 6, 1, False)], at=T0 + 120, every=3600) == 1
    assert store.record_qualification([("s", 6, 1, False)], at=T0 + 4000, every=3600) == 1
    assert store.record_qualification([("s", 7, 1, False)], at=T0 - 10, every=3600) == 0
    assert store.qualification_at(T0 + 100) == {"s": (T0, 5, 1)}
    assert store.qualification_at(T0 - 1) == {}


def test_refresh_rebuilds_every_served_workspace(launchpoint: Launchpoint) -> None:
    ws = launchpoint.workspace()
    ws.add_users([UserIn(id="a")])
    before = ws._state
    launchpoint.refresh()
    assert ws._state is not None and ws._state is not before
