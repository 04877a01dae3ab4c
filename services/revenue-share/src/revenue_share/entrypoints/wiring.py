"""One `Payouts` per running service (its HTTP and gRPC entrypoints share the in-memory ledger),
and the worker that loads that ledger when the service starts."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from ipshare.observability import log
from ipshare.runtime import Runtime
from revenue_share.application import Payouts, RevenueShareApplication

_PAYOUTS: weakref.WeakKeyDictionary[Runtime[Any, Any], Payouts] = weakref.WeakKeyDictionary()


def payouts_of(runtime: Runtime[RevenueShareApplication, Any]) -> Payouts:
    if runtime not in _PAYOUTS:
        _PAYOUTS[runtime] = Payouts(runtime.app, runtime.engine)
    return _PAYOUTS[runtime]


@dataclass
class LedgerWarmup:
    """Loads the ledger when the service starts, so the first request does not wait for it."""

    payouts: Payouts
    name: str = "ledger-warmup"

    async def run(self) -> None:
        try:
            await self.payouts.warm()
        except Exception:  # the first request loads it instead
            log.exception("warming the ledger failed")
            return
        log.info("ledger warmed")
