from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ipshare_kernel.clock import FixedClock, SystemClock


def test_a_fixed_clock_stands_still_on_its_day() -> None:
    clock = FixedClock.on(date(2026, 3, 31))
    assert clock.today() == date(2026, 3, 31)
    assert clock.now() == datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert clock.now() == clock.now()


def test_a_fixed_clock_needs_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2026, 3, 31, 12))


def test_a_fixed_clock_tells_the_day_of_its_instant() -> None:
    late_in_shanghai = datetime(2026, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=8)))
    assert FixedClock(late_in_shanghai).today() == date(2026, 3, 31)


def test_the_system_clock_is_aware_and_agrees_with_the_machine() -> None:
    clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is not None
    assert before <= now <= datetime.now(UTC)
    assert clock.today() in {date.today(), date.today() - timedelta(days=1)}  # a test across midnight
