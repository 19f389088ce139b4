"""The serving process's heap: states set aside from garbage collection, and builds run
with full collections held."""

from __future__ import annotations

import gc
import sys
import threading
import weakref

import pytest

from launchpoint.heap import (
    NEVER,
    QUICK_SWITCH_SECONDS,
    building_beside,
    full_collections_held,
    set_aside,
    settle_heap,
)


def test_settling_again_collects_the_cycles_a_replaced_state_left(thawed: None) -> None:
    class Node:
        other: Node

    old = Node()
    old.other = Node()
    old.other.other = old  # a cycle: reference counting alone never frees it
    gone = weakref.ref(old)
    settle_heap()
    assert gc.get_freeze_count() > 0
    del old
    gc.collect()
    assert gone() is not None  # frozen: left alone by collections
    settle_heap()
    assert gone() is None


def test_set_aside_freezes_without_collecting(thawed: None) -> None:
    class Node:
        other: Node

    cycle = Node()
    cycle.other = cycle
    gone = weakref.ref(cycle)
    del cycle
    set_aside()
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert gone() is not None  # left as it was: set_aside collects nothing


def test_full_collections_are_held_until_the_last_hold_ends() -> None:
    before = gc.get_threshold()
    inside = threading.Event()
    release = threading.Event()

    def other_build() -> None:
        with full_collections_held():
            inside.set()
            assert release.wait(10)

    thread = threading.Thread(target=other_build)
    with full_collections_held():
        assert gc.get_threshold() == (before[0], before[1], NEVER)
        thread.start()
        assert inside.wait(10)
        with full_collections_held():  # nested
            assert gc.get_threshold()[2] == NEVER
        assert gc.get_threshold()[2] == NEVER
    assert gc.get_threshold()[2] == NEVER  # the other build still holds them
    release.set()
    thread.join(10)
    assert gc.get_threshold() == before


def test_a_build_beside_switches_threads_quickly_until_it_ends() -> None:
    interval, threshold = sys.getswitchinterval(), gc.get_threshold()
    with building_beside():
        assert sys.getswitchinterval() == pytest.approx(QUICK_SWITCH_SECONDS)
        assert gc.get_threshold()[2] == NEVER
        with full_collections_held():  # a build on the request path meanwhile
            pass
        assert gc.get_threshold()[2] == NEVER
    assert sys.getswitchinterval() == interval and gc.get_threshold() == threshold
