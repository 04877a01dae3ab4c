"""TransferOwnership through a real in-process gRPC server: idempotent, and bad requests mapped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import TYPE_CHECKING

import grpc
import pytest

from ip_registry.entrypoints.grpc import IpRegistryServicer
from ipshare.auth import Role, issue_token
from ipshare.grpc_runtime import create_server
from ipshare.settings import AuthSettings
from ipshare_contracts.calendar.v1.date_pb2 import Date
from ipshare_contracts.ipregistry.v1 import events_pb2, service_pb2, service_pb2_grpc
from ipshare_devtools.testing.typed_twins import twin_disagreements

from .conftest import ADMIN, TODAY, Center
from .test_ownership_transfer import co_owned_asset

if TYPE_CHECKING:
    from ipshare_contracts.ipregistry.v1.service_pb2_grpc import IpRegistryAsyncStub as Stub

AUTH = AuthSettings(jwt_secret="ip-registry-grpc-transfer-test-secret-0123")


@pytest.fixture
async def stub(center: Center) -> AsyncIterator[Stub]:
    server, _ = create_server(AUTH)
    service_pb2_grpc.add_IpRegistryServicer_to_server(IpRegistryServicer(lambda: center.app, AUTH), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield service_pb2_grpc.IpRegistryStub(channel)
    await server.stop(None)


def service() -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {issue_token(AUTH, Role.SERVICE, subject='commercialization')}")]


def request(center: Center, asset: uuid.UUID | str, **changes: object) -> service_pb2.TransferOwnershipRequest:
    fields: dict[str, object] = {
        "request_id": "sale-1",
        "asset_id": str(asset),
        "from_owners": [
            events_pb2.OwnerShare(member_id=str(center.uni), share_bps=6000),
            events_pb2.OwnerShare(member_id=str(center.corp), share_bps=4000),
        ],
        "assignee": "Lab",
        "assignee_member_id": str(center.lab),
        "effective_date": "2024-07-01",
    }
    return service_pb2.TransferOwnershipRequest(**{**fields, **changes})  # type: ignore[arg-type]


async def test_a_repeat_gets_the_same_result_and_stores_nothing(center: Center, stub: Stub) -> None:
    asset_id = co_owned_asset(center)
    first = await stub.TransferOwnership(request(center, asset_id), metadata=service())
    stored = center.app.recorder.max_notification_id()
    again = await stub.TransferOwnership(request(center, asset_id), metadata=service())
    assert first == again
    assert [(o.member_id, o.share_bps) for o in first.owners] == [(str(center.lab), 10_000)]
    assert (first.effective_date, first.assigned_out) == ("2024-07-01", False)
    assert center.app.recorder.max_notification_id() == stored
    assert center.app.ownership_as_of(ADMIN, asset_id, date(2024, 7, 1)) == {center.lab: 10_000}


async def test_a_buyer_outside_the_membership_is_assigned_out(center: Center, stub: Stub) -> None:
    asset_id = co_owned_asset(center)
    result = await stub.TransferOwnership(
        request(center, asset_id, assignee="Buyer Ltd", assignee_member_id=""), metadata=service()
    )
    assert (list(result.owners), result.assigned_out) == ([], True)


async def test_failures_map_to_status_codes(center: Center, stub: Stub) -> None:
    asset_id = co_owned_asset(center)
    await stub.TransferOwnership(request(center, asset_id), metadata=service())
    member = [("authorization", f"Bearer {issue_token(AUTH, Role.MEMBER, center.uni)}")]
    cases = [
        (request(center, asset_id, assignee_member_id=""), service(), grpc.StatusCode.ALREADY_EXISTS),
        # the owners changed since "sale-1":
        (request(center, asset_id, request_id="sale-2"), service(), grpc.StatusCode.FAILED_PRECONDITION),
        (request(center, asset_id, request_id="sale-3"), member, grpc.StatusCode.PERMISSION_DENIED),
        (request(center, asset_id, request_id="sale-4"), [], grpc.StatusCode.UNAUTHENTICATED),
        (request(center, "nope"), service(), grpc.StatusCode.INVALID_ARGUMENT),
        (request(center, asset_id, effective_date=""), service(), grpc.StatusCode.INVALID_ARGUMENT),
        (request(center, asset_id, effective_date="1/7/2024"), service(), grpc.StatusCode.INVALID_ARGUMENT),
        (request(center, asset_id, request_id=""), service(), grpc.StatusCode.INVALID_ARGUMENT),
        (request(center, asset_id, assignee_member_id="x"), service(), grpc.StatusCode.INVALID_ARGUMENT),
        (request(center, uuid.uuid4(), request_id="sale-5"), service(), grpc.StatusCode.NOT_FOUND),
    ]  # fmt: skip
    for message, metadata, code in cases:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.TransferOwnership(message, metadata=metadata)
        assert failed.value.code() == code, (message, failed.value.details())


async def test_ownership_without_a_day_is_as_of_the_applications_clock(center: Center, stub: Stub) -> None:
    asset_id = co_owned_asset(center)
    await stub.TransferOwnership(request(center, asset_id), metadata=service())  # effective 2024-07-01, after TODAY
    asked = service_pb2.GetOwnershipAsOfRequest(asset_id=str(asset_id))
    ownership = await stub.GetOwnershipAsOf(asked, metadata=service())
    assert ownership.as_of == TODAY.isoformat()
    assert {(o.member_id, o.share_bps) for o in ownership.owners} == {(str(center.uni), 6000), (str(center.corp), 4000)}


async def test_a_request_with_only_the_typed_day_transfers_alike_and_the_reply_carries_both_forms(
    center: Center, stub: Stub
) -> None:
    asset_id = co_owned_asset(center)
    typed = request(center, asset_id, effective_date="", effective_day=Date(year=2024, month=7, day=1))
    result = await stub.TransferOwnership(typed, metadata=service())
    assert (result.effective_day, result.effective_date) == (Date(year=2024, month=7, day=1), "2024-07-01")
    assert center.app.ownership_as_of(ADMIN, asset_id, date(2024, 7, 1)) == {center.lab: 10_000}
    asked = service_pb2.GetOwnershipAsOfRequest(asset_id=str(asset_id), as_of_day=Date(year=2024, month=6, day=30))
    ownership = await stub.GetOwnershipAsOf(asked, metadata=service())
    assert (ownership.as_of, twin_disagreements(ownership)) == ("2024-06-30", [])
    assert {(o.member_id, o.share_bps) for o in ownership.owners} == {(str(center.uni), 6000), (str(center.corp), 4000)}
