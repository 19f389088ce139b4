"""The exposure log stores pages on a writer thread of its own, a few pages a transaction."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from launchpoint.ranking.exposure import ExposureLog


class Recorder:
    def __init__(self, fail_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        with self.lock:
            if self.fail_first:
                self.fail_first = False
                raise RuntimeError("database away")
            self.batches.append([int(row["n"]) for row in rows])


def test_rows_arriving_together_are_stored_in_one_transaction() -> None:
    write = Recorder()
    log = ExposureLog(write)
    for n in range(20):
        log.record({"n": n})
    log.flush()
    assert [n for batch in write.batches for n in batch] == list(range(20))
    assert len(write.batches) <= 2  # the first row waits briefly for the others
    log.close()


def test_a_failed_batch_is_logged_and_the_log_goes_on(caplog: Any) -> None:
    write = Recorder(fail_first=True)
    log = ExposureLog(write)
    log.record({"n": 1})
    log.flush()
    log.record({"n": 2})
    log.close()  # stores what is queued, then stops
    assert write.batches == [[2]]
    assert "could not store 1 exposures" in caplog.text
