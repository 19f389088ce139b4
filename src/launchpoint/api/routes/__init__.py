"""One module per resource; ``ROUTERS`` is what the app mounts, in this order."""

from __future__ import annotations

from fastapi import APIRouter

from launchpoint.api.routes import events, items, segment_spec, segments, stats, users

ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router for module in (items, users, events, segment_spec, segments, stats)
)
