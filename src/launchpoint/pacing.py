"""Requests first: how a build beside the serving state gives way to the requests it serves.

Python runs one thread of a process at a time, and shares it fairly between the threads that
want it: a build beside the serving state (the scheduled refresh, imports, other processes'
writes) took half of the process while requests waited their turn, so at two thirds of a
core of requests they queued until the build was over (ml-latest-small, a rebuild every
10 s at 100 pages a second: p99 494 ms). The build now calls ``tick`` between small pieces
of its work; after ``SLICE`` of work, it waits while a request is being served, up to
``MOST``, so it takes what requests leave and at least SLICE / (SLICE + MOST) of the
process when they leave nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar

SLICE = 0.002  # seconds of build work between looks at the requests
MOST = 0.02  # the longest a build waits for requests at one look

# The RequestsFirst counting the request being served, if any: the context follows the
# request into the thread that runs its handler.
_COUNTED: ContextVar[RequestsFirst | None] = ContextVar("launchpoint_counting", default=None)


class RequestsFirst:
    """The requests an engine is serving, and the ticks of its build beside them."""

    def __init__(self) -> None:
        self._in_flight = 0
        # Told when the last request in flight is answered: the build waits on it instead
        # of polling, each poll of which took the interpreter from the request being served.
        self._idle = threading.Condition()
        self._worked_from = time.perf_counter()
        # Set by a server (``api.pacing.lend_threads``): gives its request thread pool one
        # thread more (+1) or back (-1), so a request waiting for a build does not keep
        # the other requests from a thread meanwhile.
        self.lend: Callable[[int], None] | None = None

    @contextmanager
    def request(self) -> Iterator[None]:
        """Around the serving of one request."""
        with self._idle:
            self._in_flight += 1
        token = _COUNTED.set(self)
        try:
            yield
        finally:
            _COUNTED.reset(token)
            self._leave()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Around a request's own wait for a build beside the serving state (a write the
        state is rebuilt for, built in the writer's thread): meanwhile the request is not
        being served, so the build does not give way to it (it did, 20 ms a tick), and the
        server's thread pool has a thread more for the others (with one request thread, the
        default, every page waited for the writer's build, 3 s on ml-latest-small)."""
        if _COUNTED.get() is not self:
            yield
            return
        self._leave()
        lend, lent = self.lend, False
        try:
            if lend is not None:
                with suppress(Exception):  # lending is best effort (e.g. no event loop)
                    lend(1)
                    lent = True
            yield
        finally:
            if lent and lend is not None:
                with suppress(Exception):
                    lend(-1)
            with self._idle:
                self._in_flight += 1

    def _leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.notify_all()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def tick(self) -> None:
        """Called by the build between pieces of its work (each well under SLICE)."""
        if time.perf_counter() - self._worked_from < SLICE:
            return
        with self._idle:
            self._idle.wait_for(lambda: not self._in_flight, MOST)
        self._worked_from = time.perf_counter()


def no_pace() -> None:
    """The tick of a build that gives way to nothing: on the request path, a build is
    itself what a request waits for."""
