"""One `Payouts` per running service: its HTTP and gRPC entrypoints share the in-memory ledger."""

from __future__ import annotations

import weakref
from typing import Any

from ipshare.runtime import Runtime
from revenue_share.application import Payouts, RevenueShareApplication

_PAYOUTS: weakref.WeakKeyDictionary[Runtime[Any, Any], Payouts] = weakref.WeakKeyDictionary()


def payouts_of(runtime: Runtime[RevenueShareApplication, Any]) -> Payouts:
    if runtime not in _PAYOUTS:
        _PAYOUTS[runtime] = Payouts(runtime.app, runtime.engine)
    return _PAYOUTS[runtime]
