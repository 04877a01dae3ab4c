"""`python -m incubation.entrypoints.main`: the incubation process."""

from __future__ import annotations

import asyncio

from incubation.application import IncubationApplication
from incubation.catalog import SOURCE, build_catalog
from incubation.entrypoints.grpc import add_servicer
from incubation.entrypoints.http import create_http
from ipshare.runtime import ServiceSpec, serve
from ipshare.settings import ServiceSettings


class IncubationSettings(ServiceSettings):
    http_port: int = 8003
    grpc_port: int = 8103


def spec(settings: IncubationSettings | None = None) -> ServiceSpec[IncubationApplication, IncubationSettings]:
    return ServiceSpec(
        name=SOURCE,
        settings=settings or IncubationSettings(),
        application=IncubationApplication,
        catalog=build_catalog(),
        http=create_http,
        grpc=add_servicer,
    )


def main() -> None:
    asyncio.run(serve(spec()))


if __name__ == "__main__":
    main()
