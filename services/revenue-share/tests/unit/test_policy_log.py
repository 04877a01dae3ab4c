"""Which policy versions of revenue-share's log are in force: the ones the ledger accepted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from revenue_share.domain.policy import CenterPolicy
from revenue_share.replay import PolicyLogEntry, policies_in_force, refused_versions

CLOSE = datetime(2027, 1, 5, 9, tzinfo=UTC)


def _version(name: str, recorded_at: datetime) -> CenterPolicy:
    return CenterPolicy(name, date(2026, 1, 1), recorded_at)


def test_a_version_logged_after_a_close_it_predates_was_refused_and_is_not_in_force() -> None:
    before = _version("before", CLOSE - timedelta(days=1))
    stray = _version("stray", CLOSE - timedelta(seconds=1))
    after = _version("after", CLOSE + timedelta(days=1))
    log: list[PolicyLogEntry] = [(7, after), (1, before), (3, CLOSE), (5, stray)]  # in any order: by position

    assert refused_versions(log) == {"stray"}
    assert policies_in_force(log) == [before, after]


def test_without_a_close_every_version_is_in_force_in_recording_order() -> None:
    first, second = _version("first", CLOSE), _version("second", CLOSE - timedelta(1))

    assert policies_in_force([(4, second), (2, first)]) == [first, second]
