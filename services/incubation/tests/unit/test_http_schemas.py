"""The HTTP API's choices are the domain's: each Literal the schemas document lists exactly the
values the domain accepts (the domain keeps them as tuples of strings, or checks them inline)."""

from __future__ import annotations

from datetime import date
from typing import Any, get_args

import pytest

from incubation.domain.seed_project import FUNDER_KINDS
from incubation.domain.spin_off import FOUNDED_VIA, HOLDER_KINDS, NO_WINDOW, WINDOW_UNITS
from incubation.domain.vesting import VestingTerms
from incubation.entrypoints import schemas as s
from ipshare_kernel.errors import DomainError


@pytest.mark.parametrize(
    ("documented", "domain"),
    [(s.HolderKind, HOLDER_KINDS), (s.FunderKind, FUNDER_KINDS), (s.FoundedVia, FOUNDED_VIA),
     (s.WindowUnit, WINDOW_UNITS)],
    ids=["holder kind", "funder kind", "founded via", "window unit"],
)  # fmt: skip
def test_each_documented_choice_is_the_domains(documented: Any, domain: tuple[str, ...]) -> None:
    assert get_args(documented) == domain


def test_the_documented_accelerations_are_the_ones_vesting_accepts() -> None:
    for acceleration in get_args(s.Acceleration):
        VestingTerms(date(2025, 1, 1), acceleration=acceleration).check(100)
    with pytest.raises(DomainError):
        VestingTerms(date(2025, 1, 1), acceleration="triple").check(100)


def test_a_grant_from_before_windows_shows_its_window_as_the_domain_keeps_it() -> None:
    shown = s.WindowOut(length=NO_WINDOW.length, unit=NO_WINDOW.unit)  # what the upcast gives such a grant
    assert shown.model_dump() == NO_WINDOW.as_dict()
