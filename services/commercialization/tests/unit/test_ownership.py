"""Ownership over time, folded from the registry's changes as the projection keeps them."""

from __future__ import annotations

import uuid
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from commercialization.domain.ownership import OwnershipPeriod, owners_as_of, owners_during

UNI, CORP, LAB = (uuid.UUID(int=n) for n in (1, 2, 3))
HISTORY = [
    OwnershipPeriod(date(2021, 3, 1), {UNI: 6000, CORP: 4000}, "registration"),
    OwnershipPeriod(date(2022, 1, 1), {UNI: 5000, CORP: 4000, LAB: 1000}, "transfer"),
    OwnershipPeriod(date(2024, 5, 1), {}, "assignment"),
]


def test_owners_as_of_a_day_are_those_of_the_last_change_in_force() -> None:
    assert owners_as_of(HISTORY, date(2021, 2, 28)) == {}  # before ownership took effect
    assert owners_as_of(HISTORY, date(2021, 3, 1)) == {UNI: 6000, CORP: 4000}
    assert owners_as_of(HISTORY, date(2021, 12, 31)) == {UNI: 6000, CORP: 4000}
    assert owners_as_of(HISTORY, date(2022, 1, 1)) == {UNI: 5000, CORP: 4000, LAB: 1000}
    assert owners_as_of(HISTORY, date(2024, 5, 1)) == {}  # assigned out of the membership
    assert owners_as_of([], date(2024, 1, 1)) == {}


def test_a_backdated_change_recorded_later_counts_from_its_date() -> None:
    backdated = OwnershipPeriod(date(2023, 1, 1), {LAB: 10_000}, "transfer")
    # Recorded after the assignment out, dated before it: the order by date decides.
    history = [HISTORY[0], HISTORY[1], backdated]
    assert owners_as_of(history, date(2023, 6, 1)) == {LAB: 10_000}
    same_day = [*HISTORY[:2], OwnershipPeriod(date(2022, 1, 1), {CORP: 10_000}, "transfer")]
    assert owners_as_of(same_day, date(2022, 1, 1)) == {CORP: 10_000}  # the later one recorded wins


def test_owners_during_a_span_are_everyone_holding_a_share_on_some_day_of_it() -> None:
    assert owners_during(HISTORY, date(2020, 1, 1), date(2021, 2, 28)) == set()
    assert owners_during(HISTORY, date(2020, 1, 1), date(2021, 3, 1)) == {UNI, CORP}
    assert owners_during(HISTORY, date(2021, 12, 31), date(2022, 1, 1)) == {UNI, CORP, LAB}
    assert owners_during(HISTORY, date(2024, 5, 1), date(2030, 1, 1)) == set()
    assert owners_during(HISTORY, date(2024, 4, 30), date(2030, 1, 1)) == {UNI, CORP, LAB}
    assert owners_during(HISTORY, date(2022, 1, 2), date(2022, 1, 1)) == set()  # an empty span
    replaced_same_day = [OwnershipPeriod(date(2022, 1, 1), {LAB: 10_000}), OwnershipPeriod(date(2022, 1, 1), {UNI: 1})]
    assert owners_during(replaced_same_day, date(2021, 1, 1), date(2023, 1, 1)) == {UNI}  # LAB never held it


DAYS = st.dates(date(2020, 1, 1), date(2020, 3, 31))
PERIODS = st.lists(
    st.builds(OwnershipPeriod, DAYS, st.dictionaries(st.sampled_from([UNI, CORP, LAB]), st.integers(1, 10_000))),
    max_size=6,
)


@given(PERIODS, DAYS, DAYS)
def test_owners_during_is_the_union_of_the_owners_of_each_day(
    history: list[OwnershipPeriod], start: date, end: date
) -> None:
    days = [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1)]
    assert owners_during(history, start, end) == {m for day in days for m in owners_as_of(history, day)}
