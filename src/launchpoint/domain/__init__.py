"""Pure types: what items, users, events, segments and ribbons are. No I/O here."""

from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.domain.ribbons import Card, Ribbon, RibbonPage
from launchpoint.domain.segments import SegmentSpec, SurfaceSpec, WorkspaceConfig

__all__ = [
    "Card",
    "EventIn",
    "ItemIn",
    "Ribbon",
    "RibbonPage",
    "SegmentSpec",
    "SurfaceSpec",
    "UserIn",
    "WorkspaceConfig",
]
