"""Messages as the contracts before typed fields wrote them read as the same facts; new ones carry both forms.

`contracts_as_released/before_typed_fields.binpb` is the descriptor set of the contracts as released
before the typed dates and kinds (dates and choices as strings only). A message built with it and
serialized is what a producer of that release put on a topic; events like it stay there, and
revenue-share replays them. Each sample below is read three ways: as that producer wrote it (text
only), as today's producers write it (text and typed), and typed only (as a producer will once
the text fields are retired); every reader must state the same facts from all three.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import Message

from commercialization.adapters.ownership import _change_of
from incubation.adapters.directory import _row
from ipshare.consumer import InboundEvent
from ipshare.typed_fields import fill_typed, iso_date_of, required_instant_of, twins
from ipshare_contracts.commercialization.v1 import events_pb2 as commercialization
from ipshare_contracts.envelope.v1.envelope_pb2 import EventEnvelope
from ipshare_contracts.incubation.v1 import events_pb2 as incubation
from ipshare_contracts.ipregistry.v1 import events_pb2 as registry
from ipshare_contracts.revenueshare.v1 import events_pb2 as revenue_share
from ipshare_devtools.testing.typed_twins import twin_disagreements
from revenue_share.adapters.inbox import fact_stated
from revenue_share.rebuild import payee_of, policy_from_message
from revenue_share.replay import issued_digest

BEFORE = Path(__file__).parent / "contracts_as_released" / "before_typed_fields.binpb"

OWNERS = [{"member_id": "m-1", "share_bps": 6000}, {"member_id": "m-2", "share_bps": 4000}]
INVENTORS = [{"researcher_id": "r-1", "name": "Li Wei", "contribution_bps": 10000, "affiliation_member_id": "m-1"}]
CNY = {"amount": 1_000_001, "currency": "CNY"}

# What the previous release's producers wrote: each payload's fields, dates and kinds as text.
SAMPLES: dict[type[Message], dict[str, Any]] = {
    commercialization.RevenueReceived: {
        "license_id": "l-1", "asset_ids": ["a-1"], "kind": "royalty", "amount": CNY, "effective_date": "2026-03-31",
        "payer_reference": "INV-1", "payment_id": "p-1", "invoice_id": "i-1",
        "asset_splits": [{"asset_id": "a-1", "amount": CNY}],
    },
    commercialization.RevenueRefunded: {
        "license_id": "l-1", "asset_ids": ["a-1"], "kind": "milestone", "amount": CNY, "effective_date": "2026-04-02",
        "payment_id": "p-1", "invoice_id": "i-1", "credit_note_id": "c-1",
    },
    registry.MemberAdmitted: {"name": "Huaxia University", "kind": "university", "state_established": True,
                              "effective_date": "2020-01-01"},
    registry.OwnershipEffective: {"owners": OWNERS, "effective_date": "2024-02-29"},
    registry.SharesTransferred: {"from_member_id": "m-1", "to_member_id": "m-2", "share_bps": 1000, "owners": OWNERS,
                                 "effective_date": "2025-06-30"},
    registry.OwnershipAssignedOut: {"assignee": "Acme", "from_owners": OWNERS, "request_id": "q-1",
                                    "effective_date": "2026-01-15"},
    registry.AssetRegistered: {
        "title": "Gear hobbing", "kind": "invention_patent", "status": "filed", "inventors": INVENTORS,
        "owners": OWNERS, "effective_date": "2024-03-01", "filing_date": "2023-11-20", "disclosure_date": "2023-10-02",
    },
    registry.InventorsCorrected: {"inventors": INVENTORS, "reason": "typo", "effective_date": "2024-05-05"},
    registry.CostRecorded: {"cost_id": "k-1", "kind": "annuity", "amount": {"amount": 90_000, "currency": "CNY"},
                            "paid_by": "m-1", "effective_date": "2025-12-31"},
    incubation.ProceedsDistributed: {
        "distribution_id": "d-1", "kind": "dividend", "record_date": "2026-06-30", "amount": CNY,
        "lines": [{"holder_kind": "member", "holder_id": "m-1", "amount": 600_000},
                  {"holder_kind": "researcher", "holder_id": "r-1", "amount": 400_001}],
        "asset_ids": ["a-1"], "effective_date": "2026-07-01",
    },
    revenue_share.StatementIssued: {
        "period_id": "2026", "payee_kind": "researcher", "payee_id": "r-1", "closed_at": "2027-01-05T00:00:00+00:00",
        "lines": [{"currency": "CNY", "step": "researchers_reward", "amount": 300_001, "policy_version": "2026-1",
                   "sources_digest": "ab"}],
    },
    revenue_share.PeriodOpened: {"period_id": "2026", "start": "2026-01-01", "end": "2026-12-31"},
    revenue_share.PeriodClosed: {"period_id": "2026", "closed_at": "2027-01-05T08:30:00.250000+08:00",
                                 "statement_hash": "ab", "statements": 1},
    revenue_share.PolicyVersionRecorded: {
        "version": "2026-1", "scope": "center", "effective_date": "2026-01-01",
        "recorded_at": "2025-12-20T09:00:00+00:00", "set_by": "admin", "fee_bps": 500, "recover_costs": True,
        "researcher_brackets": [{"from_amount": 0, "researchers_bps": 5000}],
    },
}  # fmt: skip


@cache
def previous_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(BEFORE.read_bytes()).file:
        pool.Add(file)
    return pool


def as_previously_written(message_class: type[Message], fields: dict[str, Any]) -> bytes:
    """The bytes a producer built on the previous release wrote for these fields."""
    previous = previous_pool().FindMessageTypeByName(message_class.DESCRIPTOR.full_name)
    return json_format.ParseDict(fields, message_factory.GetMessageClass(previous)()).SerializeToString()


def forms(message_class: type[Message]) -> dict[str, Message]:
    fields = SAMPLES[message_class]
    previous = message_class.FromString(as_previously_written(message_class, fields))
    current = json_format.ParseDict(fields, message_class())
    fill_typed(current)
    typed_only = message_class()
    typed_only.CopyFrom(current)
    clear_text(typed_only)
    return {"previous": previous, "current": current, "typed only": typed_only}


def clear_text(message: Message) -> None:
    """Drop every text twin of a typed field, in nested messages too."""
    for twin in twins(message):
        message.ClearField(twin.text)
    for field, value in message.ListFields():
        if field.message_type is not None and not field.message_type.GetOptions().map_entry:
            for item in value if field.is_repeated else [value]:
                clear_text(item)


def same_from_every_form(message_class: type[Message], read: Callable[[Message], Any]) -> Any:
    read_as = {name: read(message) for name, message in forms(message_class).items()}
    assert read_as["previous"] == read_as["current"] == read_as["typed only"], read_as
    return read_as["current"]


def test_every_sample_uses_only_fields_the_previous_release_had() -> None:
    for message_class, fields in SAMPLES.items():
        previous = previous_pool().FindMessageTypeByName(message_class.DESCRIPTOR.full_name)
        assert set(fields) <= set(previous.fields_by_name), message_class.DESCRIPTOR.full_name


STATED = [c for c in SAMPLES if c.DESCRIPTOR.file is not revenue_share.DESCRIPTOR]


@pytest.mark.parametrize("message_class", STATED, ids=lambda c: c.DESCRIPTOR.name)
def test_revenue_share_states_the_same_fact_from_a_message_of_the_previous_release(
    message_class: type[Message],
) -> None:
    assert same_from_every_form(message_class, lambda m: fact_stated("subject-1", m)) is not None


def test_the_inventors_count_from_the_earliest_date_known_in_every_form() -> None:
    _, body = same_from_every_form(registry.AssetRegistered, lambda m: fact_stated("a-1", m))
    assert body["effective_date"] == "2023-10-02"


def test_the_kind_of_a_receipt_and_the_holders_of_proceeds_read_the_same_in_every_form() -> None:
    _, receipt = same_from_every_form(commercialization.RevenueReceived, lambda m: fact_stated("l-1", m))
    assert (receipt["kind"], receipt["effective_date"]) == ("royalty", "2026-03-31")
    _, equity = same_from_every_form(incubation.ProceedsDistributed, lambda m: fact_stated("s-1", m))
    assert equity["members"] == {"m-1": 600_000}


def test_a_replayed_policy_version_of_the_previous_release_is_the_same_policy() -> None:
    policy = same_from_every_form(revenue_share.PolicyVersionRecorded, policy_from_message)
    assert (str(policy.effective_date), policy.version) == ("2026-01-01", "2026-1")


def test_a_replayed_statement_of_the_previous_release_has_the_same_payee_and_lines() -> None:
    payee = same_from_every_form(revenue_share.StatementIssued, payee_of)
    assert payee.startswith("researcher")
    same_from_every_form(revenue_share.StatementIssued, lambda m: issued_digest(m.lines))


def test_a_replayed_period_of_the_previous_release_has_the_same_bounds() -> None:
    bounds = same_from_every_form(
        revenue_share.PeriodOpened, lambda m: (iso_date_of(m, "start_day"), iso_date_of(m, "end_day"))
    )
    assert bounds == ("2026-01-01", "2026-12-31")


def test_a_replayed_close_of_the_previous_release_is_at_the_same_instant() -> None:
    closed_at = same_from_every_form(revenue_share.PeriodClosed, lambda m: required_instant_of(m, "close_time"))
    assert closed_at == datetime(2027, 1, 5, 0, 30, 0, 250_000, tzinfo=UTC)


def test_a_replayed_policy_version_of_the_previous_release_was_recorded_at_the_same_instant() -> None:
    policy = same_from_every_form(revenue_share.PolicyVersionRecorded, policy_from_message)
    assert policy.recorded_at == datetime(2025, 12, 20, 9, tzinfo=UTC)


def inbound(payload: Message) -> InboundEvent:
    return InboundEvent(EventEnvelope(aggregate_id="a-1", position=7), payload)


@pytest.mark.parametrize("message_class", [registry.OwnershipEffective, registry.OwnershipAssignedOut])
def test_the_other_services_read_models_take_the_same_ownership_from_every_form(message_class: type[Message]) -> None:
    same_from_every_form(message_class, lambda m: _change_of(inbound(m)))
    same_from_every_form(message_class, lambda m: _row(inbound(m)))


@pytest.mark.parametrize("message_class", list(SAMPLES), ids=lambda c: c.DESCRIPTOR.name)
def test_a_message_written_now_carries_both_forms_and_a_previous_reader_reads_its_text(
    message_class: type[Message],
) -> None:
    current = forms(message_class)["current"]
    assert twin_disagreements(current) == []
    previous = previous_pool().FindMessageTypeByName(message_class.DESCRIPTOR.full_name)
    as_read_before = message_factory.GetMessageClass(previous).FromString(current.SerializeToString())
    fields = json_format.MessageToDict(as_read_before, preserving_proto_field_name=True)
    assert fields == json_format.MessageToDict(
        json_format.ParseDict(SAMPLES[message_class], as_read_before.__class__()), preserving_proto_field_name=True
    )
