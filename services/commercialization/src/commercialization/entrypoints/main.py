"""`python -m commercialization.entrypoints.main`: the commercialization process."""

from __future__ import annotations

import asyncio

from commercialization.adapters.ip_registry_client import IpRegistryClient
from commercialization.adapters.positions import positions_metadata
from commercialization.application import CommercializationApplication
from commercialization.catalog import SOURCE, build_catalog
from commercialization.entrypoints.grpc import add_servicer
from commercialization.entrypoints.http import create_http
from commercialization.entrypoints.transfer_dispatcher import transfer_dispatcher
from ipshare.runtime import ServiceSpec, serve
from ipshare.settings import ServiceSettings


class CommercializationSettings(ServiceSettings):
    http_port: int = 8002
    grpc_port: int = 50052


def spec(
    settings: CommercializationSettings | None = None,
) -> ServiceSpec[CommercializationApplication, CommercializationSettings]:
    settings = settings or CommercializationSettings()

    def application(env: dict[str, str]) -> CommercializationApplication:
        # Ownership is asked of the IP registry itself at grant and consent time.
        return CommercializationApplication(env, IpRegistryClient(settings.ip_registry_grpc_address, settings))

    return ServiceSpec(
        name=SOURCE,
        settings=settings,
        application=application,
        catalog=build_catalog(),
        http=create_http,
        grpc=add_servicer,
        metadata=positions_metadata,
        workers=lambda runtime: [transfer_dispatcher(runtime)],  # agreed assignments -> IP registry
    )


def main() -> None:
    asyncio.run(serve(spec()))


if __name__ == "__main__":
    main()
