"""A spin-off company founded on center IP: its cap table, IP contributions, options and payouts.

One aggregate per company, so every rule that spans the cap table (authorized shares,
no negative holding, the option pool) is checked against one consistent state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from incubation.domain.cap_table import DilutedLine, Holder, Movement, check_movement, fully_diluted, holdings, issued
from incubation.domain.references import KnownAsset, KnownMember, require_owned_by
from incubation.domain.vesting import VestingTerms, add_months, vested
from ipshare_kernel.errors import Conflict, DomainError, NotFound
from ipshare_kernel.money import BASIS_POINTS, Money, allocate

STATUTORY_REWARD_BPS = 5_000  # Art. 45(2): at least 50% of the equity formed from contributed IP
HOLDER_KINDS = ("member", "researcher", "investor", "other")
FOUNDED_VIA = ("license", "capital_contribution")
WINDOW_UNITS = ("days", "months")
DISTRIBUTION_KINDS = ("dividend", "exit")


def _holder(kind: str, holder_id: str) -> Holder:
    if kind not in HOLDER_KINDS:
        raise DomainError(f"unknown holder kind {kind!r}", allowed=list(HOLDER_KINDS))
    if not holder_id.strip():
        raise DomainError("a holder needs an id")
    return (kind, holder_id.strip())


@dataclass
class Contribution:
    """IP contributed as capital (作价投资) and the researchers' reward out of the equity it formed."""

    contribution_id: str
    member_id: str
    asset_ids: list[str]
    valuation: Money
    share_class: str
    shares: int
    own_rule_document: str  # the member's own reward rule, by its document reference ("" if none)
    state_established: bool  # as the IP registry knew the member when it contributed
    contributed_on: date
    rewarded: int = 0

    @property
    def own_rule(self) -> bool:
        return bool(self.own_rule_document)

    @property
    def reward_bps(self) -> int:
        return self.rewarded * BASIS_POINTS // self.shares

    @property
    def below_statutory_floor(self) -> bool:
        """Under 50% where the floor binds: always for a state-established member, else without an own rule.

        Refused for new contributions; only contributions recorded before the rule was enforced show it.
        """
        return _floor_binds(self.state_established, self.own_rule_document) and self.reward_bps < STATUTORY_REWARD_BPS


def _floor_binds(state_established: bool, own_rule_document: str) -> bool:
    """Art. 45: the 50% floor applies unless the unit has its own rule; a state-established
    university or institute's own rule must meet it too (Art. 45, third paragraph)."""
    return state_established or not own_rule_document


