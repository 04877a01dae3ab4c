"""`python -m ip_registry.entrypoints.main`: the ip-registry process."""

from __future__ import annotations

import asyncio

from ip_registry.application import IpRegistryApplication
from ip_registry.catalog import SOURCE, build_catalog
from ip_registry.entrypoints.grpc import add_servicer
from ip_registry.entrypoints.http import create_http
from ip_registry.migrations import schema
from ipshare.runtime import ServiceSpec, serve
from ipshare.settings import ServiceSettings
from ipshare_kernel.clock import SYSTEM_CLOCK, Clock


class IpRegistrySettings(ServiceSettings):
    http_port: int = 8001
    grpc_port: int = 8101


def spec(
    settings: IpRegistrySettings | None = None, clock: Clock = SYSTEM_CLOCK
) -> ServiceSpec[IpRegistryApplication, IpRegistrySettings]:
    return ServiceSpec(
        name=SOURCE,
        settings=settings or IpRegistrySettings(),
        application=lambda env: IpRegistryApplication(env, clock),
        catalog=build_catalog(),
        http=create_http,
        schema=schema,
        grpc=add_servicer,
    )


def main() -> None:
    asyncio.run(serve(spec()))


if __name__ == "__main__":
    main()
