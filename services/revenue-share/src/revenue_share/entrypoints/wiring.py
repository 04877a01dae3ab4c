"""One `Payouts` per running service (its HTTP and gRPC entrypoints share the in-memory ledger),
and the worker that loads that ledger when the service starts."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from ipshare import bus
from ipshare.observability import log
from ipshare.runtime import Runtime
from revenue_share.adapters.inbox import InboxProjection
from revenue_share.adapters.source_topics import SourceTopics
from revenue_share.application import Payouts, RevenueShareApplication
from revenue_share.catalog import SOURCE
from revenue_share.settings import RevenueShareSettings

_PAYOUTS: weakref.WeakKeyDictionary[Runtime[Any, Any], Payouts] = weakref.WeakKeyDictionary()


def payouts_of(runtime: Runtime[RevenueShareApplication, Any]) -> Payouts:
    if runtime not in _PAYOUTS:
        settings: RevenueShareSettings = runtime.settings
        wait = settings.close_wait_seconds
        group = bus.group_of(SOURCE, InboxProjection.name)
        sources = SourceTopics(settings, group, InboxProjection.topics) if wait > 0 else None
        _PAYOUTS[runtime] = Payouts(runtime.app, runtime.engine, sources, wait)
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
