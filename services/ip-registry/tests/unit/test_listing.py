"""Asset lists: filters, cursors and pages, pure and through the use case over each event store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ip_registry.domain.commands import AssetRegistration, InventorClaim
from ip_registry.domain.identifiers import cn_application_check_character
from ip_registry.domain.lifecycle import AssetStatus
from ip_registry.domain.listing import (
    AssetFilter,
    InvalidQuery,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    paginate,
)
from ip_registry.domain.values import AssetKind, StrategicReserve
from ipshare.error_status import http_status
from ipshare.eventstore import CommandContext
from ipshare_kernel.errors import Forbidden

from .conftest import ADMIN, Center, as_member

FIELDS = ("Additive Manufacturing", "batteries", "", "additive  manufacturing")
TAGS = ("key_core", "", "common_foundational", "")


# ---- pure: cursors and pages ---------------------------------------------------


def walk(positions: list[int], keep: list[bool], limit: int) -> list[Page[int]]:
    """Every page, following next cursors from the start, over items at `positions`."""
    pages: list[Page[int]] = []
    cursor = ""
    while True:
        after = decode_cursor(cursor)
        entries = ((p, p) for p in positions if p > after)
        page = paginate(entries, lambda p: keep[positions.index(p)], limit)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


@given(
    st.lists(st.tuples(st.integers(1, 10_000), st.booleans()), unique_by=lambda t: t[0], max_size=60),
    st.integers(1, 7),
)
def test_paging_through_everything_shows_each_kept_item_once_in_order(
    items: list[tuple[int, bool]], limit: int
) -> None:
    items.sort()
    positions, keep = [p for p, _ in items], [k for _, k in items]
    pages = walk(positions, keep, limit)
    shown = [p for page in pages for p in page.items]
    assert shown == [p for p, k in items if k]
    assert all(1 <= len(page.items) <= limit for page in pages[:-1])  # only the last page may be short
    assert pages[-1].items or len(pages) == 1  # never an empty page after a full one


def test_cursors_are_opaque_round_trips() -> None:
    assert decode_cursor("") == 0
    assert decode_cursor(encode_cursor(1234)) == 1234
    assert "1234" not in encode_cursor(1234)


@pytest.mark.parametrize("cursor", ["garbage!", "cDotNQ", encode_cursor(7)[:-1] + "?", "eDo3", "~~~~"])
def test_a_cursor_this_service_did_not_issue_is_a_422(cursor: str) -> None:
    with pytest.raises(InvalidQuery, match="cursor") as caught:
        decode_cursor(cursor)
    assert (http_status(caught.value), caught.value.code) == (422, "invalid_request")


@pytest.mark.parametrize(("limit", "ok"), [(0, False), (1, True), (500, True), (501, False), (-3, False)])
def test_limits(limit: int, ok: bool) -> None:
    if ok:
        assert check_limit(limit) == limit
    else:
        with pytest.raises(InvalidQuery, match="1 to 500"):
            check_limit(limit)


# ---- pure: filters ---------------------------------------------------------------


def test_filters_are_parsed_and_normalized() -> None:
    parsed = AssetFilter.parse(
        status="Granted", kind="design", jurisdiction=" cn ", technology_field="  Additive   Manufacturing ",
        strategic="any",
    )  # fmt: skip
    assert parsed.status is AssetStatus.GRANTED
    assert parsed.kind is AssetKind.DESIGN
    assert parsed.jurisdiction == "CN"
    assert parsed.technology_field == "additive manufacturing"
    assert parsed.strategic == {StrategicReserve.KEY_CORE, StrategicReserve.COMMON_FOUNDATIONAL}
    assert AssetFilter.parse(strategic="none").strategic == {StrategicReserve.NONE}
    assert AssetFilter.parse() == AssetFilter()


@pytest.mark.parametrize(
    ("parameter", "value", "allowed"),
    [
        ("status", "pending", "granted"),
        ("kind", "trade_secret", "know_how"),
        ("jurisdiction", "China", None),
        ("strategic", "yes", "any"),
    ],
)
def test_a_bad_filter_value_is_a_422_naming_the_parameter(parameter: str, value: str, allowed: str | None) -> None:
    with pytest.raises(InvalidQuery) as caught:
        AssetFilter.parse(**{parameter: value})  # type: ignore[arg-type]
    error = caught.value
    assert error.message.startswith(f"{parameter}: ")
    assert (http_status(error), error.details["parameter"]) == (422, parameter)
    if allowed:
        assert allowed in error.details["allowed"]


# ---- through the use case ----------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """What the test registered, to compute the expected lists independently."""

    asset_id: uuid.UUID
    owners: frozenset[uuid.UUID]
    status: str
    kind: str
    jurisdiction: str
    field: str
    tag: str


def cn_number(serial: int) -> str:
    digits = f"20211{serial:07d}"
    return f"{digits}.{cn_application_check_character(digits)}"


def register_portfolio(c: Center, count: int = 13) -> list[Listed]:
    """Filed CN patents and disclosed US ones across the three members, one co-owned and pending."""
    listed: list[Listed] = []
    members = (c.uni, c.corp, c.lab)
    inventor = {c.uni: c.alice, c.corp: c.bob, c.lab: c.carol}
    for i in range(count):
        owner = members[i % 3]
        owners = {owner: 10_000} if i != count - 1 else {c.uni: 5_000, c.corp: 5_000}
        owner = c.uni if i == count - 1 else owner
        filed = i % 2 == 0
        registration = AssetRegistration(
            title=f"Asset {i}", kind="invention_patent", jurisdiction="CN" if filed else "US",
            registered_by=owner, owners=owners, inventors=[InventorClaim(inventor[owner], 10_000)],
            application_number=cn_number(i) if filed else "", status="filed" if filed else "disclosed",
            filing_date=date(2021, 3, 1) if filed else None, disclosure_date=date(2021, 1, 1),
            technology_field=FIELDS[i % 4], strategic_reserve=TAGS[i % 4],
        )  # fmt: skip
        asset_id = c.app.register_asset(ADMIN, registration)
        field = " ".join(FIELDS[i % 4].split()).lower()
        listed.append(Listed(asset_id, frozenset(owners), registration.status, "invention_patent",
                             registration.jurisdiction, field, TAGS[i % 4]))  # fmt: skip
    return listed


def every_page(
    c: Center, ctx: CommandContext, where: AssetFilter | None = None, limit: int = 4
) -> list[list[uuid.UUID]]:
    pages: list[list[uuid.UUID]] = []
    cursor: str | None = ""
    while cursor is not None:
        page = c.app.list_assets(ctx, where, cursor=cursor, limit=limit)
        pages.append([a.id for a in page.items])
        cursor = page.next_cursor
    return pages


@pytest.mark.parametrize("limit", [1, 4, 13, 14, 500])
def test_paging_through_every_asset_shows_each_once_in_registration_order(center: Center, limit: int) -> None:
    listed = register_portfolio(center)
    pages = every_page(center, ADMIN, limit=limit)
    assert [i for page in pages for i in page] == [a.asset_id for a in listed]
    assert len(pages) == max(1, -(-len(listed) // limit))


def test_an_asset_registered_while_paging_appears_once_at_the_end(center: Center) -> None:
    listed = register_portfolio(center, count=6)
    first = center.app.list_assets(ADMIN, limit=4)
    late = register_late(center)
    assert first.next_cursor is not None
    rest = center.app.list_assets(ADMIN, cursor=first.next_cursor, limit=4)
    assert [a.id for a in [*first.items, *rest.items]] == [*(a.asset_id for a in listed), late]
    assert rest.next_cursor is None


def register_late(c: Center) -> uuid.UUID:
    registration = AssetRegistration(
        title="Late", kind="know_how", jurisdiction="CN", registered_by=c.lab, owners={c.lab: 10_000},
        inventors=[InventorClaim(c.carol, 10_000)],
    )  # fmt: skip
    return c.app.register_asset(ADMIN, registration)


@pytest.mark.parametrize(
    "query",
    [
        {"status": "filed"},
        {"status": "disclosed", "jurisdiction": "us"},
        {"jurisdiction": "CN", "technology_field": "additive manufacturing"},
        {"technology_field": "BATTERIES", "strategic": "none"},
        {"strategic": "any"},
        {"strategic": "key_core", "status": "filed"},
        {"kind": "design"},
        {"owner": "corp", "status": "disclosed"},
    ],
)
def test_filters_combine_and_every_page_holds_only_matches(center: Center, query: dict[str, str]) -> None:
    listed = register_portfolio(center)
    owner = center.corp if query.get("owner") else None
    where = AssetFilter.parse(**{**query, "owner": owner})  # type: ignore[arg-type]
    tags = {"any": {"key_core", "common_foundational"}, "none": {""}}

    def expected(a: Listed) -> bool:
        return (
            (owner is None or owner in a.owners)
            and a.status == query.get("status", a.status)
            and a.kind == query.get("kind", a.kind)
            and a.jurisdiction == query.get("jurisdiction", a.jurisdiction).upper()
            and a.field == query.get("technology_field", a.field).lower()
            and a.tag in tags.get(query.get("strategic", ""), {query.get("strategic", a.tag)})
        )

    shown = [i for page in every_page(center, ADMIN, where, limit=2) for i in page]
    assert shown == [a.asset_id for a in listed if expected(a)]


def test_members_list_only_what_they_own_or_are_named_to_own(center: Center) -> None:
    listed = register_portfolio(center)
    for member in (center.uni, center.corp, center.lab):
        shown = [i for page in every_page(center, as_member(member), limit=3) for i in page]
        assert shown == [a.asset_id for a in listed if member in a.owners]
    co_owned = listed[-1].asset_id  # pending: corp is named but has not confirmed
    assert co_owned in [a.id for a in center.app.list_assets(as_member(center.corp), limit=500).items]
    mine = AssetFilter(owner=center.lab)
    assert len(center.app.list_assets(as_member(center.lab), mine, limit=500).items) == 4
    with pytest.raises(Forbidden):
        center.app.list_assets(as_member(center.uni), mine)
