"""ip-registry over gRPC: who owns an asset on a date, and carrying out agreed assignments.

The application is synchronous (eventsourcing is), and FastAPI runs its routes in a
thread pool, so this client uses a blocking channel: one call per asset at grant time.
The transfer dispatcher calls it from a worker thread too.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import cast

import grpc

from commercialization.domain.assignment import Assignment, TransferOutcome
from ipshare.grpc_runtime import caused_by_metadata, service_credentials
from ipshare.settings import AuthSettings
from ipshare.tracing import traced_channel
from ipshare.typed_fields import filled, required_date_of
from ipshare_contracts.ipregistry.v1 import events_pb2, service_pb2, service_pb2_grpc
from ipshare_kernel.actor import Actor
from ipshare_kernel.errors import Conflict, NotFound, Unavailable

# The registry judged the request itself: asking again will get the same answer until
# someone changes the facts (the owners, the buyer's membership, a request id's use).
_REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
    }
)


class RegistryUnavailable(Unavailable):
    code = "ip_registry_unavailable"


class TransferRefused(Conflict):
    """The registry refused the transfer request (not a transient failure)."""

    code = "ownership_transfer_refused"

    @property
    def grpc_status(self) -> str:
        return str(self.details.get("grpc_status", ""))

    @property
    def reason(self) -> str:
        """The registry's own words."""
        return str(self.details.get("reason", self.message))


class IpRegistryClient:
    """An `OwnershipLookup` asking the IP registry itself."""

    def __init__(self, address: str, auth: AuthSettings, caller: str = "commercialization", timeout: float = 5) -> None:
        self._channel = grpc.insecure_channel(address)
        self._stub = service_pb2_grpc.IpRegistryStub(traced_channel(self._channel))
        self._auth = auth
        self._caller = caller
        self._timeout = timeout

    def owners_as_of(self, asset_id: uuid.UUID, as_of: date) -> dict[uuid.UUID, int]:
        """Confirmed owners and their shares in basis points; NotFound for an unknown asset."""
        request = filled(service_pb2.GetOwnershipAsOfRequest(asset_id=str(asset_id), as_of=as_of.isoformat()))
        metadata = tuple(service_credentials(self._auth, self._caller))
        try:
            reply = self._stub.GetOwnershipAsOf(request, metadata=metadata, timeout=self._timeout)
        except grpc.RpcError as exc:
            call = cast(grpc.Call, exc)  # a blocking call's error is also its `grpc.Call`
            if call.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"asset {asset_id} is not in the IP registry", asset_id=str(asset_id)) from exc
            raise RegistryUnavailable(f"the IP registry did not answer: {call.details()}") from exc
        return {uuid.UUID(o.member_id): o.share_bps for o in reply.owners}

    def transfer_ownership(
        self, requested: Assignment.OwnershipTransferRequested, caused_by: Actor | None = None
    ) -> TransferOutcome:
        """Carry out an agreed assignment; the registry answers a repeat with the first result, and
        records the transfer as this service's, on behalf of `caused_by` (who made the request)."""
        request = filled(service_pb2.TransferOwnershipRequest(
            request_id=str(requested.request_id), asset_id=str(requested.asset_id),
            from_owners=[events_pb2.OwnerShare(member_id=str(o["member_id"]), share_bps=int(o["share_bps"]))
                         for o in requested.from_owners],
            assignee=requested.assignee, assignee_member_id=requested.assignee_member_id,
            effective_date=requested.effective_date.isoformat(),
        ))  # fmt: skip
        metadata = (*service_credentials(self._auth, self._caller), *caused_by_metadata(caused_by))
        try:
            reply = self._stub.TransferOwnership(request, metadata=metadata, timeout=self._timeout)
        except grpc.RpcError as exc:
            call = cast(grpc.Call, exc)
            if call.code() in _REFUSALS:
                raise TransferRefused(
                    f"the IP registry refused the transfer: {call.details()}",
                    grpc_status=call.code().name,
                    reason=call.details() or "",
                ) from exc
            raise RegistryUnavailable(f"the IP registry did not answer: {call.details()}") from exc
        return TransferOutcome(
            request_id=uuid.UUID(reply.request_id),
            owners={uuid.UUID(o.member_id): o.share_bps for o in reply.owners},
            effective_date=required_date_of(reply, "effective_day"),
        )

    def close(self) -> None:
        self._channel.close()
