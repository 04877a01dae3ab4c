"""Bodies of the revenue-share HTTP API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from ipshare.schemas import ActorOut, Body
from ipshare_kernel.actor import Actor
from ipshare_kernel.errors import DomainError
from revenue_share.domain.facts import PayeeKind, Step
from revenue_share.domain.policy import CenterPolicy, MemberPolicy, ResearcherBracket, SplitBracket
from revenue_share.domain.policy_versions import Policy, Scope, fields_of
from revenue_share.domain.settlement import SettlementPeriod
from revenue_share.domain.statements import Reconciliation, Statement


class OpenPeriod(Body):
    # Any script (a Location header carries it percent-encoded); not a slash, which no path could hold.
    period_id: str = Field(min_length=1, max_length=40, pattern=r"^[^/\x00-\x1f\x7f]+$", examples=["2026-Q4"])
    start: date
    end: date


class Covered(BaseModel):
    topic: str
    partition: int
    position: int = Field(description="the last event position (in the source service's log) the close took in")


_COVERS = Field(
    description="per source topic and partition, up to where the close read: at least everything the source "
    "topics held when the close was requested; later facts come in the next period"
)


class PeriodOut(BaseModel):
    period_id: str
    start: date
    end: date
    status: Literal["open", "closed"]
    closed_at: datetime | None
    closed_by: ActorOut | None = Field(description="who closed it; null while open, or for a close recorded "
                                       "before actors were kept")  # fmt: skip
    statement_hash: str
    covers: list[Covered] = _COVERS

    @classmethod
    def of(cls, period: SettlementPeriod, closed_by: Actor | None) -> PeriodOut:
        return cls(
            period_id=period.period_id,
            start=period.start,
            end=period.end,
            status="closed" if period.closed_at else "open",
            closed_at=period.closed_at,
            closed_by=ActorOut.of(closed_by),
            statement_hash=period.statement_hash,
            covers=[Covered(**mark) for mark in period.marks],
        )


class Closed(BaseModel):
    period_id: str
    statement_hash: str
    closed_at: datetime
    closed_by: ActorOut | None
    covers: list[Covered] = _COVERS

    @classmethod
    def of(cls, period: SettlementPeriod, closed_by: Actor | None) -> Closed:
        assert period.closed_at is not None
        covers = [Covered(**mark) for mark in period.marks]
        return cls(period_id=period.period_id, statement_hash=period.statement_hash, closed_at=period.closed_at,
                   closed_by=ActorOut.of(closed_by), covers=covers)  # fmt: skip


class PayeeOut(BaseModel):
    kind: PayeeKind
    id: str
    account: str


class LineOut(BaseModel):
    currency: str
    step: Step
    amount: int
    policy_version: str
    adjustment: bool
    reason: str
    sources_digest: str = Field(description="sha256 over the line's source groups; GET .../explain lists them")


class BalanceOut(BaseModel):
    currency: str
    carried_in: int
    entitled: int
    paid: int
    carried_out: int


class StatementOut(BaseModel):
    period_id: str
    payee: PayeeOut
    closed_at: datetime | None
    closed_by: ActorOut | None = Field(description="who closed the period that issued it; null while provisional")
    lines: list[LineOut]
    balances: list[BalanceOut]

    @classmethod
    def of(cls, s: Statement, closed_by: Actor | None = None) -> StatementOut:
        return cls(
            period_id=s.period_id,
            payee=PayeeOut(kind=s.payee.kind, id=s.payee.id, account=s.payee.account),
            closed_at=s.closed_at,
            closed_by=ActorOut.of(closed_by) if s.closed_at else None,
            lines=[
                LineOut(
                    currency=line.currency,
                    step=line.step,
                    amount=line.amount,
                    policy_version=line.policy_version,
                    adjustment=line.adjustment,
                    reason=line.reason,
                    sources_digest=line.sources_digest,
                )
                for line in s.lines
            ],
            balances=[BalanceOut(**asdict(b)) for b in s.balances],
        )


class PayoutOut(BaseModel):
    """One payee's money in one currency for a period (provisional while it is open)."""

    payee: PayeeOut
    currency: str
    entitled: int
    paid: int
    carried_out: int


class ReconciliationOut(BaseModel):
    period_id: str
    currency: str
    receipts: int
    carried_in: int
    operating_fees: int
    cost_recoveries: int
    payouts: int
    carried_forward: int
    residual: int
    unallocated: int = Field(
        description="of carried_forward: owners' shares of receipts on assets no member owned on the receipt date "
        "(assigned out of the membership), held for finance to settle"
    )

    @classmethod
    def of(cls, r: Reconciliation) -> ReconciliationOut:
        return cls(**asdict(r))


_THRESHOLD_CURRENCY = Field(
    None,
    pattern=r"^[A-Z]{3}$",
    description="ISO 4217 code of `from_amount`: required above 0. The threshold cuts only a license's income in "
    "that currency (a USD threshold never triggers on CNY income); the first bracket, from 0, applies in every one",
)


