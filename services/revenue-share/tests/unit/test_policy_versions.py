"""Policy versions travel as events and protobuf payloads and come back as the same policy."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from ipshare_contracts.revenueshare.v1 import events_pb2 as pb
from revenue_share.catalog import build_catalog
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket
from revenue_share.domain.policy_versions import Policy, PolicyVersion
from revenue_share.entrypoints.schemas import CenterPolicyIn
from revenue_share.rebuild import policy_from_message

RECORDED = datetime(2026, 11, 30, 9, 15, 0, 123456, tzinfo=UTC)
POLICIES: list[Policy] = [
    CenterPolicy(
        "center-2027",
        date(2027, 1, 1),
        RECORDED,
        fee_bps=1500,
        recover_costs=True,
        cost_cap_bps=5000,
        researcher_brackets=(ResearcherBracket(0, 7000), ResearcherBracket(1_000_000_00, 5000, "USD")),
        minimum_payout={"CNY": 10_000, "USD": 2_500},
        set_by="admin",
    ),
    CenterPolicy("no-cap", date(2026, 1, 1), RECORDED),
    MemberPolicy(
        "uni-2027",
        "c0ffee00-0000-4000-8000-000000000001",
        date(2027, 1, 1),
        RECORDED,
        (
            SplitBracket(0, {"inventors": 5000, "dept": 2000, "member": 3000}),
            SplitBracket(500_000_00, {"inventors": 6000, "member": 4000}, "CNY"),
            SplitBracket(800_000_00, {"inventors": 7000, "member": 3000}),  # stored before thresholds had a currency
        ),
        set_by="admin",
    ),
]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.version)
def test_a_version_comes_back_from_its_event_and_its_payload(policy: Policy) -> None:
    recorded = PolicyVersion.of(policy)
    [event] = recorded.collect_events()
    payload = build_catalog().payload(event)

    assert recorded.policy == policy
    assert isinstance(payload, pb.PolicyVersionRecorded)
    assert policy_from_message(pb.PolicyVersionRecorded.FromString(payload.SerializeToString())) == policy


def test_versions_are_their_own_aggregates() -> None:
    assert PolicyVersion.of(POLICIES[0]).id != PolicyVersion.of(POLICIES[2]).id
    assert PolicyVersion.of(POLICIES[0]).id == PolicyVersion.of(POLICIES[0]).id


def test_a_bracket_above_zero_without_its_currency_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        CenterPolicyIn.model_validate(
            {"version": "v1", "effective_date": "2027-01-01", "researcher_brackets": [
                {"from_amount": 0, "researchers_bps": 5000},
                {"from_amount": 300_000_000, "researchers_bps": 3000},
            ]}
        )  # fmt: skip
    assert "currency" in str(refused.value)
    assert refused.value.errors()[0]["loc"] == ("researcher_brackets", 1)
    accepted = CenterPolicyIn.model_validate(
        {"version": "v1", "effective_date": "2027-01-01", "researcher_brackets": [
            {"from_amount": 0, "researchers_bps": 5000},
            {"from_amount": 300_000_000, "currency": "USD", "researchers_bps": 3000},
        ]}
    )  # fmt: skip
    brackets = accepted.policy(RECORDED, "admin").researcher_brackets
    assert [b.currency for b in brackets] == ["", "USD"]
