"""The replay pauses the cyclic garbage collector while it holds the whole history, and only then."""

from __future__ import annotations

import gc

import pytest

from revenue_share.rebuild import _cyclic_gc_paused


def _fail_while_paused() -> None:
    with _cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("the replay failed")


def test_the_collector_is_paused_inside_and_restored_after_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        _fail_while_paused()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with _cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
