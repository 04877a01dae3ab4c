"""Art. 45 on the outcome: what a state-established member's researchers got of its net income.

For every state-established university or institute and every asset and currency, the
researchers credited through the member (its slice of the center's researchers' reward and
its own split's "inventors" role, paid to its inventors, or held while none is known) must
get at least half of the member's net income from transferring or licensing the asset: its
share of the income less the costs recovered from it (the center's operating fee is no cost
of the result: it counts against the floor). Figures are cumulative to a close's period end,
so adjustments count where they belong. Each allocation group is split with a few roundings
to the minor unit, so the researchers may be short by up to `ROUNDING_SLACK` minor units per
group; anything more is a shortfall. Equity proceeds are no transfer or licensing income.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from revenue_share.domain.facts import Member
from revenue_share.domain.waterfall import GroupSpec, researchers_credited, split_by_weight, split_owner_part

# An owner's part goes through four roundings (its share, the fee, the reward, its own split),
# each of which may cost the researchers less than one minor unit.
ROUNDING_SLACK = 4


@dataclass(frozen=True, slots=True)
class FloorShortfall:
    """A state-established member whose researchers got less than half its net income on an asset."""

    member_id: str
    kind: str
    asset_id: str
    currency: str
    net_income: int
    researchers: int
    groups: int

    @property
    def required(self) -> int:
        return -(-self.net_income // 2)

    @property
    def message(self) -> str:
        return (
            f"member {self.member_id} is a state-established {self.kind}: its researchers must get at least 50% of "
            f"its net income from transfer or licensing (Art. 45); on asset {self.asset_id} they get "
            f"{self.researchers:,} of {self.net_income:,} {self.currency} minor units, at least {self.required:,} "
            "are due: set a member policy that gives its inventors more"
        )


def floor_shortfalls(
    groups: Iterable[tuple[str, str, GroupSpec, int]], members: Mapping[str, Member]
) -> list[FloorShortfall]:
    """The shortfalls over allocation groups (asset, currency, spec, cumulative net) of `members`."""
    net: dict[tuple[str, str, str], int] = {}
    credited: dict[tuple[str, str, str], int] = {}
    counted: dict[tuple[str, str, str], int] = {}
    for asset_id, currency, spec, amount in groups:
        if not spec.owners or not amount or not any(m in members for m in spec.owners):
            continue
        for member_id, part in split_by_weight(amount, spec.owners).items():
            if member_id in members:
                key = (member_id, asset_id, currency)
                net[key] = net.get(key, 0) + part
                credited[key] = credited.get(key, 0) + researchers_credited(split_owner_part(part, member_id, spec))
                counted[key] = counted.get(key, 0) + 1
    found = []
    for key in sorted(net):
        member_id, asset_id, currency = key
        shortfall = FloorShortfall(member_id, str(members[member_id].kind), asset_id, currency, net[key],
                                   credited[key], counted[key])  # fmt: skip
        if shortfall.researchers < shortfall.required - ROUNDING_SLACK * shortfall.groups:
            found.append(shortfall)
    return found
