"""Pure rules: identifiers (table tests), the lifecycle over every pair of states, share arithmetic."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ip_registry.domain.identifiers import check_application_number, check_credit_code
from ip_registry.domain.lifecycle import TRANSITIONS, AssetStatus, check_transition
from ip_registry.domain.ownership import OwnershipPeriod, check_shares, ownership_as_of, transfer
from ip_registry.domain.portfolio import Counts, holders_on, portfolio_figures
from ipshare.error_status import http_status
from ipshare_kernel.errors import Conflict, DomainError

S = AssetStatus


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("91350100M000100Y43", True),  # the example of GB 32100-2015
        ("91350100m000100y43", True),  # case is normalized
        ("91350100M000100Y44", False),  # wrong check character
        ("91350100M000100Y4", False),  # 17 characters
        ("91350100M000100I43", False),  # I is not in the alphabet
    ],
)
def test_credit_codes(code: str, ok: bool) -> None:
    if ok:
        assert check_credit_code(code) == code.upper()
    else:
        with pytest.raises(DomainError):
            check_credit_code(code)


# 2*2+0*3+2*4+1*5+1*6+0*7+0*8+1*9+2*2+3*3+4*4+5*5 = 86; 86 mod 11 = 9.
@pytest.mark.parametrize(
    ("jurisdiction", "kind", "number", "normalized"),
    [
        ("CN", "invention_patent", "202110012345.9", "202110012345.9"),
        ("CN", "invention_patent", "CN 202110012345.9", "202110012345.9"),
        ("CN", "invention_patent", "ZL202110012343.X", "202110012343.X"),
        ("CN", "invention_patent", "202110012345.8", None),  # check character
        ("CN", "invention_patent", "202110012345", None),  # no check character
        ("CN", "utility_model", "202110012345.9", None),  # type digit 1 is an invention
        # Before October 2003: 8 digits. 9*2+7*3+1*4+0*5+1*6+7*7+6*8+5*9 = 191; 191 mod 11 = 4.
        ("CN", "invention_patent", "97101765.4", "97101765.4"),
        ("CN", "invention_patent", "ZL 97101765.4", "97101765.4"),
        # 8*2+8*3+2*4+0*5+1*6+4*7+6*8+5*9 = 175; 175 mod 11 = 10: X.
        ("CN", "utility_model", "ZL88201465.X", "88201465.X"),
        ("CN", "utility_model", "88201465.x", "88201465.X"),
        ("CN", "invention_patent", "97101765.5", None),  # check character
        ("CN", "invention_patent", "88201465.X", None),  # type digit 2 is a utility model
        ("CN", "invention_patent", "84101761.1", None),  # no CN patent before 1985 (the check is right)
        ("CN", "invention_patent", "9710176.4", None),  # 7 digits
        ("CN", "software_copyright", "2021SR0123456", "2021SR0123456"),
        ("PCT", "invention_patent", "PCT/CN2021/012345", "PCT/CN2021/012345"),
        ("PCT", "invention_patent", "PCT/CN21/012345", None),
        ("US", "invention_patent", "17/123,456", "17/123,456"),
        ("US", "invention_patent", "??", None),
    ],
)
def test_application_numbers(jurisdiction: str, kind: str, number: str, normalized: str | None) -> None:
    if normalized is not None:
        assert check_application_number(jurisdiction, kind, number) == normalized
    else:
        with pytest.raises(DomainError) as caught:
            check_application_number(jurisdiction, kind, number)
        assert http_status(caught.value) == 422


LEGAL = {
    (S.DISCLOSED, S.FILED), (S.DISCLOSED, S.ABANDONED),
    (S.FILED, S.PUBLISHED), (S.FILED, S.GRANTED), (S.FILED, S.ABANDONED),
    (S.PUBLISHED, S.GRANTED), (S.PUBLISHED, S.ABANDONED),
    (S.GRANTED, S.LAPSED), (S.GRANTED, S.ABANDONED), (S.GRANTED, S.EXPIRED), (S.GRANTED, S.INVALIDATED),
}  # fmt: skip


@pytest.mark.parametrize(("current", "target"), list(itertools.product(AssetStatus, AssetStatus)))
def test_every_pair_of_states(current: AssetStatus, target: AssetStatus) -> None:
    if (current, target) in LEGAL:
        check_transition(current, target)
    else:
        with pytest.raises(Conflict, match=f"in state {current.value} cannot") as caught:
            check_transition(current, target)
        assert caught.value.details["state"] == current.value
    assert ((current, target) in LEGAL) == (target in TRANSITIONS[current])


@pytest.mark.parametrize(
    ("shares", "message"),
    [({}, "at least one"), ({uuid.uuid4(): 10001, uuid.uuid4(): -1}, "positive"), ({uuid.uuid4(): 9999}, "not 9999")],
)
def test_bad_share_maps(shares: dict[uuid.UUID, int], message: str) -> None:
    with pytest.raises(DomainError, match=message):
        check_shares(shares)


MEMBERS = [uuid.UUID(int=i) for i in range(1, 6)]
transfers = st.lists(
    st.tuples(st.sampled_from(MEMBERS), st.sampled_from(MEMBERS), st.integers(min_value=-5, max_value=12000)),
    max_size=40,
)


@given(transfers)
def test_no_sequence_of_transfers_breaks_the_sum_or_goes_negative(
    moves: list[tuple[uuid.UUID, uuid.UUID, int]],
) -> None:
    shares = {MEMBERS[0]: 6000, MEMBERS[1]: 4000}
    for giver, taker, bps in moves:
        try:
            shares = transfer(shares, giver, taker, bps)
        except DomainError:
            continue  # refused: the map is unchanged
        assert sum(shares.values()) == 10_000
        assert all(v > 0 for v in shares.values())
    check_shares(shares)


@given(st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=10), st.integers(0, 4000))
def test_ownership_as_of_picks_the_latest_period_started(offsets: list[int], probe: int) -> None:
    start = date(2020, 1, 1)
    days = sorted(start + timedelta(days=o) for o in offsets)
    history = [OwnershipPeriod(d, {MEMBERS[i % 5]: 10_000}, "transfer") for i, d in enumerate(days)]
    day = start + timedelta(days=probe)
    expected = [p.shares for p in history if p.effective_from <= day]
    assert ownership_as_of(history, day) == (dict(expected[-1]) if expected else {})


class Facts:
    def __init__(self, kind: str, status: AssetStatus, disclosed: date, filed: date | None = None,
                 granted: date | None = None, ended: date | None = None) -> None:  # fmt: skip
        self.kind, self.status, self.registered_on = kind, status, disclosed
        self.disclosure_date, self.filing_date, self.grant_date, self.ended_on = disclosed, filed, granted, ended


def test_portfolio_figures_by_hand() -> None:
    assets = [
        Facts("invention_patent", S.GRANTED, date(2021, 2, 1), date(2021, 5, 1), date(2023, 7, 1)),
        Facts("invention_patent", S.LAPSED, date(2021, 3, 1), date(2022, 1, 10), date(2022, 9, 1), date(2023, 6, 1)),
        Facts("know_how", S.DISCLOSED, date(2022, 4, 1)),
    ]
    figures = portfolio_figures(assets, as_of=date(2023, 12, 31))  # type: ignore[arg-type]
    assert figures.disclosures == {(2021, "invention_patent"): 2, (2022, "know_how"): 1}
    assert figures.filings == {(2021, "invention_patent"): 1, (2022, "invention_patent"): 1}
    assert figures.grants == {(2023, "invention_patent"): 1, (2022, "invention_patent"): 1}
    assert figures.active == {
        (2021, "invention_patent"): 2,
        (2022, "invention_patent"): 2,
        (2022, "know_how"): 1,
        (2023, "invention_patent"): 1,  # the lapsed one ended in June 2023
        (2023, "know_how"): 1,
    }
    assert figures.years() == [2021, 2022, 2023]
    assert [(y.year, y.total) for y in figures.by_year()] == [
        (2021, Counts(disclosures=2, filings=1, grants=0, active=2)),
        (2022, Counts(disclosures=1, filings=1, grants=1, active=3)),
        (2023, Counts(disclosures=0, filings=0, grants=1, active=2)),
    ]
    assert figures.by_year()[1].by_kind == {
        "invention_patent": Counts(filings=1, grants=1, active=2),
        "know_how": Counts(disclosures=1, active=1),
    }


def test_portfolio_figures_as_of_a_day_count_only_what_happened_by_then() -> None:
    assets = [
        Facts("invention_patent", S.GRANTED, date(2021, 2, 1), date(2021, 5, 1), date(2023, 7, 1)),
        Facts("invention_patent", S.LAPSED, date(2021, 3, 1), date(2022, 1, 10), date(2022, 9, 1), date(2023, 6, 1)),
        Facts("know_how", S.DISCLOSED, date(2022, 4, 1)),
    ]
    figures = portfolio_figures(assets, as_of=date(2022, 3, 31))  # type: ignore[arg-type]
    assert figures.disclosures == {(2021, "invention_patent"): 2}  # the know-how came in April
    assert figures.filings == {(2021, "invention_patent"): 1, (2022, "invention_patent"): 1}
    assert figures.grants == {}  # the September grant is after the day
    assert figures.active == {(2021, "invention_patent"): 2, (2022, "invention_patent"): 2}  # 2022: live on 31 March
    mid_2023 = portfolio_figures(assets, as_of=date(2023, 6, 1))  # type: ignore[arg-type]
    assert mid_2023.active[(2023, "invention_patent")] == 1  # the lapsed one ended that very day
    assert mid_2023.grants == {(2022, "invention_patent"): 1}


def test_an_asset_counts_for_its_owners_on_the_day_and_before_its_ownership_for_its_first_owners() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    history = [
        OwnershipPeriod(date(2022, 1, 1), {a: 10_000}, "registration"),
        OwnershipPeriod(date(2023, 1, 1), {b: 10_000}, "transfer"),
        OwnershipPeriod(date(2024, 1, 1), {}, "assignment"),
    ]
    assert holders_on(history, date(2021, 6, 1)) == {a}  # disclosed before its ownership took effect
    assert holders_on(history, date(2022, 12, 31)) == {a}
    assert holders_on(history, date(2023, 1, 1)) == {b}
    assert holders_on(history, date(2024, 1, 1)) == set()  # assigned out of the membership
    assert holders_on([], date(2024, 1, 1)) == set()  # ownership never took effect
