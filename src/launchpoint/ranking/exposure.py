"""The exposure log: what each answer showed (recommendation id, user, surface, items and
positions, experiment variant), written off the request path.

A request only appends to a queue; one writer thread stores the queue in batches, so serving
never waits on a database write. ``flush()`` waits until everything queued so far is stored
(tests, shutdown, and before a user's data is exported or deleted).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from launchpoint.domain.ribbons import RibbonPage

log = logging.getLogger("launchpoint.exposure")

BATCH = 500
LINGER = 0.02  # seconds the writer waits for more rows to store with the first


def exposure_row(
    page: RibbonPage, experiment_id: str | None = None, variant: str | None = None
) -> dict[str, Any]:
    items = [
        {"item_id": card.item_id, "position": n, "ribbon": ribbon.segment_id or ribbon.kind}
        for ribbon in page.ribbons
        for n, card in enumerate(ribbon.cards)
    ]
    return {
        "recommendation_id": page.recommendation_id,
        "user_id": page.user_id,
        "surface": page.surface,
        "items": items,
        "experiment_id": experiment_id,
        "variant": variant,
        "created_at": time.time(),
    }


class ExposureLog:
    def __init__(self, write: Callable[[Sequence[Mapping[str, Any]]], None]) -> None:
        self._write = write
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def record(self, row: dict[str, Any]) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="launchpoint-exposures", daemon=True
                    )
                    self._thread.start()
        self._queue.put(row)

    def flush(self) -> None:
        """Return once every exposure recorded before the call is stored."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            batch = [first]
            # Rows that arrive within LINGER join the batch: one transaction for a few pages
            # instead of one each (at 150 pages a second, a tenth of a server's CPU).
            deadline = time.monotonic() + LINGER
            while len(batch) < BATCH:
                try:
                    row = self._queue.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    break
                if row is None:  # close: store what we have, then stop
                    self._queue.task_done()
                    self._store(batch)
                    return
                batch.append(row)
            self._store(batch)

    def _store(self, batch: list[dict[str, Any]]) -> None:
        try:
            self._write(batch)
        except Exception:  # one failed batch must not stop the log
            log.exception("could not store %d exposures", len(batch))
        finally:
            for _ in batch:
                self._queue.task_done()


class RecentExposures:
    """Per user, the items recently shown and not engaged with, with the times they were
    shown: what the rotation guardrail reads. Kept in process memory (bounded: the least
    recently served users are forgotten first), so with several workers each rotates on what
    it served itself."""

    def __init__(self, max_users: int = 200_000, max_items: int = 500) -> None:
        self._shown: OrderedDict[str, dict[str, list[float]]] = OrderedDict()
        self._max_users = max_users
        self._max_items = max_items
        self._lock = threading.Lock()

    def shown(self, user_id: str, item_ids: Sequence[str], now: float) -> None:
        with self._lock:
            mine = self._shown.pop(user_id, None) or {}
            for item_id in item_ids:
                mine.setdefault(item_id, []).append(now)
            if len(mine) > self._max_items:  # keep the most recently shown
                ordered = sorted(mine.items(), key=lambda kv: kv[1][-1])
                mine = dict(ordered[-self._max_items :])
            self._shown[user_id] = mine
            while len(self._shown) > self._max_users:
                self._shown.popitem(last=False)

    def engaged(self, user_id: str, item_id: str) -> None:
        with self._lock:
            mine = self._shown.get(user_id)
            if mine is not None:
                mine.pop(item_id, None)

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._shown.pop(user_id, None)

    def ignored(
        self, user_id: str, item_index: Mapping[str, int], now: float, window: float
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """(items, times shown within ``window``) for the user, as item indices."""
        with self._lock:
            mine = dict(self._shown.get(user_id) or {})
        items, counts = [], []
        for item_id, times in mine.items():
            n = sum(1 for t in times if now - t <= window)
            index = item_index.get(item_id)
            if n and index is not None:
                items.append(index)
                counts.append(n)
        return np.array(items, dtype=np.intp), np.array(counts, dtype=np.intp)
