"""A build beside the serving state gives way to the requests being served."""

from __future__ import annotations

import threading
import time

import pytest

from launchpoint.pacing import MOST, SLICE, RequestsFirst


def test_a_build_goes_on_while_no_request_is_served() -> None:
    pace = RequestsFirst()
    started = time.perf_counter()
    for _ in range(1000):
        pace.tick()
    assert time.perf_counter() - started < 0.5  # no waits (a loose bound: shared machines)


def test_a_build_waits_for_the_requests_being_served() -> None:
    pace = RequestsFirst()
    served = threading.Event()
    release = threading.Event()

    def request() -> None:
        with pace.request():
            served.set()
            assert release.wait(10)

    thread = threading.Thread(target=request)
    thread.start()
    assert served.wait(10) and pace.in_flight == 1
    time.sleep(2 * SLICE)  # the build has worked a slice
    started = time.perf_counter()
    pace.tick()
    waited = time.perf_counter() - started
    release.set()
    thread.join(10)
    assert pace.in_flight == 0
    assert waited >= MOST * 0.9  # it waited, and no longer than MOST (a request may run long)


def test_a_waiting_build_goes_on_as_soon_as_the_last_request_is_answered() -> None:
    pace = RequestsFirst()
    served = threading.Event()

    def request() -> None:
        with pace.request():
            served.set()
            time.sleep(MOST / 4)

    thread = threading.Thread(target=request)
    thread.start()
    assert served.wait(10)
    time.sleep(2 * SLICE)
    started = time.perf_counter()
    pace.tick()  # told when the request is answered, not at the end of MOST
    waited = time.perf_counter() - started
    thread.join(10)
    assert pace.in_flight == 0 and waited < MOST


def test_a_request_that_fails_is_no_longer_counted() -> None:
    pace = RequestsFirst()
    with pytest.raises(ValueError), pace.request():
        raise ValueError("bad input")
    assert pace.in_flight == 0
