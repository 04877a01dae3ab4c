"""An agreed assignment changes ownership in the IP registry exactly once; one it refuses is recorded.

Both applications on the real PostgreSQL, the registry behind a real gRPC server,
commercialization asking it over the real client; the dispatcher runs again, and
twice at once, without a second change.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from commercialization.adapters.ip_registry_client import IpRegistryClient
from commercialization.application import CommercializationApplication
from commercialization.domain.assignment import Assignment, AssignmentStatus, TransferStatus
from commercialization.entrypoints.schemas import AssignmentOut
from commercialization.entrypoints.transfer_dispatcher import TransferDispatcher
from commercialization.migrations import schema
from ip_registry.application import IpRegistryApplication
from ip_registry.domain.asset import Asset
from ip_registry.domain.commands import AssetRegistration, InventorClaim
from ip_registry.entrypoints.grpc import IpRegistryServicer
from ipshare.auth import Principal, Role
from ipshare.eventstore import CommandContext, persistence_env
from ipshare.follower import Positions as SqlPositions
from ipshare.follower import RetryPolicy
from ipshare.grpc_runtime import create_server
from ipshare.settings import AuthSettings
from ipshare_contracts.ipregistry.v1 import service_pb2_grpc
from ipshare_devtools.testing.tables import migrated_engine
from ipshare_kernel.actor import Actor

from .conftest import ADMIN, admit

pytestmark = pytest.mark.integration

AUTH = AuthSettings(jwt_secret="ownership-transfer-integration-secret-0123")
AGREED_ON = date(2025, 3, 1)


def member(member_id: uuid.UUID) -> CommandContext:
    return CommandContext(Principal(Role.MEMBER, str(member_id), member_id))


@dataclass
class Stack:
    registry: IpRegistryApplication
    commercialization: CommercializationApplication
    client: IpRegistryClient
    engine: AsyncEngine
    uni: uuid.UUID
    corp: uuid.UUID
    lab: uuid.UUID

    def dispatcher(self, positions: SqlPositions | None = None) -> TransferDispatcher:
        positions = positions or SqlPositions(self.engine, "ownership-transfers")
        return TransferDispatcher(self.commercialization, self.client, positions, retry=RetryPolicy(0.05, 0.2))

    def registry_facts(self) -> int:
        return self.registry.recorder.max_notification_id() or 0


def co_owned_asset(stack: Stack) -> uuid.UUID:
    """Owned 60/40 by uni and corp since 2021-03-01."""
    inventor = stack.registry.register_researcher(
        ADMIN, name="Li", member_id=stack.uni, effective_date=date(2020, 1, 1)
    )
    return stack.registry.register_asset(
        ADMIN,
        AssetRegistration(
            title="Lattice", kind="invention_patent", jurisdiction="CN", registered_by=stack.uni,
            owners={stack.uni: 6000, stack.corp: 4000}, inventors=[InventorClaim(inventor, 10_000)],
            ownership_effective_date=date(2021, 3, 1), confirmed_by=[stack.corp],
        ),
    )  # fmt: skip


@pytest.fixture
async def stack(fresh_database: str) -> AsyncIterator[Stack]:
    env = persistence_env(fresh_database)  # each application has its own tables in the one database
    registry = IpRegistryApplication(env)
    server, _ = create_server(AUTH)
    service_pb2_grpc.add_IpRegistryServicer_to_server(IpRegistryServicer(lambda: registry, AUTH), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client = IpRegistryClient(f"127.0.0.1:{port}", AUTH)
    commercialization = CommercializationApplication(env, client)
    engine = await migrated_engine(fresh_database, schema)
    members = [admit(registry, name, n) for n, name in enumerate(("Uni", "Corp", "Lab"), start=1)]
    yield Stack(registry, commercialization, client, engine, *members)
    await engine.dispose()
    client.close()
    await server.stop(None)
    commercialization.close()
    registry.close()


async def agree_sale(stack: Stack, asset_id: uuid.UUID, buyer: uuid.UUID | None) -> uuid.UUID:
    """Propose and consent off the event loop: the blocking client calls the server running on it."""
    app = stack.commercialization
    sale = await asyncio.to_thread(
        app.propose_assignment, member(stack.uni), asset_id, "Buyer", 2_000_000, "CNY",
        assignee_member_id=buyer, effective_date=AGREED_ON,
    )  # fmt: skip
    await asyncio.to_thread(app.consent_to_assignment, member(stack.corp), sale, effective_date=AGREED_ON)
    return sale


def transfers_recorded(stack: Stack, asset_id: uuid.UUID) -> list[object]:
    kinds = (Asset.SharesTransferred, Asset.OwnershipAssignedOut)
    return [e for e in stack.registry.events.get(asset_id) if isinstance(e, kinds)]


async def test_the_registry_records_the_transfer_on_behalf_of_the_person_who_consented_last(stack: Stack) -> None:
    asset_id = co_owned_asset(stack)
    app = stack.commercialization
    sale = await asyncio.to_thread(
        app.propose_assignment, member(stack.uni), asset_id, "Buyer", 2_000_000, "CNY",
        assignee_member_id=stack.lab, effective_date=AGREED_ON,
    )  # fmt: skip
    qian = CommandContext(Principal(Role.MEMBER, "oidc|qian-lu", stack.corp, name="Qian Lu"))
    await asyncio.to_thread(app.consent_to_assignment, qian, sale, effective_date=AGREED_ON)
    await stack.dispatcher().dispatch_once()

    transferred = transfers_recorded(stack, asset_id)
    assert transferred
    for change in transferred:
        recorded = stack.registry.attribution(asset_id, change.originator_version)  # type: ignore[attr-defined]
        assert recorded.actor == Actor("commercialization", "service")
        assert recorded.caused_by == Actor("oidc|qian-lu", "member", "Qian Lu", str(stack.corp))


def completions(stack: Stack) -> list[Assignment.OwnershipTransferCompleted]:
    app = stack.commercialization
    events = [app.mapper.to_domain_event(n) for n in app.notifications_after(0, 10_000)]
    return [e for e in events if isinstance(e, Assignment.OwnershipTransferCompleted)]


async def test_the_registry_changes_ownership_once_however_often_the_dispatcher_runs(stack: Stack) -> None:
    asset_id = co_owned_asset(stack)
    sale = await agree_sale(stack, asset_id, stack.lab)
    assert stack.registry.ownership_as_of(ADMIN, asset_id, AGREED_ON) == {stack.uni: 6000, stack.corp: 4000}

    assert await stack.dispatcher().dispatch_once() == 1
    facts = stack.registry_facts()

    restarted = stack.dispatcher()  # resumes after the stored position: nothing to do
    restarted.position = await restarted.positions.load()
    assert await restarted.dispatch_once() == 0
    forgetful = SqlPositions(stack.engine, "ownership-transfers")
    await forgetful.save(0)  # as if it crashed before storing its position: the request goes again
    assert await stack.dispatcher(forgetful).dispatch_once() == 1

    assert stack.registry.ownership_as_of(ADMIN, asset_id, AGREED_ON) == {stack.lab: 10_000}
    assert stack.registry_facts() == facts  # the repeat stored nothing in the registry
    assert len(transfers_recorded(stack, asset_id)) == 2  # uni's and corp's shares, once each
    assignment = stack.commercialization.get_assignment(ADMIN, sale)
    assert (assignment.status, assignment.transfer_completed_on) == (AssignmentStatus.TRANSFERRED, AGREED_ON)
    assert len(completions(stack)) == 1


async def test_two_dispatchers_at_once_still_transfer_once(stack: Stack) -> None:
    asset_id = co_owned_asset(stack)
    await agree_sale(stack, asset_id, stack.lab)
    first, second = (stack.dispatcher(SqlPositions(stack.engine, name)) for name in ("a", "b"))
    assert await asyncio.gather(first.dispatch_once(), second.dispatch_once()) == [1, 1]
    assert len(transfers_recorded(stack, asset_id)) == 2
    assert len(completions(stack)) == 1
    assert stack.registry.ownership_as_of(ADMIN, asset_id, AGREED_ON) == {stack.lab: 10_000}


async def test_a_buyer_outside_the_membership_ends_the_members_ownership(stack: Stack) -> None:
    asset_id = co_owned_asset(stack)
    await agree_sale(stack, asset_id, None)
    assert await stack.dispatcher().dispatch_once() == 1
    assert stack.registry.ownership_as_of(ADMIN, asset_id, AGREED_ON) == {}
    assert stack.registry.ownership_as_of(ADMIN, asset_id, date(2025, 2, 28)) == {stack.uni: 6000, stack.corp: 4000}
    [completed] = completions(stack)
    assert (completed.owners, completed.assigned_out) == ([], True)


async def test_a_refused_transfer_is_recorded_for_finance_and_the_next_one_goes_ahead(stack: Stack) -> None:
    stale_asset, other_asset = co_owned_asset(stack), co_owned_asset(stack)
    stale = await agree_sale(stack, stale_asset, None)
    # The owners change in the registry after the sale was agreed: the registry will refuse it.
    stack.registry.transfer_shares(
        ADMIN, stale_asset, from_member_id=stack.uni, to_member_id=stack.lab, share_bps=1000,
        effective_date=date(2025, 2, 1),
    )  # fmt: skip
    following = await agree_sale(stack, other_asset, None)

    assert await stack.dispatcher().dispatch_once() == 2

    refused = stack.commercialization.get_assignment(ADMIN, stale)
    assert (refused.status, refused.transfer_status) == (AssignmentStatus.TRANSFER_REFUSED, TransferStatus.REFUSED)
    code, reason = refused.transfer_refusal or ("", "")
    assert (code, reason) == ("FAILED_PRECONDITION", "the owners changed since the assignment was agreed")
    shown = AssignmentOut.of(refused)  # what GET /assignments/{id} answers
    assert (shown.transfer_status, shown.transfer_refusal_code) == ("refused", "FAILED_PRECONDITION")
    assert stack.registry.ownership_as_of(ADMIN, stale_asset, AGREED_ON) == {stack.uni: 5000, stack.corp: 4000,
                                                                              stack.lab: 1000}  # fmt: skip
    assert stack.commercialization.get_assignment(ADMIN, following).transfer_status is TransferStatus.COMPLETED
    assert stack.registry.ownership_as_of(ADMIN, other_asset, AGREED_ON) == {}
    # The refused sale's invoice is cleared by a credit note; the completed one's still awaits payment.
    assert stack.commercialization.get_account(ADMIN, stale).open_balance() == {}  # nothing awaited
    assert stack.commercialization.get_account(ADMIN, following).open_balance() == {"CNY": 2_000_000}

    again = stack.dispatcher(SqlPositions(stack.engine, "forgetful"))  # from the start: both answered alike
    assert await again.dispatch_once() == 2
    assert len(completions(stack)) == 1
