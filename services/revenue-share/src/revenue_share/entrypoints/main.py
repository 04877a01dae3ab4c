"""`python -m revenue_share.entrypoints.main`: the revenue-share process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ipshare.consumer import Projection
from ipshare.runtime import Runtime, ServiceSpec, serve
from revenue_share.adapters.inbox import InboxProjection
from revenue_share.application import RevenueShareApplication
from revenue_share.catalog import SOURCE, build_catalog
from revenue_share.entrypoints.grpc import add_servicer
from revenue_share.entrypoints.http import create_http
from revenue_share.entrypoints.wiring import LedgerWarmup, payouts_of
from revenue_share.migrations import schema
from revenue_share.settings import RevenueShareSettings

__all__ = ["RevenueShareSettings", "main", "spec"]


def _projections(_: Runtime[Any, Any]) -> Sequence[Projection]:
    return [InboxProjection()]


def spec(settings: RevenueShareSettings | None = None) -> ServiceSpec[RevenueShareApplication, RevenueShareSettings]:
    return ServiceSpec(
        name=SOURCE,
        settings=settings or RevenueShareSettings(),
        application=RevenueShareApplication,
        catalog=build_catalog(),
        http=create_http,
        grpc=add_servicer,
        schema=schema,
        projections=_projections,
        workers=lambda runtime: [LedgerWarmup(payouts_of(runtime))],
    )


def main() -> None:
    asyncio.run(serve(spec()))


if __name__ == "__main__":
    main()
