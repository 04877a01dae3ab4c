"""`python -m commercialization.entrypoints.main`: the commercialization process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from commercialization.adapters.ip_registry_client import IpRegistryClient
from commercialization.adapters.ownership import (
    FallbackOwnership,
    OwnershipProjection,
    ProjectedOwnership,
    ProjectionFirst,
)
from commercialization.application import CommercializationApplication
from commercialization.catalog import SOURCE, build_catalog
from commercialization.entrypoints.expiry_worker import license_expiry
from commercialization.entrypoints.grpc import add_servicer
from commercialization.entrypoints.http import create_http
from commercialization.entrypoints.transfer_dispatcher import transfer_dispatcher
from commercialization.migrations import schema
from ipshare.consumer import Projection
from ipshare.runtime import Runtime, ServiceSpec, serve
from ipshare.settings import ReadModelPoolSettings
from ipshare_kernel.clock import SYSTEM_CLOCK, Clock


class CommercializationSettings(ReadModelPoolSettings):
    http_port: int = 8002
    grpc_port: int = 8102


def spec(
    settings: CommercializationSettings | None = None, clock: Clock = SYSTEM_CLOCK
) -> ServiceSpec[CommercializationApplication, CommercializationSettings]:
    """The service; `clock` gives the day of every command without a date of its own (the
    application's, the gRPC servicer's and the expiry worker's)."""
    settings = settings or CommercializationSettings()

    def application(env: dict[str, str]) -> CommercializationApplication:
        # Writes ask the IP registry itself (the local projection when it does not answer);
        # reads answer from the projection of its topic (the registry for an asset not yet on it).
        projected = ProjectedOwnership.connect(settings.database_url, settings.read_model_pool_size)
        registry = IpRegistryClient(settings.ip_registry_grpc_address, settings)
        return CommercializationApplication(
            env,
            FallbackOwnership(registry, projected),
            reads=ProjectionFirst(projected, registry),
            snapshot_interval=settings.snapshot_interval,
            clock=clock,
        )

    return ServiceSpec(
        name=SOURCE,
        settings=settings,
        application=application,
        catalog=build_catalog(),
        http=create_http,
        grpc=add_servicer,
        schema=schema,
        projections=_projections,
        # agreed assignments -> IP registry; licenses past their term -> expired (run by the leader)
        followers=lambda runtime: [transfer_dispatcher(runtime), license_expiry(runtime)],
    )


def _projections(_: Runtime[Any, Any]) -> Sequence[Projection]:
    return [OwnershipProjection()]  # the IP registry's topic -> who owns what, by effective date


def main() -> None:
    asyncio.run(serve(spec()))


if __name__ == "__main__":
    main()
