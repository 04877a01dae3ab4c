"""The incubation gRPC service: GetCapTable and GetSeedProject, as the caller may read them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import grpc

from incubation.application import IncubationApplication
from incubation.domain.seed_project import SeedProject
from incubation.domain.spin_off import SpinOff
from ipshare.grpc_runtime import parse_date, parse_uuid, run_use_case
from ipshare.runtime import Runtime
from ipshare.settings import AuthSettings
from ipshare.typed_fields import filled
from ipshare_contracts.incubation.v1 import service_pb2 as pb
from ipshare_contracts.incubation.v1 import service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


def cap_table_message(spin_off: SpinOff, as_of: date) -> pb.CapTable:
    return filled(pb.CapTable(
        spin_off_id=str(spin_off.id), name=spin_off.name, as_of=as_of.isoformat(), version=spin_off.version,
        holdings=[pb.Holding(holder_kind=h[0], holder_id=h[1], share_class=c, quantity=q)
                  for (h, c), q in sorted(spin_off.holdings(as_of).items())],
        fully_diluted=[pb.DilutedLine(holder_kind=line.holder[0] if line.holder else "",
                                      holder_id=line.holder[1] if line.holder else "",
                                      shares=line.shares, options=line.options)
                       for line in spin_off.fully_diluted(as_of)],
    ))  # fmt: skip


def seed_project_message(project: SeedProject) -> pb.SeedProject:
    return filled(pb.SeedProject(
        seed_project_id=str(project.id), spin_off_id=project.spin_off_id, title=project.title,
        currency=project.currency, committed=project.committed.amount, released=project.released.amount,
        version=project.version,
        milestones=[pb.MilestoneStatus(milestone_id=m.milestone_id, description=m.description,
                                       due_date=m.due_date.isoformat(), status=str(m.status), tranche=m.tranche.amount,
                                       released_on=m.released_on.isoformat() if m.released_on else "")
                    for m in project.milestones.values()],
    ))  # fmt: skip


class IncubationServicer(service_pb2_grpc.IncubationServicer):
    def __init__(self, application: Callable[[], IncubationApplication], auth: AuthSettings) -> None:
        self._application = application
        self._auth = auth

    async def GetCapTable(self, request: pb.GetCapTableRequest, context: Context) -> pb.CapTable:
        spin_off_id = await parse_uuid(context, request.spin_off_id)
        app = self._application()
        as_of = await parse_date(context, request, "as_of_day", app.clock.today())
        spin_off = await run_use_case(context, self._auth, lambda ctx: app.get_spin_off(ctx, spin_off_id))
        return cap_table_message(spin_off, as_of)

    async def GetSeedProject(self, request: pb.GetSeedProjectRequest, context: Context) -> pb.SeedProject:
        project_id = await parse_uuid(context, request.seed_project_id)
        project = await run_use_case(
            context, self._auth, lambda ctx: self._application().get_seed_project(ctx, project_id)
        )
        return seed_project_message(project)


def add_servicer(runtime: Runtime[IncubationApplication, Any], server: grpc.aio.Server) -> list[str]:
    service_pb2_grpc.add_IncubationServicer_to_server(IncubationServicer(lambda: runtime.app, runtime.settings), server)
    return [pb.DESCRIPTOR.services_by_name["Incubation"].full_name]
