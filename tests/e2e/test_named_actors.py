"""Named actors across the services: a person's act in one service, and what another service does in
reaction to it, are recorded with that person's subject and name, in the audit history and on the topic."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
import pytest

from ip_registry.domain.identifiers import uscc_check_character
from ipshare import bus
from ipshare.auth import Role
from ipshare.envelope import actor_of, decode_envelope
from ipshare.settings import BusSettings
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_devtools.stack import Stack
from ipshare_kernel.actor import Actor

pytestmark = pytest.mark.e2e

SUN_YU = {"subject": "oidc|sun-yu", "name": "Sun Yu", "role": "member"}


def person(stack: Stack, role: Role, subject: str, name: str, member_id: str | None = None) -> dict[str, str]:
    """A token of the stack's issuer naming the person behind it."""
    token = stack.issuer.mint(subject, [role.value], member_id=member_id, name=name)
    return {"Authorization": f"Bearer {token}"}


def created(response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


def urls(stack: Stack) -> dict[str, str]:
    return {s.name: s.base_url for s in stack.settings.services()}


def sole_owned_asset(stack: Stack, registry: str) -> tuple[str, str]:
    """A member admitted by a named administrator, and an asset its named staff member registers."""
    code = f"91{random.randrange(10**15):015d}"
    admitted = httpx.post(f"{registry}/members", headers=person(stack, Role.ADMIN, "oidc|he-jun", "He Jun"), json={
        "name": "Named Actors Polytechnic", "kind": "university", "state_established": True,
        "credit_code": code + uscc_check_character(code)})  # fmt: skip
    member_id: str = created(admitted)["id"]
    staff = person(stack, Role.MEMBER, SUN_YU["subject"], SUN_YU["name"], member_id)
    gao_ling = {"name": "Gao Ling", "member_id": member_id, "staff_number": "NA-1", "effective_date": "2025-01-01"}
    researcher = created(httpx.post(f"{registry}/researchers", headers=staff, json=gao_ling))
    asset = created(httpx.post(f"{registry}/assets", headers=staff, json={
        "title": "Named actors in a hash chain", "kind": "software_copyright", "jurisdiction": "CN",
        "ownership_effective_date": "2025-02-01", "disclosure_date": "2025-01-15", "registered_by": member_id,
        "owners": [{"member_id": member_id, "share_bps": 10_000}],
        "inventors": [{"researcher_id": researcher["id"], "contribution_bps": 10_000}]}))  # fmt: skip
    return member_id, asset["id"]


def history_until(stack: Stack, registry: str, asset_id: str, type_suffix: str) -> list[dict[str, Any]]:
    """The asset's audit history once an event of that type is in it (the dispatcher acts a moment later)."""
    auditor = {"Authorization": f"Bearer {stack.issuer.person_token(Role.AUDITOR)}"}
    for _ in range(60):
        response = httpx.get(f"{registry}/audit/aggregates/{asset_id}/history", headers=auditor)
        entries: list[dict[str, Any]] = response.json()["entries"] if response.status_code == 200 else []
        if any(e["type"].endswith(type_suffix) for e in entries):
            return entries
        time.sleep(1)
    raise AssertionError(f"no {type_suffix} in the history of {asset_id}")


async def envelopes_of(stack: Stack, aggregate_id: str) -> list[EventEnvelope]:
    settings = BusSettings(kafka_bootstrap_servers=stack.settings.kafka_bootstrap_servers or "")
    found = []
    async for batch in bus.read_from_beginning(settings, [bus.topic_of("ip-registry")], idle_seconds=2.0):
        envelopes = (decode_envelope(record.value) for record in batch)
        found += [e for e in envelopes if e.aggregate_id == aggregate_id]
    return sorted(found, key=lambda e: e.aggregate_version)


def test_the_registry_names_the_person_behind_a_transfer_that_commercialization_carried_out(stack: Stack) -> None:
    service = urls(stack)
    member_id, asset_id = sole_owned_asset(stack, service["ip-registry"])
    staff = person(stack, Role.MEMBER, SUN_YU["subject"], SUN_YU["name"], member_id)
    sale = {"asset_id": asset_id, "assignee": "Buyer Manufacturing Co.", "proceeds": 500_000, "currency": "CNY",
            "effective_date": "2025-06-01"}  # fmt: skip
    proposed = created(httpx.post(f"{service['commercialization']}/assignments", json=sale, headers=staff))

    entries = history_until(stack, service["ip-registry"], asset_id, ".OwnershipAssignedOut")
    registered, assigned_out = entries[0], entries[-1]
    sun_yu = {**SUN_YU, "member_id": member_id}
    assert registered["actor"] == sun_yu
    assert assigned_out["actor"] == {"subject": "commercialization", "name": None, "member_id": None,
                                     "role": "service"}  # fmt: skip
    assert assigned_out["caused_by"] == sun_yu
    assert proposed["assignment_id"]

    envelopes = asyncio.run(envelopes_of(stack, asset_id))
    published = {e.type.rsplit(".", 1)[-1]: e for e in envelopes}
    sun_yu_actor = Actor("oidc|sun-yu", "member", "Sun Yu", member_id)
    assert actor_of(published["AssetRegistered"].actor) == sun_yu_actor
    assert actor_of(published["OwnershipAssignedOut"].actor) == Actor("commercialization", "service")
    assert actor_of(published["OwnershipAssignedOut"].caused_by) == sun_yu_actor
