"""Pydantic pieces every service's HTTP API shares: strict request bodies and money."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ipshare.money import Money


class Body(BaseModel):
    """A request body: unknown fields are a 422, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MoneyIn(Body):
    amount_minor: int = Field(gt=0, description="integer minor units (e.g. fen, cents)")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")

    def money(self) -> Money:
        return Money(self.amount_minor, self.currency)


class MoneyOut(BaseModel):
    amount_minor: int
    currency: str
    formatted: str

    @classmethod
    def of(cls, value: Money) -> MoneyOut:
        return cls(amount_minor=value.amount, currency=value.currency, formatted=str(value))
