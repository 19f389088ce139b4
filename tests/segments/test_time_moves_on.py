"""Time moves on without events: a user leaves "clicked in the last 7 days" on day 8 even if
nothing happens. The engine rebuilds its state every refresh_seconds of its clock (and the
server runs that refresh on a schedule), so a window slides at most that late; an event
re-evaluates its user at once. A controllable clock shows both."""

from __future__ import annotations

from pathlib import Path

from launchpoint.domain import EventIn, ItemIn, SegmentSpec, UserIn
from launchpoint.engine import Launchpoint
from launchpoint.settings import Settings

DAY = 86400.0
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _members(lp: Launchpoint) -> list[str]:
    return lp.workspace().segment_members("recent")[1]


def test_a_user_leaves_a_window_on_day_8_with_no_new_event(tmp_path: Path) -> None:
    clock = Clock(T0)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'lp.db'}", refresh_seconds=300)
    lp = Launchpoint(settings, clock=clock)
    ws = lp.workspace()
    ws.add_items([ItemIn(id=f"i{n}") for n in range(3)])
    ws.add_users([UserIn(id="u1"), UserIn(id="u2")])
    ws.store.save_segments(
        [
            SegmentSpec(
                id="recent",
                name="Recent",
                priority=1,
                min_users=0,
                min_items=0,
                users="count(event = 'click', within = '7d') >= 1",
                items="id is not null",
            )
        ]
    )
    ws.add_events([EventIn(user_id="u1", item_id="i1", type="click", timestamp=T0)])
    assert _members(lp) == ["u1"]

    clock.now = T0 + 6 * DAY
    assert _members(lp) == ["u1"]  # day 7: still inside
    clock.now = T0 + 7 * DAY + 1
    assert _members(lp) == []  # day 8: out, though nothing happened

    # An event re-evaluates its user at the event's moment, before any rebuild.
    ws.state()
    ws.add_events([EventIn(user_id="u2", item_id="i2", type="click", timestamp=clock.now)])
    assert _members(lp) == ["u2"]
    lp.close()


def test_within_the_refresh_interval_the_state_is_kept(tmp_path: Path) -> None:
    clock = Clock(T0)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'lp.db'}", refresh_seconds=300)
    lp = Launchpoint(settings, clock=clock)
    ws = lp.workspace()
    ws.add_users([UserIn(id="u1")])
    built = ws.state()
    clock.now = T0 + 299
    assert ws.state() is built
    clock.now = T0 + 301
    assert ws.state() is not built
    lp.close()
