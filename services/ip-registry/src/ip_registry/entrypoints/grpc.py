"""The ip-registry gRPC service other services call: GetAsset, GetOwnershipAsOf, ListAssets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import grpc

from ip_registry.application import IpRegistryApplication
from ip_registry.domain.asset import Asset
from ip_registry.domain.listing import MAX_LIMIT, AssetFilter, Page
from ip_registry.domain.ownership_transfer import OwnershipTransfer, TransferRequest
from ipshare.grpc_runtime import abort_for, parse_date, parse_uuid, run_use_case
from ipshare.runtime import Runtime
from ipshare.settings import AuthSettings
from ipshare.typed_fields import filled, text_of
from ipshare_contracts.ipregistry.v1 import events_pb2, service_pb2, service_pb2_grpc
from ipshare_kernel.errors import DomainError

Context = grpc.aio.ServicerContext[Any, Any]


def asset_message(asset: Asset) -> service_pb2.Asset:
    return filled(
        service_pb2.Asset(
            asset_id=str(asset.id),
            title=asset.title,
            kind=asset.kind.value,
            jurisdiction=asset.jurisdiction,
            status=asset.status.value,
            owners=_owners(asset.owners),
            inventors=[
                events_pb2.Inventor(
                    researcher_id=str(i.researcher_id),
                    name=i.name,
                    contribution_bps=i.contribution_bps,
                    affiliation_member_id=str(i.affiliation_member_id),
                )
                for i in asset.inventors
            ],
            version=asset.version,
        )
    )


def transfer_result(transfer: OwnershipTransfer) -> service_pb2.OwnershipTransferResult:
    return filled(service_pb2.OwnershipTransferResult(
        request_id=transfer.request_id, asset_id=str(transfer.asset_id), owners=_owners(transfer.owners),
        effective_date=transfer.effective_date.isoformat(), assigned_out=transfer.assigned_out,
    ))  # fmt: skip


async def _transfer_request(request: service_pb2.TransferOwnershipRequest, context: Context) -> TransferRequest:
    """The request's fields checked one by one: any bad one is INVALID_ARGUMENT naming it."""
    effective_date = await parse_date(context, request, "effective_day", date.min)
    if not request.request_id.strip() or effective_date == date.min or not request.from_owners:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request_id, effective_day and from_owners are required")
    buyer = request.assignee_member_id
    return TransferRequest(
        request_id=request.request_id.strip(),
        asset_id=await parse_uuid(context, request.asset_id),
        from_owners={await parse_uuid(context, o.member_id): o.share_bps for o in request.from_owners},
        assignee=request.assignee,
        assignee_member_id=await parse_uuid(context, buyer) if buyer else None,
        effective_date=effective_date,
    )


def _owners(shares: dict[uuid.UUID, int]) -> list[events_pb2.OwnerShare]:
    return [events_pb2.OwnerShare(member_id=str(m), share_bps=bps) for m, bps in sorted(shares.items(), key=str)]


class IpRegistryServicer(service_pb2_grpc.IpRegistryServicer):
    def __init__(self, application: Callable[[], IpRegistryApplication], auth: AuthSettings) -> None:
        self._application = application
        self._auth = auth

    async def GetAsset(self, request: service_pb2.GetAssetRequest, context: Context) -> service_pb2.Asset:
        asset_id = await parse_uuid(context, request.asset_id)
        asset = await run_use_case(context, self._auth, lambda ctx: self._application().get_asset(ctx, asset_id))
        return asset_message(asset)

    async def GetOwnershipAsOf(
        self, request: service_pb2.GetOwnershipAsOfRequest, context: Context
    ) -> service_pb2.Ownership:
        asset_id = await parse_uuid(context, request.asset_id)
        as_of = await parse_date(context, request, "as_of_day", self._application().clock.today())
        owners = await run_use_case(
            context, self._auth, lambda ctx: self._application().ownership_as_of(ctx, asset_id, as_of)
        )
        return filled(service_pb2.Ownership(asset_id=str(asset_id), as_of=as_of.isoformat(), owners=_owners(owners)))

    async def TransferOwnership(
        self, request: service_pb2.TransferOwnershipRequest, context: Context
    ) -> service_pb2.OwnershipTransferResult:
        transfer = await _transfer_request(request, context)
        done = await run_use_case(
            context, self._auth, lambda ctx: self._application().transfer_ownership(ctx, transfer)
        )
        return transfer_result(done)

    async def ListAssets(
        self, request: service_pb2.ListAssetsRequest, context: Context
    ) -> AsyncIterator[service_pb2.Asset]:
        """Every matching asset, read a page at a time so a large portfolio is never held whole."""
        owner = await parse_uuid(context, request.owner_member_id) if request.owner_member_id else None
        try:
            where = _asset_filter(request, owner)
        except DomainError as error:
            await abort_for(context, error)
            raise
        cursor: str | None = ""
        while cursor is not None:
            page = await self._page(context, where, cursor)
            for asset in page.items:
                yield asset_message(asset)
            cursor = page.next_cursor

    async def _page(self, context: Context, where: AssetFilter, cursor: str) -> Page[Asset]:
        app = self._application()
        return await run_use_case(
            context, self._auth, lambda ctx: app.list_assets(ctx, where, cursor=cursor, limit=MAX_LIMIT)
        )


def _asset_filter(request: service_pb2.ListAssetsRequest, owner: uuid.UUID | None) -> AssetFilter:
    return AssetFilter.parse(
        owner=owner, status=text_of(request, "asset_status"), kind=text_of(request, "asset_kind"),
        jurisdiction=request.jurisdiction,
        technology_field=request.technology_field, strategic=request.strategic,
    )  # fmt: skip


def add_servicer(runtime: Runtime[IpRegistryApplication, Any], server: grpc.aio.Server) -> list[str]:
    service_pb2_grpc.add_IpRegistryServicer_to_server(IpRegistryServicer(lambda: runtime.app, runtime.settings), server)
    return [service_pb2.DESCRIPTOR.services_by_name["IpRegistry"].full_name]
