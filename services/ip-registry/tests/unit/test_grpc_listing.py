"""ListAssets through a real in-process gRPC server: the filters of GET /assets, streamed past a page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import TYPE_CHECKING

import grpc
import pytest

from ip_registry.domain.commands import AssetRegistration, InventorClaim
from ip_registry.domain.identifiers import cn_application_check_character
from ip_registry.domain.listing import MAX_LIMIT
from ip_registry.entrypoints.grpc import IpRegistryServicer
from ipshare.auth import Role, issue_token
from ipshare.eventstore import persistence_env
from ipshare.grpc_runtime import create_server
from ipshare.settings import AuthSettings
from ipshare_contracts.ipregistry.v1 import events_pb2, service_pb2, service_pb2_grpc

from .conftest import ADMIN, Center

if TYPE_CHECKING:
    from ipshare_contracts.ipregistry.v1.service_pb2_grpc import IpRegistryAsyncStub as Stub

AUTH = AuthSettings(jwt_secret="ip-registry-grpc-listing-test-secret-0123")
COUNT = MAX_LIMIT + 3  # more than one page


@pytest.fixture
def event_store_env() -> dict[str, str]:
    return persistence_env(None)


@pytest.fixture
async def stub(center: Center) -> AsyncIterator[Stub]:
    server, _ = create_server(AUTH)
    service_pb2_grpc.add_IpRegistryServicer_to_server(IpRegistryServicer(lambda: center.app, AUTH), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield service_pb2_grpc.IpRegistryStub(channel)
    await server.stop(None)


def credentials(role: Role = Role.SERVICE) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {issue_token(AUTH, role, subject='tester')}")]


def register_many(c: Center) -> list[str]:
    """Filed CN patents; every third one tagged key_core and in batteries."""
    ids = []
    for n in range(COUNT):
        digits = f"20211{n:07d}"
        registration = AssetRegistration(
            title=f"Asset {n}", kind="invention_patent", jurisdiction="CN", registered_by=c.uni,
            owners={c.uni: 10_000}, inventors=[InventorClaim(c.alice, 10_000)],
            application_number=f"{digits}.{cn_application_check_character(digits)}", status="filed",
            filing_date=date(2021, 3, 1), technology_field="Batteries" if n % 3 == 0 else "robotics",
            strategic_reserve="key_core" if n % 3 == 0 else "",
        )  # fmt: skip
        ids.append(str(c.app.register_asset(ADMIN, registration)))
    return ids


async def listed(stub: Stub, **filters: str | int) -> list[str]:
    request = service_pb2.ListAssetsRequest(**filters)
    return [asset.asset_id async for asset in stub.ListAssets(request, metadata=credentials())]


async def test_list_assets_streams_every_match_in_registration_order(center: Center, stub: Stub) -> None:
    ids = register_many(center)
    assert await listed(stub) == ids
    assert await listed(stub, strategic="key_core", technology_field=" batteries ") == ids[::3]
    assert await listed(stub, jurisdiction="cn", status="filed", kind="invention_patent") == ids
    assert await listed(stub, status="granted") == []
    typed = {"asset_status": events_pb2.ASSET_STATUS_FILED, "asset_kind": events_pb2.ASSET_KIND_INVENTION_PATENT}
    assert await listed(stub, **typed) == ids
    assert await listed(stub, asset_status=events_pb2.ASSET_STATUS_GRANTED) == []
    assert await listed(stub, owner_member_id=str(center.corp)) == []


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"status": "pending"}, "status: unknown asset status"),
        ({"strategic": "yes"}, "strategic: unknown strategic reserve filter"),
        ({"owner_member_id": "nobody"}, "is not a UUID"),
    ],
)
async def test_a_bad_filter_is_invalid_argument(stub: Stub, filters: dict[str, str], message: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await listed(stub, **filters)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert message in str(caught.value.details())