class _Threshold(Body):
    from_amount: int = Field(ge=0, description="cumulative income of the license, minor units of `currency`")
    currency: str | None = _THRESHOLD_CURRENCY

    @model_validator(mode="after")
    def _threshold_names_its_currency(self) -> _Threshold:
        if self.from_amount > 0 and self.currency is None:
            raise PydanticCustomError("missing", "a threshold above 0 names its currency (field currency)")
        return self


class ResearcherBracketIn(_Threshold):
    researchers_bps: int = Field(ge=0, le=10_000)


class SplitBracketIn(_Threshold):
    split: dict[str, int] = Field(description="role (member, inventors, or an account) -> bps, summing to 10,000")


_VERSION = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9._:-]+$", examples=["center-2027"])


class CenterPolicyIn(Body):
    """The center-wide steps: cost recovery, the operating fee, the researchers' reward by bracket."""

    version: str = _VERSION
    effective_date: date
    fee_bps: int = Field(0, ge=0, le=10_000)
    recover_costs: bool = False
    cost_cap_bps: int | None = Field(None, ge=0, le=10_000)
    researcher_brackets: list[ResearcherBracketIn] = Field(min_length=1)
    minimum_payout: dict[str, int] = Field(default_factory=dict, description="currency -> minor units")

    def policy(self, recorded_at: datetime, set_by: str) -> CenterPolicy:
        brackets = tuple(ResearcherBracket(b.from_amount, b.researchers_bps, b.currency or "")
                         for b in self.researcher_brackets)  # fmt: skip
        return CenterPolicy(self.version, self.effective_date, recorded_at, self.fee_bps, self.recover_costs,
                            self.cost_cap_bps, brackets, self.minimum_payout, set_by)  # fmt: skip


class MemberPolicyIn(Body):
    """A member's own split of its share, by bracket of the license's cumulative income."""

    version: str = _VERSION
    effective_date: date
    split_brackets: list[SplitBracketIn] = Field(min_length=1)

    def policy(self, member_id: str, recorded_at: datetime, set_by: str) -> MemberPolicy:
        brackets = tuple(SplitBracket(b.from_amount, b.split, b.currency or "") for b in self.split_brackets)
        return MemberPolicy(self.version, member_id, self.effective_date, recorded_at, brackets, set_by)


class PolicyOut(BaseModel):
    version: str
    scope: Scope
    member_id: str
    effective_date: date
    recorded_at: datetime
    set_by: str
    fee_bps: int
    recover_costs: bool
    cost_cap_bps: int | None
    researcher_brackets: list[dict[str, object]] = Field(
        description="from_amount, researchers_bps and the threshold's currency (empty: every currency)"
    )
    minimum_payout: dict[str, int]
    split_brackets: list[dict[str, object]]

    @classmethod
    def of(cls, policy: Policy) -> PolicyOut:
        return cls(**fields_of(policy))


class SourceGroupOut(BaseModel):
    scope: str = Field(
        description="whose income the group is: an asset id, equity:<spin-off id>, or adjustment (a late "
        "fact's correction)"
    )
    digest: str
    receipt_ids: list[str]
    fact_ids: list[str]


class ExplainedLineOut(BaseModel):
    payee: PayeeOut
    line: LineOut
    sources: list[SourceGroupOut]


class ExplanationOut(BaseModel):
    period_id: str
    provisional: bool
    lines: list[ExplainedLineOut]

    @classmethod
    def of(cls, period_id: str, provisional: bool, statements: list[Statement]) -> ExplanationOut:
        lines = []
        for statement in statements:
            out = StatementOut.of(statement)
            for line, line_out in zip(statement.lines, out.lines, strict=True):
                sources = [SourceGroupOut(scope=g.scope, digest=g.digest, receipt_ids=list(g.receipt_ids),
                                          fact_ids=list(g.fact_ids)) for g in line.sources]  # fmt: skip
                lines.append(ExplainedLineOut(payee=out.payee, line=line_out, sources=sources))
        return cls(period_id=period_id, provisional=provisional, lines=lines)


KNOWN_AT = (
    "a recording time (ISO 8601 with an offset, e.g. 2027-01-05T09:00:00+08:00): recompute the period on the "
    "facts revenue-share had recorded by then. Not a business date: which receipts, ownership and policies "
    "belong to the period is decided by their business dates and the period's start and end."
)
AS_OF = "the former name of `known_at` (a recording time, not a business date); use `known_at`"


def _not_a_bare_date(value: Any) -> Any:
    if isinstance(value, str) and len(value) == len("2026-01-01"):
        try:
            date.fromisoformat(value)
        except ValueError:
            return value
        raise ValueError(
            "this is a recording time, not a business date: give a time with an offset "
            f"(e.g. {value}T00:00:00+08:00) to see what revenue-share had recorded by then"
        )
    return value


RecordingTime = Annotated[AwareDatetime, BeforeValidator(_not_a_bare_date)]


def one_recording_time(known_at: datetime | None, as_of: datetime | None) -> datetime | None:
    if known_at is not None and as_of is not None:
        raise DomainError("give known_at or its former name as_of, not both", field="as_of")
    return known_at if known_at is not None else as_of
