"""Keeping Python's cyclic garbage collector away from large, long-lived in-memory state.

A ledger of a million facts is millions of objects that live as long as the process. While
they are built, the collector walks them again at every threshold (half the loading time);
once built, every full collection walks them all (about 4 s at a million facts, in the
middle of serving requests). Reference counting frees whatever is not cyclic regardless.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def building_long_lived_state(*, collect: bool = True) -> Iterator[None]:
    """Pause the cyclic collector while the state is built; then collect once and freeze the
    survivors, so later collections leave them out (the process keeps them anyway).

    `collect=False` freezes without collecting, for a process that ends soon after: the
    collection walks everything built (about 2 s at a million facts) to free a little garbage.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collect:
            gc.collect()
        gc.freeze()
        if was_enabled:
            gc.enable()
