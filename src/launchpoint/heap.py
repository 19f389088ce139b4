"""What a serving process does with the interpreter around its serving state: the garbage
collector, and thread switches while a state is built beside the one serving.

A serving state holds hundreds of thousands of objects (ml-latest-small with its model:
about 330,000) that live until the next state replaces them. Python runs a full collection
whenever enough new objects have outlived two younger collections, and a full collection
walks every object it tracks, holding the interpreter: 100-200 ms at that size, seconds at a
million users. So a server sets its state aside from collection once it is built
(``settle_heap``, once, with a collection first), builds every later state with full
collections held (``full_collections_held``: building creates a state's worth of new
objects, which set off a full collection every few hundred milliseconds, each stalling every
request meanwhile) and sets it aside as it takes over (``set_aside``: no collection).
``building_beside`` is what a build beside the serving state holds."""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Generic, TypeVar

log = logging.getLogger("launchpoint.heap")

T = TypeVar("T")
NEVER = 2**30  # a third-generation threshold no process reaches
QUICK_SWITCH_SECONDS = 0.0002  # the interpreter's thread switch interval during a build


def settle_heap() -> None:
    """Once a serving state is built: collect what the previous one left, then take every
    object alive now out of the garbage collector's passes (``gc.freeze``).

    Frozen objects are still freed by reference counting when the state is replaced; this
    unfreezes first, so the next settle collects whatever cycles the old state left."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.info(
        "%d objects set aside from garbage collection in %.2f s",
        gc.get_freeze_count(),
        time.perf_counter() - started,
    )


def set_aside() -> None:
    """Take every object alive now out of the collector's passes, without a collection: what
    a server does as a new state takes over, built while full collections were held (so no
    pause). The state it replaces was set aside before; reference counting frees it, and a
    state holds no reference cycles to leave behind (a test holds it so)."""
    gc.freeze()


class _ProcessSetting(Generic[T]):
    """A process-wide interpreter setting changed while any of several threads needs it:
    nested and concurrent holds share one change, undone when the last ends."""

    def __init__(self, change: Callable[[], T], undo: Callable[[T], None]) -> None:
        self._change = change
        self._undo = undo
        self._holds = 0
        self._saved: T | None = None
        self._lock = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holds == 0:
                self._saved = self._change()
            self._holds += 1
        try:
            yield
        finally:
            with self._lock:
                self._holds -= 1
                if self._holds == 0 and self._saved is not None:
                    self._undo(self._saved)
                    self._saved = None


def _hold_full_collections() -> tuple[int, int, int]:
    saved = gc.get_threshold()
    gc.set_threshold(saved[0], saved[1], NEVER)
    return saved


def _quick_switches() -> float:
    saved = sys.getswitchinterval()
    sys.setswitchinterval(QUICK_SWITCH_SECONDS)
    return saved


_FULL_COLLECTIONS = _ProcessSetting(_hold_full_collections, lambda saved: gc.set_threshold(*saved))
_SWITCHES = _ProcessSetting(_quick_switches, sys.setswitchinterval)


def full_collections_held() -> AbstractContextManager[None]:
    """No automatic full collection in this process until the block ends (young ones go
    on, so short-lived cycles are still collected)."""
    return _FULL_COLLECTIONS.held()


@contextmanager
def building_beside() -> Iterator[None]:
    """While a state is built beside the one serving: full collections held, and the
    interpreter handing over between threads every 0.2 ms instead of every 5 ms. Python runs
    one thread at a time; a request waiting for the build's thread to give way waited up to
    5 ms each time, many times a page (ml-latest-small, pages served during builds: p99 60
    ms against 36 ms with quick switches)."""
    with _FULL_COLLECTIONS.held(), _SWITCHES.held():
        yield
