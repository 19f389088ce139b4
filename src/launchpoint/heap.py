"""What a serving process does with Python's garbage collector around its serving state.

A serving state holds hundreds of thousands of objects (ml-latest-small with its model:
about 330,000) that live until the next state replaces them. Python runs a full collection
whenever enough new objects have outlived two younger collections, and a full collection
walks every object it tracks, holding the interpreter: 100-200 ms at that size, seconds at a
million users. So a server sets its state aside from collection once it is built
(``settle_heap``, once, with a collection first), builds every later state with full
collections held (``full_collections_held``: building creates a state's worth of new
objects, which set off a full collection every few hundred milliseconds, each stalling every
request meanwhile) and sets it aside as it takes over (``set_aside``: no collection)."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("launchpoint.heap")

_held = 0
_held_lock = threading.Lock()
_threshold: tuple[int, int, int] | None = None
NEVER = 2**30  # a third-generation threshold no process reaches


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


@contextmanager
def full_collections_held() -> Iterator[None]:
    """No automatic full collection in this process until the block ends (young ones go
    on, so short-lived cycles are still collected). Nested and concurrent blocks share one
    hold; the thresholds come back when the last ends."""
    global _held, _threshold
    with _held_lock:
        if _held == 0:
            _threshold = gc.get_threshold()
            gc.set_threshold(_threshold[0], _threshold[1], NEVER)
        _held += 1
    try:
        yield
    finally:
        with _held_lock:
            _held -= 1
            if _held == 0 and _threshold is not None:
                gc.set_threshold(*_threshold)
                _threshold = None
