from __future__ import annotations

import gc
import weakref

import pytest

from ipshare.heap import building_long_lived_state


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def _fail_while_building() -> None:
    with building_long_lived_state():
        assert not gc.isenabled()
        raise RuntimeError("the load failed")


def test_the_collector_is_paused_while_building_and_restored_after_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        _fail_while_building()
    assert gc.isenabled()


def test_what_was_built_is_frozen_out_of_later_collections_and_garbage_is_collected() -> None:
    try:
        with building_long_lived_state():
            kept = [Node() for _ in range(1_000)]
            garbage = weakref.ref(Node())  # a cycle made while the collector was paused
        assert garbage() is None
        assert gc.get_freeze_count() >= len(kept)
        assert not any(isinstance(o, Node) for o in gc.get_objects())  # frozen: no generation holds them
    finally:
        gc.unfreeze()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with building_long_lived_state():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_a_short_lived_process_can_freeze_without_collecting() -> None:
    try:
        with building_long_lived_state(collect=False):
            kept = [Node() for _ in range(1_000)]
            garbage = weakref.ref(Node())
        assert garbage() is not None  # left for the process's end
        assert gc.get_freeze_count() >= len(kept)
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.collect()
