"""Policy versions as revenue-share's own facts: an admin records one, it is never edited.

The fields are plain data (what the event and its protobuf payload carry), so a
version read back from the event store or from the topic is the same policy.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket
from revenue_share.domain.settlement import NAMESPACE

Policy = CenterPolicy | MemberPolicy


class Scope(StrEnum):
    CENTER = "center"
    MEMBER = "member"


def policy_key(version: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"policy/{version}")


def fields_of(policy: Policy) -> dict[str, Any]:
    """The plain-data form of a policy version (the event's fields)."""
    common = {"version": policy.version, "effective_date": policy.effective_date, "recorded_at": policy.recorded_at,
              "set_by": policy.set_by}  # fmt: skip
    if isinstance(policy, MemberPolicy):
        brackets = [{"from_amount": b.from_amount, "split": dict(b.split), "currency": b.currency}
                    for b in policy.split_brackets]  # fmt: skip
        return {**common, "scope": Scope.MEMBER.value, "member_id": policy.member_id,
                "fee_bps": 0, "recover_costs": False, "cost_cap_bps": None, "researcher_brackets": [],
                "minimum_payout": {}, "split_brackets": brackets}  # fmt: skip
    researchers = [{"from_amount": b.from_amount, "researchers_bps": b.researchers_bps, "currency": b.currency}
                   for b in policy.researcher_brackets]  # fmt: skip
    return {**common, "scope": Scope.CENTER.value, "member_id": "", "fee_bps": policy.fee_bps,
            "recover_costs": policy.recover_costs, "cost_cap_bps": policy.cost_cap_bps,
            "researcher_brackets": researchers, "minimum_payout": dict(policy.minimum_payout),
            "split_brackets": []}  # fmt: skip


def policy_of(fields: Mapping[str, Any]) -> Policy:
    """The policy a version's fields state (the inverse of `fields_of`). A bracket stored before
    thresholds had a currency reads with none: its threshold cuts income in every currency, as it
    did when the statements it shaped were issued (`policy.ResearcherBracket.currency`)."""
    if fields["scope"] == Scope.MEMBER:
        return MemberPolicy(
            fields["version"], fields["member_id"], fields["effective_date"], fields["recorded_at"],
            tuple(SplitBracket(b["from_amount"], b["split"], b.get("currency", "")) for b in fields["split_brackets"]),
            set_by=fields["set_by"],
        )  # fmt: skip
    return CenterPolicy(
        fields["version"], fields["effective_date"], fields["recorded_at"], fee_bps=fields["fee_bps"],
        recover_costs=fields["recover_costs"], cost_cap_bps=fields["cost_cap_bps"],
        researcher_brackets=tuple(ResearcherBracket(b["from_amount"], b["researchers_bps"], b.get("currency", ""))
                                  for b in fields["researcher_brackets"]),
        minimum_payout=fields["minimum_payout"], set_by=fields["set_by"],
    )  # fmt: skip


class PolicyVersion(Aggregate):
    """One version of the center's policy or of a member's own split, as an admin set it."""

    class Recorded(Aggregate.Created):
        version: str
        scope: str
        member_id: str
        effective_date: date
        recorded_at: datetime
        set_by: str
        fee_bps: int
        recover_costs: bool
        cost_cap_bps: int | None
        researcher_brackets: list[dict[str, Any]]
        minimum_payout: dict[str, int]
        split_brackets: list[dict[str, Any]]

    @staticmethod
    def create_id(version: str, **_: Any) -> uuid.UUID:
        return policy_key(version)

    @event(Recorded)
    def __init__(
        self,
        version: str,
        scope: str,
        member_id: str,
        effective_date: date,
        recorded_at: datetime,
        set_by: str,
        fee_bps: int,
        recover_costs: bool,
        cost_cap_bps: int | None,
        researcher_brackets: list[dict[str, Any]],
        minimum_payout: dict[str, int],
        split_brackets: list[dict[str, Any]],
    ) -> None:
        self.fields: dict[str, Any] = {
            "version": version, "scope": scope, "member_id": member_id, "effective_date": effective_date,
            "recorded_at": recorded_at, "set_by": set_by, "fee_bps": fee_bps, "recover_costs": recover_costs,
            "cost_cap_bps": cost_cap_bps, "researcher_brackets": researcher_brackets,
            "minimum_payout": minimum_payout, "split_brackets": split_brackets,
        }  # fmt: skip

    @classmethod
    def of(cls, policy: Policy) -> PolicyVersion:
        return cls(**fields_of(policy))

    @property
    def policy(self) -> Policy:
        return policy_of(self.fields)
