"""A cash receipt's assets: kept sorted and unique, and shared when already so."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ipshare_kernel.errors import DomainError
from revenue_share.domain.facts import CashReceipt

DAY = date(2025, 1, 2)
AT = datetime(2025, 1, 3, tzinfo=UTC)


def receipt(asset_ids: tuple[str, ...] | list[str], amount: int = 100) -> CashReceipt:
    return CashReceipt("rc1", "L1", tuple(asset_ids), "royalty", amount, "CNY", DAY, AT)


def test_assets_are_kept_sorted_and_unique() -> None:
    assert receipt(("B", "A", "B")).asset_ids == ("A", "B")


def test_receipts_share_an_asset_tuple_that_is_already_sorted() -> None:
    assets = ("A", "B", "C")
    assert receipt(assets).asset_ids is assets


def test_a_receipt_names_at_least_one_asset() -> None:
    with pytest.raises(DomainError, match="at least one asset"):
        receipt(())


def test_equal_parts_sum_to_the_receipt() -> None:
    assert receipt(("A", "B", "C"), 100).parts() == {"A": 34, "B": 33, "C": 33}
