"""The closed loop, small: synthetic users answer the ribbons the real API serves."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from launchpoint.api import create_app
from launchpoint.engine import Launchpoint
from launchpoint.experiments.simulator import SimulationConfig, run_simulation
from launchpoint.settings import Settings


def test_personalised_ribbons_beat_the_non_personalised_control(tmp_path: Path) -> None:
    # SQLite only: the loop exercises the API end to end; the store has its own backend tests.
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'sim.db'}", data_dir=tmp_path)
    lp = Launchpoint(settings)
    days: list[int] = []
    with TestClient(create_app(settings, launchpoint=lp)) as client:
        result = run_simulation(
            client,
            SimulationConfig(users=90, items=60, days=3, seed=3),
            progress=lambda done, total: days.append(done),
        )
    lp.close()
    assert days == [1, 2, 3]
    analysis = result.analysis
    assert not analysis.srm.flagged
    assert sum(v.users for v in analysis.variants) <= 90
    assert sum(v.pages for v in analysis.variants) == result.requests
    engagement = analysis.comparison("engagement", "personalised")
    assert engagement.lift > 0 and engagement.ci_low > 0  # users with tastes get what they like
    # The control sees the popular ribbon: more categories per page than segment ribbons.
    assert analysis.comparison("diversity", "personalised").lift < 0
    totals = result.totals
    assert totals["personalised"]["clicks"] / totals["personalised"]["users"] > (
        totals["control"]["clicks"] / totals["control"]["users"]
    )
