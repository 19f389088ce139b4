"""Writing exposures and events the way the serving path and ingestion would."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from launchpoint.domain.records import EventIn, ItemIn
from launchpoint.engine import WorkspaceEngine
from launchpoint.experiments.assignment import assign
from launchpoint.experiments.spec import ExperimentSpec
from launchpoint.storage import tables


def log_exposures(ws: WorkspaceEngine, rows: Sequence[dict[str, Any]]) -> None:
    with ws.store.db.write() as conn:
        conn.execute(
            tables.exposures.insert(), [{"workspace_id": ws.workspace_id, **row} for row in rows]
        )


def run_traffic(
    ws: WorkspaceEngine,
    spec: ExperimentSpec,
    users: int,
    *,
    negative_in: str | None = None,
    start: float = 1_700_000_000.0,
) -> None:
    """One page of four items for each assigned user; every user clicks the first card (by
    recommendation id). Two users in five of ``negative_in``, and one in twenty of the
    others, also thumbs-down the second card (no recommendation id: the window rule)."""
    ws.add_items([ItemIn(id=f"i{n}", categories=[f"c{n % 3}"]) for n in range(4)])
    exposures, events = [], []
    for n in range(users):
        user = f"user{n}"
        variant = assign(spec, user)
        if variant is None:
            continue
        rec = f"rec-{n}"
        items = [{"item_id": f"i{k}", "position": k, "ribbon": "s"} for k in range(4)]
        exposures.append(
            {
                "recommendation_id": rec,
                "user_id": user,
                "surface": spec.surface,
                "items": items,
                "experiment_id": spec.id,
                "variant": variant,
                "created_at": start + n,
            }
        )
        events.append(
            EventIn(
                message_id=f"c{n}",
                user_id=user,
                item_id="i0",
                type="click",
                timestamp=start + n + 5,
                context={"recommendation_id": rec},
            )
        )
        if (n % 5 < 2) if variant == negative_in else (n % 20 == 0):
            events.append(
                EventIn(
                    message_id=f"d{n}",
                    user_id=user,
                    item_id="i1",
                    type="thumbs_down",
                    timestamp=start + n + 6,
                )
            )
    log_exposures(ws, exposures)
    ws.add_events(events)
