"""One module per resource; ``ROUTERS`` is what the app mounts, in this order."""

from __future__ import annotations

from fastapi import APIRouter

from launchpoint.api.routes import (
    events,
    experiments,
    items,
    profiles,
    segment_spec,
    segments,
    stats,
    surfaces_serving,
    users,
)

ROUTERS: tuple[APIRouter, ...] = tuple(
    # profiles before users: the user routes end in a catch-all GET /v1/users/{id:path}.
    module.router
    for module in (
        surfaces_serving,  # before items: GET /v1/items/{id:path} would swallow /related
        items,
        profiles,
        users,
        events,
        segment_spec,
        segments,
        stats,
        experiments,
    )
)
