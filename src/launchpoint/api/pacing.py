"""Counts every HTTP request from its arrival to its answer, queueing included, so a build
of a serving state beside the one serving gives way while any is waiting or being served
(``launchpoint.pacing``). Builds beside run only while the app's refresh schedule does, so
the requests they give way to are the app's."""

from __future__ import annotations

from collections.abc import Callable

from anyio import CapacityLimiter, from_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from launchpoint.pacing import RequestsFirst


class CountRequests:
    """Add it last (outermost)."""

    def __init__(self, app: ASGIApp, pace: RequestsFirst) -> None:
        self.app = app
        self.pace = pace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.pace.request():
            await self.app(scope, receive, send)


def lend_threads(limiter: CapacityLimiter) -> Callable[[int], None]:
    """``RequestsFirst.lend`` for the app's request thread pool (``limiter``, the default
    one, which sync routes and the fast path run in): called from a request's own thread, it
    changes the pool's size in the event loop, which the limiter must be changed from."""

    def lend(change: int) -> None:
        def resize() -> None:
            limiter.total_tokens = max(1, int(limiter.total_tokens) + change)

        from_thread.run_sync(resize)

    return lend
