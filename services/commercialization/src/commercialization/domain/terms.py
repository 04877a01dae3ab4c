"""Royalty terms of a license: fees, running royalty tiers, minimums, milestones.

Events store terms as plain dicts (`as_event_dict`), shaped like the protobuf
`RoyaltyTerms` message, and read them back with `RoyaltyTerms.from_event_dict`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ipshare_kernel.errors import DomainError
from ipshare_kernel.money import BASIS_POINTS, CurrencyError, Money, check_currency


@dataclass(frozen=True, slots=True)
class Tier:
    """`rate_bps` applies to the part of cumulative net sales at or above `threshold` (minor units)."""

    threshold: int
    rate_bps: int


@dataclass(frozen=True, slots=True)
class Milestone:
    name: str
    amount: int  # in the terms' currency


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def _check_tiers(currency: str, tiers: Sequence[Tier]) -> None:
    if not tiers or tiers[0].threshold != 0:
        raise DomainError("a royalty schedule starts with a tier at threshold 0", currency=currency)
    thresholds = [t.threshold for t in tiers]
    if any(b <= a for a, b in itertools.pairwise(thresholds)):
        raise DomainError("tier thresholds must increase strictly", currency=currency, thresholds=thresholds)
    if any(not 0 <= t.rate_bps <= BASIS_POINTS for t in tiers):
        raise DomainError("tier rates must lie in 0..10000 basis points", currency=currency)


@dataclass(frozen=True, slots=True)
class RoyaltyTerms:
    """All amounts are in minor units of `currency`, except the running royalty schedules,
    which are per currency of sales (each kept apart: no exchange rates are assumed)."""

    currency: str
    upfront_fee: int = 0
    annual_maintenance_fee: int = 0
    running_royalty: Mapping[str, tuple[Tier, ...]] = field(default_factory=dict)
    minimum_annual_royalty: int = 0  # counts royalties in `currency` only
    milestones: tuple[Milestone, ...] = ()
    sublicense_share_bps: int = 0
    patent_cost_reimbursement: bool = False
    asset_split_bps: Mapping[str, int] = field(default_factory=dict)  # asset id -> share; empty: not stated
    payment_days: int = 30

    @classmethod
    def flat(cls, currency: str, royalty_rate_bps: int = 0, **kwargs: Any) -> RoyaltyTerms:
        """One running royalty rate on all net sales in `currency`."""
        schedule = {currency: (Tier(0, royalty_rate_bps),)} if royalty_rate_bps else {}
        return cls(currency=currency, running_royalty=schedule, **kwargs)

    def validate(self, asset_ids: Sequence[str]) -> None:
        try:
            check_currency(self.currency)
            for currency in self.running_royalty:
                check_currency(currency)
        except CurrencyError as exc:
            raise DomainError(str(exc)) from None
        amounts = [self.upfront_fee, self.annual_maintenance_fee, self.minimum_annual_royalty]
        if any(a < 0 for a in amounts) or any(m.amount < 0 for m in self.milestones):
            raise DomainError("fees, minimums and milestone amounts cannot be negative")
        for currency, tiers in self.running_royalty.items():
            _check_tiers(currency, tiers)
        names = [m.name for m in self.milestones]
        if len(set(names)) != len(names) or not all(names):
            raise DomainError("milestones need distinct, non-empty names", milestones=names)
        if not 0 <= self.sublicense_share_bps <= BASIS_POINTS:
            raise DomainError("the sublicense share must lie in 0..10000 basis points")
        if self.payment_days < 0:
            raise DomainError("payment days cannot be negative")
        self._validate_split(asset_ids)

    def _validate_split(self, asset_ids: Sequence[str]) -> None:
        if not self.asset_split_bps:
            return
        if set(self.asset_split_bps) != set(asset_ids):
            raise DomainError("the asset split must name exactly the licensed assets")
        if sum(self.asset_split_bps.values()) != BASIS_POINTS or min(self.asset_split_bps.values()) < 0:
            raise DomainError("the asset split must be non-negative and sum to 10000 basis points")

    @property
    def is_cashless(self) -> bool:
        return not (
            self.upfront_fee
            or self.annual_maintenance_fee
            or self.running_royalty
            or self.minimum_annual_royalty
            or self.milestones
            or self.sublicense_share_bps
            or self.patent_cost_reimbursement
        )

    @property
    def headline_rate_bps(self) -> int:
        """The first-tier rate in the terms' own currency (0 without a running royalty)."""
        tiers = self.running_royalty.get(self.currency) or next(iter(self.running_royalty.values()), ())
        return tiers[0].rate_bps if tiers else 0

    def milestone(self, name: str) -> Money:
        for m in self.milestones:
            if m.name == name:
                return Money(m.amount, self.currency)
        raise DomainError(f"the terms name no milestone {name!r}", milestones=[m.name for m in self.milestones])

    def as_event_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "upfront_fee": _money(self.upfront_fee, self.currency),
            "annual_maintenance_fee": _money(self.annual_maintenance_fee, self.currency),
            "running_royalty": [
                {"currency": c, "tiers": [{"threshold": t.threshold, "rate_bps": t.rate_bps} for t in tiers]}
                for c, tiers in sorted(self.running_royalty.items())
            ],
            "minimum_annual_royalty": _money(self.minimum_annual_royalty, self.currency),
            "milestones": [{"name": m.name, "amount": _money(m.amount, self.currency)} for m in self.milestones],
            "sublicense_share_bps": self.sublicense_share_bps,
            "patent_cost_reimbursement": self.patent_cost_reimbursement,
            "asset_split": [{"asset_id": a, "share_bps": s} for a, s in sorted(self.asset_split_bps.items())],
            "payment_days": self.payment_days,
        }

    @classmethod
    def from_event_dict(cls, data: Mapping[str, Any]) -> RoyaltyTerms:
        return cls(
            currency=data["currency"],
            upfront_fee=data["upfront_fee"]["amount"],
            annual_maintenance_fee=data["annual_maintenance_fee"]["amount"],
            running_royalty={
                s["currency"]: tuple(Tier(t["threshold"], t["rate_bps"]) for t in s["tiers"])
                for s in data["running_royalty"]
            },
            minimum_annual_royalty=data["minimum_annual_royalty"]["amount"],
            milestones=tuple(Milestone(m["name"], m["amount"]["amount"]) for m in data["milestones"]),
            sublicense_share_bps=data["sublicense_share_bps"],
            patent_cost_reimbursement=data["patent_cost_reimbursement"],
            asset_split_bps={s["asset_id"]: s["share_bps"] for s in data["asset_split"]},
            payment_days=data["payment_days"],
        )
