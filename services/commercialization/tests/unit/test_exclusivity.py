"""The exclusivity rule, checked against a brute-force oracle over a small universe."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commercialization.domain.fields import covered_by, normalize_codes, parse_field_code
from commercialization.domain.scope import (
    ALL_FIELDS,
    WORLDWIDE,
    Footprint,
    LicenseType,
    find_conflict,
    normalize_territory,
    overlap,
)
from ipshare_kernel.errors import DomainError

ASSETS = [uuid.UUID(int=n) for n in (1, 2, 3)]
# The universe's fields: IPC leaves, and codes at several levels over them.
LEAVES = ["H01M 10/052", "H01M 10/06", "H01M 4/13", "B25J 9/16", "H01S 3/00"]
CODES = ["H01M", "H01M 10/00", "H01M 10/052", "H01M 10/06", "B25J", "H01S 3/00"]
COUNTRIES = ["CN", "US", "DE"]
DAY0 = date(2025, 1, 1)
HORIZON = 40  # days in the universe; open-ended terms run to its end


@st.composite
def footprints(draw: st.DrawFn, license_type: LicenseType | None = None) -> Footprint:
    start = draw(st.integers(0, 30))
    length = draw(st.one_of(st.none(), st.integers(0, 10)))
    territory = draw(st.one_of(st.just(frozenset({WORLDWIDE})), st.frozensets(st.sampled_from(COUNTRIES), min_size=1)))
    fields = tuple(draw(st.lists(st.sampled_from(CODES), max_size=2, unique=True)))  # none: all fields
    return Footprint(
        license_id=uuid.uuid4(),
        license_type=license_type or draw(st.sampled_from(list(LicenseType))),
        asset_ids=draw(st.frozensets(st.sampled_from(ASSETS), min_size=1)),
        field_of_use="a description" if fields else ALL_FIELDS,
        fields=fields,
        territory=territory,
        start_date=DAY0 + timedelta(days=start),
        end_date=None if length is None else DAY0 + timedelta(days=start + length),
    )


def points(f: Footprint) -> set[tuple[uuid.UUID, str, str, int]]:
    """Every (asset, field, country, day) the license covers in the universe."""
    fields = [leaf for leaf in LEAVES if not f.fields or covered_by(f.fields, leaf)]
    countries = COUNTRIES if WORLDWIDE in f.territory else sorted(f.territory)
    first = (f.start_date - DAY0).days
    last = HORIZON if f.end_date is None else (f.end_date - DAY0).days
    return {(a, fld, c, d) for a in f.asset_ids for fld in fields for c in countries for d in range(first, last + 1)}


@given(footprints(LicenseType.EXCLUSIVE), footprints(LicenseType.EXCLUSIVE))
def test_overlapping_exclusive_licenses_are_always_rejected_and_others_accepted(a: Footprint, b: Footprint) -> None:
    conflict = find_conflict(b, [a])
    if points(a) & points(b):
        assert conflict is not None
        assert conflict.license_id == a.license_id
        common = conflict.overlap
        as_footprint = Footprint(
            a.license_id, a.license_type, common.asset_ids, common.field_of_use, common.territory,
            common.start_date, common.end_date, common.fields,
        )  # fmt: skip
        assert points(as_footprint) == points(a) & points(b)  # the overlap is exactly the common part
    else:
        assert conflict is None


@given(footprints(), footprints())
def test_a_clash_needs_an_exclusive_or_sole_side(a: Footprint, b: Footprint) -> None:
    clash = bool(points(a) & points(b)) and (a.license_type.excludes_others or b.license_type.excludes_others)
    assert (find_conflict(b, [a]) is not None) == clash
    assert (find_conflict(a, [b]) is not None) == clash  # symmetric


@given(footprints(), st.lists(footprints(), max_size=5))
def test_the_conflict_found_is_one_the_candidate_really_clashes_with(
    candidate: Footprint, existing: list[Footprint]
) -> None:
    conflict = find_conflict(candidate, existing)
    clashing = [
        e
        for e in existing
        if (candidate.license_type.excludes_others or e.license_type.excludes_others) and points(candidate) & points(e)
    ]
    assert (conflict is None) == (not clashing)
    if conflict is not None:
        assert conflict.license_id in {e.license_id for e in clashing}


def footprint(**changes: object) -> Footprint:
    base: dict[str, object] = {
        "license_id": uuid.UUID(int=9),
        "license_type": LicenseType.EXCLUSIVE,
        "asset_ids": frozenset(ASSETS[:2]),
        "field_of_use": "batteries",
        "fields": ("H01M",),
        "territory": frozenset({"CN", "US"}),
        "start_date": date(2025, 1, 1),
        "end_date": date(2025, 12, 31),
    }
    base.update(changes)
    return Footprint(**base)  # type: ignore[arg-type]


def test_the_overlap_names_assets_field_territory_and_period() -> None:
    other = footprint(
        license_id=uuid.UUID(int=10),
        asset_ids=frozenset(ASSETS[1:]),
        field_of_use=ALL_FIELDS,
        fields=(),
        territory=frozenset({WORLDWIDE}),
        start_date=date(2025, 6, 1),
        end_date=None,
    )
    common = overlap(footprint(), other)
    assert common is not None
    assert common.describe() == {
        "asset_ids": [str(ASSETS[1])],
        "field_of_use": "batteries",
        "fields": ["H01M"],
        "territory": ["CN", "US"],
        "start_date": "2025-06-01",
        "end_date": "2025-12-31",
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"asset_ids": frozenset({ASSETS[2]})},  # other assets
        {"field_of_use": "robots", "fields": ("B25J",)},  # another field
        {"territory": frozenset({"DE"})},  # another country
        {"start_date": date(2026, 1, 1), "end_date": None},  # starts the day after
    ],
)
def test_disjoint_licenses_do_not_clash(changes: dict[str, object]) -> None:
    assert find_conflict(footprint(license_id=uuid.UUID(int=11), **changes), [footprint()]) is None


def test_territory_codes_are_checked() -> None:
    assert normalize_territory(["cn", "us"]) == {"CN", "US"}
    assert normalize_territory(["CN", "worldwide"]) == {WORLDWIDE}
    with pytest.raises(DomainError):
        normalize_territory(["China"])


@pytest.mark.parametrize("code", ["WW", "XX", "UK", "EU", "QZ", "C1", ""])
def test_two_letters_that_are_no_assigned_country_are_refused(code: str) -> None:
    with pytest.raises(DomainError, match="not an ISO 3166-1 alpha-2 country code") as raised:
        normalize_territory(["CN", code])
    assert raised.value.details == {"codes": [code]}
    assert "WORLDWIDE" in raised.value.message  # the way to say "the whole world"


def test_a_field_inside_an_exclusive_field_clashes_with_it() -> None:
    ev = footprint(license_id=uuid.UUID(int=11), field_of_use="EV batteries", fields=("H01M 10/052",))
    conflict = find_conflict(ev, [footprint()])
    assert conflict is not None
    assert conflict.overlap.fields == ("H01M 10/052",)
    lead_acid = footprint(license_id=uuid.UUID(int=13), field_of_use="lead-acid", fields=("H01M 10/06",))
    assert find_conflict(lead_acid, [ev]) is None  # two subgroups of one group, neither inside the other


def test_a_field_recorded_as_free_text_alone_meets_the_same_text_and_every_coded_field() -> None:
    legacy = footprint(license_id=uuid.UUID(int=12), field_of_use="batteries", fields=())
    assert find_conflict(legacy, [footprint()]) is not None  # nothing says a coded field lies apart
    assert find_conflict(legacy, [footprint(fields=())]) is not None  # the same text
    assert find_conflict(legacy, [footprint(field_of_use="robots", fields=())]) is None  # as it always was


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("H", "H"), ("h01", "H01"), ("H01M", "H01M"), ("H01M10/052", "H01M 10/052"), ("h01m 10", "H01M 10/00"),
     ("Y02E 60/10", "Y02E 60/10")],
)  # fmt: skip
def test_ipc_and_cpc_codes_are_read_at_every_level(text: str, canonical: str) -> None:
    assert str(parse_field_code(text)) == canonical


@pytest.mark.parametrize("text", ["", "batteries", "H1", "H01M/052", "H01M 10/", "Z01M", "H01M 10/5"])
def test_what_is_no_ipc_code_is_refused_naming_it(text: str) -> None:
    with pytest.raises(DomainError, match="not an IPC/CPC code") as raised:
        parse_field_code(text)
    assert raised.value.details == {"field": text}


def test_codes_nest_and_a_code_inside_another_given_adds_nothing() -> None:
    assert parse_field_code("H01M").contains(parse_field_code("H01M 10/052"))
    assert parse_field_code("H01M 10/05").contains(parse_field_code("H01M 10/0525"))
    assert not parse_field_code("H01M 10/052").contains(parse_field_code("H01M 10/06"))
    assert not parse_field_code("H01M 10/052").contains(parse_field_code("H01M"))
    assert normalize_codes(["h01m 10/052", "H01M", "B25J 9/16", "B25J 9/16"]) == ("B25J 9/16", "H01M")