def check_reward_floor(member: KnownMember, own_rule_document: str, rewarded: int, shares: int) -> None:
    """Refuse a researchers' reward below the statutory 50% of the contributed equity where it binds."""
    reward_bps = rewarded * BASIS_POINTS // shares
    if reward_bps >= STATUTORY_REWARD_BPS or not _floor_binds(member.state_established, own_rule_document):
        return
    if member.state_established:
        raise DomainError(
            f"{member.name} is state-established: its researchers receive at least 50% of the equity formed "
            "from its IP, under its own rule too (Art. 45)",
            field="rewards", reward_bps=reward_bps, required_bps=STATUTORY_REWARD_BPS,
        )  # fmt: skip
    raise DomainError(
        f"a reward under 50% of the equity needs {member.name}'s own reward rule: name its document in "
        "own_rule_document (Art. 45)", field="own_rule_document", reward_bps=reward_bps,
        required_bps=STATUTORY_REWARD_BPS,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExerciseWindow:
    """How long vested options stay exercisable after the grantee leaves: `length` days or months.

    A length of 0 (grants recorded before windows existed) keeps them exercisable until they expire.
    """

    length: int
    unit: str  # days | months

    def check(self) -> None:
        if self.unit not in WINDOW_UNITS or self.length < 0:
            raise DomainError("a post-departure exercise window is a number of days or months, not negative",
                              field="post_departure_window", unit=self.unit, length=self.length)  # fmt: skip

    def end(self, departed_on: date) -> date:
        """The first day the options can no longer be exercised."""
        if self.unit == "months":
            return add_months(departed_on, self.length)
        return departed_on + timedelta(days=self.length)

    def as_dict(self) -> dict[str, Any]:
        return {"length": self.length, "unit": self.unit}


NO_WINDOW = ExerciseWindow(0, "")


@dataclass
class OptionGrant:
    grant_id: str
    plan_id: str
    researcher_id: str
    quantity: int
    terms: VestingTerms
    expires_on: date
    granted_on: date
    exercise_price: Money  # per option, in minor units
    window: ExerciseWindow
    exercises: list[tuple[date, int]] = field(default_factory=list)
    forfeited: int = 0
    expired: int = 0
    achieved: dict[str, date] = field(default_factory=dict)
    accelerated_on: date | None = None
    departed_on: date | None = None
    expired_on: date | None = None

    @property
    def exercised(self) -> int:
        return sum(q for _, q in self.exercises)

    def exercised_by(self, as_of: date) -> int:
        return sum(q for day, q in self.exercises if day <= as_of)

    @property
    def lapses_on(self) -> date:
        """The first day nothing more can be exercised: the expiry date, or the end of the
        post-departure window when that comes first."""
        if self.departed_on is None or not self.window.length:
            return self.expires_on
        return min(self.expires_on, self.window.end(self.departed_on))

    def vested(self, as_of: date) -> int:
        cap = self.quantity - self.forfeited
        return min(vested(self.quantity, self.terms, as_of, self.achieved, self.accelerated_on), cap)

    def exercisable(self, as_of: date) -> int:
        if as_of < self.granted_on or as_of >= self.lapses_on:
            return 0
        return max(self.vested(as_of) - self.exercised - self.expired, 0)

    def outstanding_as_of(self, as_of: date) -> int:
        """Options granted and neither exercised, forfeited nor lapsed on `as_of`."""
        if as_of < self.granted_on or as_of >= self.lapses_on:
            return 0
        forfeited = self.forfeited if self.departed_on is not None and self.departed_on <= as_of else 0
        return self.quantity - self.exercised_by(as_of) - forfeited

    def returned_as_of(self, as_of: date) -> int:
        """Options back in the plan's pool on `as_of`: forfeited on departure, or lapsed unexercised."""
        if as_of < self.granted_on:
            return 0
        if as_of >= self.lapses_on:
            return self.quantity - self.exercised_by(as_of)
        return self.forfeited if self.departed_on is not None and self.departed_on <= as_of else 0

    @property
    def outstanding(self) -> int:
        """Options neither exercised, forfeited nor recorded as expired (whatever the date)."""
        return self.quantity - self.exercised - self.forfeited - self.expired


@dataclass(frozen=True)
class Plan:
    plan_id: str
    name: str
    share_class: str
    pool_size: int
    created_on: date


def _terms(data: dict[str, Any]) -> VestingTerms:
    return VestingTerms(
        start=date.fromisoformat(data["start"]), total_months=data["total_months"],
        cliff_months=data["cliff_months"], frequency_months=data["frequency_months"],
        milestones=dict(data["milestones"]), acceleration=data["acceleration"],
    )  # fmt: skip


def terms_dict(terms: VestingTerms) -> dict[str, Any]:
    return {
        "start": terms.start.isoformat(), "total_months": terms.total_months, "cliff_months": terms.cliff_months,
        "frequency_months": terms.frequency_months, "milestones": dict(terms.milestones),
        "acceleration": terms.acceleration,
    }  # fmt: skip


class SpinOff(Aggregate):
    class Founded(Aggregate.Created):
        name: str
        asset_ids: list[str]
        founded_via: str
        license_id: str
        share_classes: list[dict[str, Any]]
        effective_date: date

    class SharesMoved(Aggregate.Event):
        kind: str  # issuance | transfer | repurchase | cancellation | exercise
        share_class: str
        quantity: int
        source_kind: str
        source_id: str
        target_kind: str
        target_id: str
        note: str
        effective_date: date

    class IpContributed(Aggregate.Event):
        contribution_id: str
        member_id: str
        asset_ids: list[str]
        valuation: dict[str, Any]
        share_class: str
        shares: int
        own_rule: bool
        own_rule_document: str
        member_state_established: bool
        effective_date: date

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Contributions recorded before own rules named their document and members were known."""
            state["own_rule_document"] = "(own rule, document not recorded)" if state["own_rule"] else ""
            state["member_state_established"] = False

    class ResearchersRewarded(Aggregate.Event):
        contribution_id: str
        rewards: list[dict[str, Any]]  # researcher_id, quantity
        reward_bps: int
        below_statutory_floor: bool
        effective_date: date

    class PlanCreated(Aggregate.Event):
        plan_id: str
        name: str
        share_class: str
        pool_size: int
        effective_date: date

    class OptionsGranted(Aggregate.Event):
        grant_id: str
        plan_id: str
        researcher_id: str
        quantity: int
        vesting: dict[str, Any]
        expires_on: date
        exercise_price: dict[str, Any]  # per option: amount (minor units), currency
        exercise_window: dict[str, Any]  # after departure: length, unit (days | months)
        effective_date: date

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Grants recorded before prices and windows: price unknown (0), exercisable until expiry."""
            state["exercise_price"] = {"amount": 0, "currency": "CNY"}
            state["exercise_window"] = NO_WINDOW.as_dict()

    class VestingMilestoneAchieved(Aggregate.Event):
        grant_id: str
        milestone: str
        effective_date: date

    class ChangeOfControl(Aggregate.Event):
        accelerated_grants: list[str]
        effective_date: date

    class GranteeDeparted(Aggregate.Event):
        grant_id: str
        without_cause: bool
        forfeited: int
        accelerated: bool
        effective_date: date

    class OptionsExercised(Aggregate.Event):
        grant_id: str
        quantity: int
        effective_date: date

    class OptionsExpired(Aggregate.Event):
        grant_id: str
        quantity: int
        effective_date: date

    class KpiReported(Aggregate.Event):
        period: str
        revenue: dict[str, Any]
        headcount: int
        follow_on_funding: dict[str, Any]
        patents_filed: int
        effective_date: date

    class ProceedsDistributed(Aggregate.Event):
        distribution_id: str
        kind: str  # dividend | exit
        record_date: date
        amount: dict[str, Any]
        lines: list[dict[str, Any]]  # holder_kind, holder_id, amount
        asset_ids: list[str]  # the spin-off's assets, whose inventors share what members receive
        effective_date: date

    @event(Founded)
    def __init__(
        self,
        name: str,
        asset_ids: list[str],
        founded_via: str,
        license_id: str,
        share_classes: list[dict[str, Any]],
        effective_date: date,
    ) -> None:
        self.name = name
        self.asset_ids = list(asset_ids)
        self.founded_via = founded_via
        self.license_id = license_id
        self.authorized: dict[str, int] = {c["name"]: c["authorized"] for c in share_classes}
        self.founded_on = effective_date
        self.movements: list[Movement] = []
        self.movement_notes: dict[int, str] = {}  # movement sequence -> note (e.g. "grant <id>")
        self.contributions: dict[str, Contribution] = {}
        self.plans: dict[str, Plan] = {}
        self.grants: dict[str, OptionGrant] = {}
        self.change_of_control_on: date | None = None
        self.kpis: list[dict[str, Any]] = []
        self.distributions: list[dict[str, Any]] = []

    @classmethod
    def found(
        cls,
        *,
        name: str,
        asset_ids: list[uuid.UUID],
        founded_via: str,
        share_classes: dict[str, int],
        effective_date: date,
        license_id: uuid.UUID | None = None,
    ) -> SpinOff:
        if not name.strip():
            raise DomainError("a spin-off needs a name")
        if not asset_ids:
            raise DomainError("a spin-off is founded on at least one center asset")
        if founded_via not in FOUNDED_VIA:
            raise DomainError(f"founded via {founded_via!r}?", allowed=list(FOUNDED_VIA))
        if founded_via == "license" and license_id is None:
            raise DomainError("a spin-off founded by a license names the license")
        if not share_classes or any(n <= 0 for n in share_classes.values()):
            raise DomainError("a spin-off authorizes a positive number of shares in at least one class")
        return cls(
            name=name.strip(), asset_ids=[str(a) for a in asset_ids], founded_via=founded_via,
            license_id=str(license_id or ""), effective_date=effective_date,
            share_classes=[{"name": n, "authorized": q} for n, q in sorted(share_classes.items())],
        )  # fmt: skip

    def stakeholders(self) -> list[Holder]:
        """Everyone who holds or held shares, or was granted options, in key order."""
        holders = {h for m in self.movements for h in (m.source, m.target) if h is not None}
        holders |= {("researcher", g.researcher_id) for g in self.grants.values()}
        return sorted(holders)

    def members_involved(self) -> set[str]:
        """Members that hold or held shares (contributors among them): they may read the company."""
        return {h[1] for m in self.movements for h in (m.source, m.target) if h and h[0] == "member"}

    # ---- cap table ------------------------------------------------------------------------

    def issue(self, holder: Holder, share_class: str, quantity: int, day: date, note: str = "") -> None:
        self._move("issuance", share_class, quantity, None, holder, day, note)

    def transfer(self, source: Holder, target: Holder, share_class: str, quantity: int, day: date) -> None:
        if source == target:
            raise DomainError("a transfer goes to another holder")
        self._move("transfer", share_class, quantity, source, target, day, "")

    def repurchase(self, holder: Holder, share_class: str, quantity: int, day: date) -> None:
        self._move("repurchase", share_class, quantity, holder, None, day, "")

    def cancel(self, holder: Holder, share_class: str, quantity: int, day: date) -> None:
        self._move("cancellation", share_class, quantity, holder, None, day, "")

    def holdings(self, as_of: date) -> dict[tuple[Holder, str], int]:
        return holdings(self.movements, as_of)

    def fully_diluted(self, as_of: date) -> list[DilutedLine]:
        """Shares, options outstanding and the pool not yet granted, all as of `as_of`."""
        options: dict[Holder, int] = {}
        for grant in self.grants.values():
            holder = ("researcher", grant.researcher_id)
            options[holder] = options.get(holder, 0) + grant.outstanding_as_of(as_of)
        unallocated = sum(self.pool_available(plan, as_of) for plan in self.plans.values())
        return fully_diluted(self.holdings(as_of), options, unallocated)

    def pool_available(self, plan: Plan, as_of: date) -> int:
        """What a plan can still grant on `as_of`: its pool less what was granted by then, plus
        what came back (forfeited on departure, lapsed unexercised)."""
        if plan.created_on > as_of:
            return 0
        granted = [g for g in self.grants.values() if g.plan_id == plan.plan_id and g.granted_on <= as_of]
        return plan.pool_size - sum(g.quantity for g in granted) + sum(g.returned_as_of(as_of) for g in granted)

    def _capacity(self, share_class: str, as_of: date) -> int:
        """Shares of a class that may be outstanding on `as_of`: authorized, less the pools reserved
        in it by then, plus the shares issued out of those pools by exercise."""
        plans = [p for p in self.plans.values() if p.share_class == share_class and p.created_on <= as_of]
        exercised = sum(g.exercised_by(as_of) for g in self.grants.values() if self.plans[g.plan_id] in plans)
        return self.authorized[share_class] - sum(p.pool_size for p in plans) + exercised

    def _move(
        self, kind: str, share_class: str, quantity: int, source: Holder | None, target: Holder | None, day: date,
        note: str,
    ) -> None:  # fmt: skip
        self._not_before_founding(day)
        movement = Movement(len(self.movements), day, share_class, quantity, source, target, kind)
        check_movement(self.movements, movement, self.authorized, self._capacity)
        self._shares_moved(
            kind=kind, share_class=share_class, quantity=quantity,
            source_kind=source[0] if source else "", source_id=source[1] if source else "",
            target_kind=target[0] if target else "", target_id=target[1] if target else "",
            note=note, effective_date=day,
        )  # fmt: skip

    @event(SharesMoved)
    def _shares_moved(
        self, kind: str, share_class: str, quantity: int, source_kind: str, source_id: str, target_kind: str,
        target_id: str, note: str, effective_date: date,
    ) -> None:  # fmt: skip
        source = (source_kind, source_id) if source_kind else None
        target = (target_kind, target_id) if target_kind else None
        if note:
            self.movement_notes[len(self.movements)] = note
        self.movements.append(
            Movement(len(self.movements), effective_date, share_class, quantity, source, target, kind)
        )

    # ---- IP contributed as capital (Art. 45(2)) -------------------------------------------

    def contribute_ip(
        self, *, member: KnownMember, assets: list[KnownAsset], valuation: Money, share_class: str, shares: int,
        rewards: dict[str, int], own_rule_document: str, day: date,
    ) -> Contribution:  # fmt: skip
        """The member receives `shares` for its IP; `rewards` (researcher -> shares) come out of them.

        The member must have owned every contributed asset on the day, and the reward meet the
        Art. 45 floor where it binds (`check_reward_floor`).
        """
        asset_ids = [a.asset_id for a in assets]
        if not set(asset_ids) <= set(self.asset_ids):
            raise DomainError("contributed assets must be among the spin-off's founding assets",
                              asset_ids=sorted(set(asset_ids) - set(self.asset_ids)))  # fmt: skip
        if valuation.amount <= 0:
            raise DomainError("a contribution is valued above zero")
        self._not_before_founding(day)
        require_owned_by(assets, member.member_id, day)
        check_reward_floor(member, own_rule_document.strip(), sum(rewards.values()), shares)
        contribution_id = str(uuid.uuid4())
        self.issue(("member", member.member_id), share_class, shares, day, f"ip contribution {contribution_id}")
        self._ip_contributed(
            contribution_id=contribution_id, member_id=member.member_id, asset_ids=asset_ids,
            valuation=valuation.as_dict(), share_class=share_class, shares=shares,
            own_rule=bool(own_rule_document.strip()), own_rule_document=own_rule_document.strip(),
            member_state_established=member.state_established, effective_date=day,
        )  # fmt: skip
        self.reward_researchers(contribution_id, rewards, day)
        return self.contributions[contribution_id]

    def reward_researchers(self, contribution_id: str, rewards: dict[str, int], day: date) -> None:
        contribution = self.contributions.get(contribution_id)
        if contribution is None:
            raise NotFound("no such contribution", contribution_id=contribution_id)
        member = ("member", contribution.member_id)
        for researcher_id, quantity in sorted(rewards.items()):
            self.transfer(member, _holder("researcher", researcher_id), contribution.share_class, quantity, day)
        rewarded = contribution.rewarded + sum(rewards.values())
        reward_bps = rewarded * BASIS_POINTS // contribution.shares
        binds = _floor_binds(contribution.state_established, contribution.own_rule_document)
        self._researchers_rewarded(
            contribution_id=contribution_id,
            rewards=[{"researcher_id": r, "quantity": q} for r, q in sorted(rewards.items())],
            reward_bps=reward_bps,
            below_statutory_floor=binds and reward_bps < STATUTORY_REWARD_BPS,
            effective_date=day,
        )

    @event(IpContributed)
    def _ip_contributed(
        self, contribution_id: str, member_id: str, asset_ids: list[str], valuation: dict[str, Any],
        share_class: str, shares: int, own_rule: bool, own_rule_document: str, member_state_established: bool,
        effective_date: date,
    ) -> None:  # fmt: skip
        self.contributions[contribution_id] = Contribution(
            contribution_id, member_id, asset_ids, Money.from_dict(valuation), share_class, shares,
            own_rule_document, member_state_established, effective_date,
        )  # fmt: skip

    @event(ResearchersRewarded)
    def _researchers_rewarded(
        self, contribution_id: str, rewards: list[dict[str, Any]], reward_bps: int, below_statutory_floor: bool,
        effective_date: date,
    ) -> None:  # fmt: skip
        self.contributions[contribution_id].rewarded += sum(r["quantity"] for r in rewards)

    # ---- incentive plans and options ------------------------------------------------------

    def create_plan(self, name: str, share_class: str, pool_size: int, day: date) -> str:
        if pool_size <= 0:
            raise DomainError("an incentive plan has a positive pool")
        if share_class not in self.authorized:
            raise DomainError(f"no share class {share_class!r}", share_classes=sorted(self.authorized))
        self._not_before_founding(day)
        for on in sorted({day, *(m.day for m in self.movements if m.day > day)}):
            free = self._capacity(share_class, on) - issued(self.movements, share_class, on)
            if pool_size > free:
                raise Conflict("the pool exceeds the authorized shares not yet issued", available=free,
                               day=on.isoformat())  # fmt: skip
        plan_id = str(uuid.uuid4())
        self._plan_created(plan_id=plan_id, name=name, share_class=share_class, pool_size=pool_size,
                           effective_date=day)  # fmt: skip
        return plan_id

    def grant_options(
        self, plan_id: str, researcher_id: str, quantity: int, terms: VestingTerms, expires_on: date, day: date,
        exercise_price: Money, window: ExerciseWindow,
    ) -> str:  # fmt: skip
        plan = self.plans.get(plan_id)
        if plan is None:
            raise NotFound("no such incentive plan", plan_id=plan_id)
        terms.check(quantity)
        window.check()
        if exercise_price.amount < 0:
            raise DomainError("an exercise price is not negative", field="exercise_price")
        if day < plan.created_on:
            raise DomainError("options are granted once their plan exists", field="effective_date",
                              plan_created_on=plan.created_on.isoformat())  # fmt: skip
        if expires_on <= day:
            raise DomainError("options expire after they are granted", field="expires_on")
        # the pool must hold the grant on its day and on every later day a grant was made
        for on in sorted({day, *(g.granted_on for g in self.grants.values() if g.granted_on > day)}):
            available = self.pool_available(plan, on)
            if quantity > available:
                raise Conflict("the grant exceeds what is left in the pool", available=available, day=on.isoformat())
        grant_id = str(uuid.uuid4())
        self._options_granted(
            grant_id=grant_id, plan_id=plan_id, researcher_id=researcher_id, quantity=quantity,
            vesting=terms_dict(terms), expires_on=expires_on, exercise_price=exercise_price.as_dict(),
            exercise_window=window.as_dict(), effective_date=day,
        )  # fmt: skip
        return grant_id

    def grant(self, grant_id: str) -> OptionGrant:
        found = self.grants.get(grant_id)
        if found is None:
            raise NotFound("no such option grant", grant_id=grant_id)
        return found

    def achieve_vesting_milestone(self, grant_id: str, milestone: str, day: date) -> None:
        grant = self.grant(grant_id)
        if milestone not in grant.terms.milestones:
            raise DomainError(f"the grant vests on no milestone {milestone!r}", milestones=list(grant.terms.milestones))
        if milestone in grant.achieved:
            raise Conflict("that milestone is already achieved", milestone=milestone)
        _not_before_grant(grant, day, "a vesting milestone")
        self._vesting_milestone_achieved(grant_id=grant_id, milestone=milestone, effective_date=day)

    def change_control(self, day: date) -> None:
        if self.change_of_control_on is not None:
            raise Conflict("a change of control is already recorded", on=self.change_of_control_on.isoformat())
        self._not_before_founding(day)
        single = [
            g.grant_id for g in self.grants.values() if g.terms.acceleration == "single" and g.outstanding_as_of(day)
        ]
        self._change_of_control(accelerated_grants=single, effective_date=day)

    def depart(self, grant_id: str, without_cause: bool, day: date) -> None:
        """The grantee leaves: unvested options are forfeited (back to the pool), unless a double
        trigger accelerates them; the vested ones stay exercisable for the post-departure window.

        A departure may be backdated, but not behind exercises it would make impossible: more
        exercised than was vested on the departure day, or after its window closed.
        """
        grant = self.grant(grant_id)
        if grant.departed_on is not None:
            raise Conflict("the grantee has already left", departed_on=grant.departed_on.isoformat())
        _not_before_grant(grant, day, "a departure")
        accelerated = grant.terms.acceleration == "double" and without_cause and self.change_of_control_on is not None
        vested_then = grant.quantity if accelerated else grant.vested(day)
        later = [(on, q) for on, q in grant.exercises if on > day]
        if later and grant.exercised > vested_then:
            raise Conflict(
                f"exercises after {day.isoformat()} took {grant.exercised} options; only {vested_then} "
                "had vested by then", field="effective_date", vested=vested_then, exercised=grant.exercised,
                exercises_after=[{"date": on.isoformat(), "quantity": q} for on, q in later],
            )  # fmt: skip
        window_end = grant.window.end(day) if grant.window.length else grant.expires_on
        if late := [(on, q) for on, q in later if on >= window_end]:
            raise Conflict(
                f"an exercise on {late[0][0].isoformat()} lies after the post-departure window closing "
                f"{window_end.isoformat()}", field="effective_date", window_closes_on=window_end.isoformat(),
            )  # fmt: skip
        self._grantee_departed(grant_id=grant_id, without_cause=without_cause,
                               forfeited=grant.quantity - vested_then, accelerated=accelerated,
                               effective_date=day)  # fmt: skip

    def exercise(self, grant_id: str, quantity: int, day: date) -> None:
        grant = self.grant(grant_id)
        self._not_before_founding(day)
        _not_before_grant(grant, day, "an exercise")
        if day >= grant.lapses_on:
            raise Conflict("the options have expired", expires_on=grant.expires_on.isoformat(),
                           lapsed_on=grant.lapses_on.isoformat())  # fmt: skip
        available = grant.exercisable(day)
        if not 0 < quantity <= available:
            raise Conflict(f"only {available} options are vested and unexercised", exercisable=available)
        self._options_exercised(grant_id=grant_id, quantity=quantity, effective_date=day)
        self._shares_moved(
            kind="exercise", share_class=self.plans[grant.plan_id].share_class, quantity=quantity, source_kind="",
            source_id="", target_kind="researcher", target_id=grant.researcher_id, note=f"grant {grant_id}",
            effective_date=day,
        )  # fmt: skip

    def expire(self, grant_id: str, day: date) -> int:
        """Record that the unexercised options lapsed: on the expiry date, or at the end of the
        post-departure window. The event is dated the day they lapsed."""
        grant = self.grant(grant_id)
        if day < grant.lapses_on:
            raise Conflict("the options have not expired yet", expires_on=grant.expires_on.isoformat(),
                           lapses_on=grant.lapses_on.isoformat())  # fmt: skip
        if grant.outstanding == 0:
            return 0
        quantity = grant.outstanding
        self._options_expired(grant_id=grant_id, quantity=quantity, effective_date=grant.lapses_on)
        return quantity

    def _not_before_founding(self, day: date) -> None:
        if day < self.founded_on:
            raise DomainError(
                f"{day.isoformat()} is before the spin-off was founded", field="effective_date",
                founded_on=self.founded_on.isoformat(),
            )  # fmt: skip

    @event(PlanCreated)
    def _plan_created(self, plan_id: str, name: str, share_class: str, pool_size: int, effective_date: date) -> None:
        self.plans[plan_id] = Plan(plan_id, name, share_class, pool_size, effective_date)

    @event(OptionsGranted)
    def _options_granted(
        self, grant_id: str, plan_id: str, researcher_id: str, quantity: int, vesting: dict[str, Any],
        expires_on: date, exercise_price: dict[str, Any], exercise_window: dict[str, Any], effective_date: date,
    ) -> None:  # fmt: skip
        self.grants[grant_id] = OptionGrant(
            grant_id, plan_id, researcher_id, quantity, _terms(vesting), expires_on, effective_date,
            Money.from_dict(exercise_price), ExerciseWindow(exercise_window["length"], exercise_window["unit"]),
        )  # fmt: skip

    @event(VestingMilestoneAchieved)
    def _vesting_milestone_achieved(self, grant_id: str, milestone: str, effective_date: date) -> None:
        self.grants[grant_id].achieved[milestone] = effective_date

    @event(ChangeOfControl)
    def _change_of_control(self, accelerated_grants: list[str], effective_date: date) -> None:
        self.change_of_control_on = effective_date
        for grant_id in accelerated_grants:
            self.grants[grant_id].accelerated_on = effective_date

    @event(GranteeDeparted)
    def _grantee_departed(
        self, grant_id: str, without_cause: bool, forfeited: int, accelerated: bool, effective_date: date
    ) -> None:
        grant = self.grants[grant_id]
        grant.departed_on = effective_date
        grant.forfeited = forfeited
        if accelerated:
            grant.accelerated_on = effective_date

    @event(OptionsExercised)
    def _options_exercised(self, grant_id: str, quantity: int, effective_date: date) -> None:
        self.grants[grant_id].exercises.append((effective_date, quantity))

    @event(OptionsExpired)
    def _options_expired(self, grant_id: str, quantity: int, effective_date: date) -> None:
        self.grants[grant_id].expired += quantity
        self.grants[grant_id].expired_on = effective_date

    # ---- KPIs and money out ---------------------------------------------------------------

    def report_kpis(
        self, period: str, revenue: Money, headcount: int, follow_on_funding: Money, patents_filed: int, day: date
    ) -> None:
        if headcount < 0 or patents_filed < 0 or revenue.amount < 0 or follow_on_funding.amount < 0:
            raise DomainError("KPIs are not negative")
        if any(k["period"] == period for k in self.kpis):
            raise Conflict("KPIs for that period are already reported", period=period)
        self._kpi_reported(period=period, revenue=revenue.as_dict(), headcount=headcount,
                           follow_on_funding=follow_on_funding.as_dict(), patents_filed=patents_filed,
                           effective_date=day)  # fmt: skip

    def distribute(self, kind: str, record_date: date, amount: Money, day: date) -> list[dict[str, Any]]:
        """Dividend or exit proceeds split by the cap table on the record date, to the minor unit."""
        if kind not in DISTRIBUTION_KINDS:
            raise DomainError("proceeds are a dividend or an exit", kind=kind)
        if amount.amount <= 0:
            raise DomainError("proceeds are above zero")
        by_holder: dict[Holder, int] = {}
        for (holder, _), quantity in self.holdings(record_date).items():
            by_holder[holder] = by_holder.get(holder, 0) + quantity
        if not by_holder:
            raise Conflict("nobody holds shares on the record date", record_date=record_date.isoformat())
        split = allocate(amount.amount, by_holder)
        lines = [
            {"holder_kind": kind_, "holder_id": holder_id, "amount": share}
            for (kind_, holder_id), share in sorted(split.items())
            if share
        ]
        self._proceeds_distributed(distribution_id=str(uuid.uuid4()), kind=kind, record_date=record_date,
                                   amount=amount.as_dict(), lines=lines, asset_ids=list(self.asset_ids),
                                   effective_date=day)  # fmt: skip
        return lines

    @event(KpiReported)
    def _kpi_reported(
        self, period: str, revenue: dict[str, Any], headcount: int, follow_on_funding: dict[str, Any],
        patents_filed: int, effective_date: date,
    ) -> None:  # fmt: skip
        self.kpis.append({"period": period, "revenue": revenue, "headcount": headcount,
                          "follow_on_funding": follow_on_funding, "patents_filed": patents_filed,
                          "reported_on": effective_date})  # fmt: skip

    @event(ProceedsDistributed)
    def _proceeds_distributed(
        self, distribution_id: str, kind: str, record_date: date, amount: dict[str, Any], lines: list[dict[str, Any]],
        asset_ids: list[str], effective_date: date,
    ) -> None:  # fmt: skip
        self.distributions.append({"distribution_id": distribution_id, "kind": kind, "record_date": record_date,
                                   "amount": amount, "lines": lines, "paid_on": effective_date})  # fmt: skip


def holder_of(kind: str, holder_id: str) -> Holder:
    return _holder(kind, holder_id)


def _not_before_grant(grant: OptionGrant, day: date, what: str) -> None:
    if day < grant.granted_on:
        raise DomainError(f"{what} cannot be dated before the grant", field="effective_date",
                          granted_on=grant.granted_on.isoformat())  # fmt: skip
