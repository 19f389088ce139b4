"""Ribbons for one user, in one call: the serving pipeline (``pipeline.py``) over a state,
with the first score and no cached tools. The engine keeps its tools and model between
requests; this is for callers with a state in hand (tests, scripts)."""

from __future__ import annotations

from launchpoint.domain.ribbons import RibbonPage
from launchpoint.domain.segments import SurfaceSpec
from launchpoint.ranking.pipeline import RibbonRequest, ServingTools, home_page, user_signals
from launchpoint.ranking.relevance import Relevance
from launchpoint.ranking.state import WorkspaceState

__all__ = ["RibbonRequest", "build_ribbons"]


def build_ribbons(
    state: WorkspaceState, request: RibbonRequest, surface: SurfaceSpec, *, personal: bool = True
) -> RibbonPage:
    """``personal=False``: the non-personalised experience, as for a user with
    personalisation off."""
    user = user_signals(state, request.user_id, state.now, personal=personal)
    tools = ServingTools.for_state(state)
    page, _ = home_page(state, tools, Relevance(state), request, surface, user)
    return page
