"""A build beside the serving state gives way to the requests being served."""

from __future__ import annotations

import contextvars
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


def test_a_request_waiting_for_its_own_build_is_not_given_way_to() -> None:
    pace = RequestsFirst()
    with pace.waiting():  # outside a counted request: nothing to set aside
        assert pace.in_flight == 0
    with pace.request():
        assert pace.in_flight == 1
        with pace.waiting():  # a write's request, waiting for the build it called for
            assert pace.in_flight == 0  # what a build's tick waits on: nothing to wait for
        assert pace.in_flight == 1
    assert pace.in_flight == 0


def test_the_request_followed_into_its_handler_s_thread_is_the_one_set_aside() -> None:
    """A handler runs in a thread of the pool, with its request's context."""
    pace = RequestsFirst()
    seen: list[int] = []

    def handler() -> None:
        with pace.waiting():
            seen.append(pace.in_flight)

    with pace.request():
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(handler,))
        thread.start()
        thread.join(10)
    assert seen == [0] and pace.in_flight == 0
