"""The HTTP API's choices are the domain's, and a choice left blank is no choice."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from commercialization.domain.account import AGEING_BUCKETS, RevenueKind
from commercialization.entrypoints import schemas as s

RECEIPT = {"amount": 100, "currency": "CNY", "received_date": "2025-02-01", "payer_reference": "BANK-1"}


def test_the_documented_ageing_buckets_are_the_domains() -> None:
    assert get_args(s.AgeingBucket) == AGEING_BUCKETS


@pytest.mark.parametrize("blank", [None, "", "  "])
def test_a_receipt_with_no_uninvoiced_kind_leaves_the_rest_unapplied(blank: str | None) -> None:
    assert s.ReceiptIn.model_validate({**RECEIPT, "uninvoiced_kind": blank}).uninvoiced_kind is None


def test_an_uninvoiced_kind_is_a_revenue_kind() -> None:
    assert (
        s.ReceiptIn.model_validate({**RECEIPT, "uninvoiced_kind": "milestone"}).uninvoiced_kind is RevenueKind.MILESTONE
    )
    with pytest.raises(ValidationError, match="uninvoiced_kind"):
        s.ReceiptIn.model_validate({**RECEIPT, "uninvoiced_kind": "gift"})
