"""ip-registry over gRPC: who owns an asset on a date.

The application is synchronous (eventsourcing is), and FastAPI runs its routes in a
thread pool, so this client uses a blocking channel: one call per asset at grant time.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import cast

import grpc

from ipshare.errors import DomainError, NotFound
from ipshare.grpc_runtime import service_credentials
from ipshare.settings import AuthSettings
from ipshare_contracts.ipregistry.v1 import service_pb2, service_pb2_grpc


class RegistryUnavailable(DomainError):
    status = 503
    code = "ip_registry_unavailable"


class IpRegistryClient:
    """An `OwnershipLookup` asking the IP registry itself."""

    def __init__(self, address: str, auth: AuthSettings, caller: str = "commercialization", timeout: float = 5) -> None:
        self._channel = grpc.insecure_channel(address)
        self._stub = service_pb2_grpc.IpRegistryStub(self._channel)
        self._auth = auth
        self._caller = caller
        self._timeout = timeout

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> dict[uuid.UUID, int]:
        """Confirmed owners and their shares in basis points; NotFound for an unknown asset."""
        request = service_pb2.GetOwnershipAsOfRequest(asset_id=str(asset_id), as_of=as_of.isoformat())
        metadata = tuple(service_credentials(self._auth, self._caller))
        try:
            reply = self._stub.GetOwnershipAsOf(request, metadata=metadata, timeout=self._timeout)
        except grpc.RpcError as exc:
            call = cast(grpc.Call, exc)  # a blocking call's error is also its `grpc.Call`
            if call.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"asset {asset_id} is not in the IP registry", asset_id=str(asset_id)) from exc
            raise RegistryUnavailable(f"the IP registry did not answer: {call.details()}") from exc
        return {uuid.UUID(o.member_id): o.share_bps for o in reply.owners}

    def close(self) -> None:
        self._channel.close()
