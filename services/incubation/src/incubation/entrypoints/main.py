"""`python -m incubation.entrypoints.main`: the incubation process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from incubation.adapters.directory import (
    DirectoryProjection,
    PatientDirectory,
    ProjectedDirectory,
)
from incubation.application import IncubationApplication
from incubation.catalog import SOURCE, build_catalog
from incubation.entrypoints.grpc import add_servicer
from incubation.entrypoints.http import create_http
from incubation.migrations import schema
from ipshare.consumer import Projection
from ipshare.runtime import Runtime, ServiceSpec, serve
from ipshare.settings import ReadModelPoolSettings
from ipshare_kernel.clock import SYSTEM_CLOCK, Clock


class IncubationSettings(ReadModelPoolSettings):
    http_port: int = 8003
    grpc_port: int = 8103
    reference_wait_seconds: float = 5.0  # how long a write waits for an id not yet learned from a topic


def spec(
    settings: IncubationSettings | None = None, clock: Clock = SYSTEM_CLOCK
) -> ServiceSpec[IncubationApplication, IncubationSettings]:
    settings = settings or IncubationSettings()

    def application(env: dict[str, str]) -> IncubationApplication:
        # Writes wait a moment for an id not learned yet; reads (names in answers) never wait.
        projected = ProjectedDirectory.connect(settings.database_url, settings.read_model_pool_size)
        patient = PatientDirectory(projected, settings.reference_wait_seconds)
        return IncubationApplication(env, patient, reads=projected, clock=clock)

    return ServiceSpec(
        name=SOURCE,
        settings=settings,
        application=application,
        catalog=build_catalog(),
        http=create_http,
        grpc=add_servicer,
        schema=schema,
        projections=_projections,
    )


def _projections(_: Runtime[Any, Any]) -> Sequence[Projection]:
    return [DirectoryProjection()]  # the registry's and commercialization's topics -> the ids incubation checks


def main() -> None:
    asyncio.run(serve(spec()))


if __name__ == "__main__":
    main()
