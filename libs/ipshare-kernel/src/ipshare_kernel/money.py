"""Money as integers in minor units, and exact splits.

Amounts are never floats. A split uses largest-remainder allocation with a
stable tie-break (the sort order of the keys), so the parts always sum to the
whole, to the minor unit.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

BASIS_POINTS = 10_000

# ISO 4217 codes accepted here, with the number of digits in their minor unit.
MINOR_UNITS: Mapping[str, int] = {
    "AUD": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2,
    "GBP": 2, "HKD": 2, "IDR": 2, "INR": 2, "JPY": 0, "KRW": 0, "MOP": 2, "MXN": 2,
    "MYR": 2, "NOK": 2, "NZD": 2, "PLN": 2, "RUB": 2, "SAR": 2, "SEK": 2, "SGD": 2,
    "THB": 2, "TRY": 2, "TWD": 2, "USD": 2, "VND": 0, "ZAR": 2,
}  # fmt: skip


class CurrencyError(ValueError):
    """An amount in another currency, or a code that is not ISO 4217."""


def check_currency(code: str) -> str:
    """Return the code if it is a known ISO 4217 currency, else raise."""
    if code not in MINOR_UNITS:
        raise CurrencyError(f"unknown ISO 4217 currency code {code!r}")
    return code


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in the minor unit of its currency (fen, cents, yen)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("money amounts are integers in minor units")

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def _same(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")
        return other

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Money:
        """From the `{"amount", "currency"}` form stored in events and sent on the wire."""
        return cls(data["amount"], data["currency"])

    def as_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}

    def __str__(self) -> str:
        digits = MINOR_UNITS[self.currency]
        sign = "-" if self.amount < 0 else ""
        units, minor = divmod(abs(self.amount), 10**digits)
        return f"{sign}{units}.{minor:0{digits}d} {self.currency}" if digits else f"{sign}{units} {self.currency}"


class _Sortable(Hashable, Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_Sortable)


def allocate(total: int, weights: Mapping[K, int]) -> dict[K, int]:
    """Split `total` in proportion to integer `weights`, exactly.

    Each key gets the floor of its exact share; the minor units left over go one
    each to the keys with the largest remainders, ties broken by key order. A
    negative total (a credit) is split like its absolute value, then negated.
    """
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights must not be negative")
    whole = sum(weights.values())
    if whole <= 0:
        raise ValueError("weights must sum to more than zero")
    if total < 0:
        return {k: -v for k, v in allocate(-total, weights).items()}
    if len(set(weights.values())) == 1:  # equal parts (a receipt over several assets): the same result, quicker
        return equal_parts(total, sorted(weights))
    shares: dict[K, int] = {}
    remainders: list[tuple[int, K]] = []
    for key in sorted(weights):
        share, remainder = divmod(total * weights[key], whole)
        shares[key] = share
        remainders.append((remainder, key))
    left = total - sum(shares.values())
    # Largest remainder first; on equal remainders the smaller key wins (stable).
    remainders.sort(key=lambda rk: -rk[0])
    for _, key in remainders[:left]:
        shares[key] += 1
    return shares


def equal_parts(total: int, keys: Sequence[K]) -> dict[K, int]:
    """`allocate` over equal weights, for distinct keys given in key order: the first
    `abs(total) % len(keys)` keys get one minor unit more (a credit: one less)."""
    share, left = divmod(abs(total), len(keys))
    if total < 0:
        return {key: -(share + (rank < left)) for rank, key in enumerate(keys)}
    return {key: share + (rank < left) for rank, key in enumerate(keys)}


def basis_points_of(total: int, basis_points: int) -> int:
    """`basis_points`/10,000 of `total`, rounded half away from zero."""
    if not 0 <= basis_points <= BASIS_POINTS:
        raise ValueError("basis points must lie in 0..10000")
    sign = -1 if total < 0 else 1
    return sign * ((abs(total) * basis_points * 2 + BASIS_POINTS) // (2 * BASIS_POINTS))
