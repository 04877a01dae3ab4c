"""The clock a use case reads "today" and "now" from, injected so that a test can fix the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    def today(self) -> date:
        """The business day a command without an explicit date takes effect on."""
        ...

    def now(self) -> datetime:
        """The present instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The machine's clock: today's date in local time, as `date.today()`, and now in UTC."""

    def today(self) -> date:
        return date.today()

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FixedClock:
    """A clock standing still at one instant (for tests and replays)."""

    instant: datetime

    def __post_init__(self) -> None:
        if self.instant.tzinfo is None:
            raise ValueError("a fixed clock's instant must be timezone-aware")

    @classmethod
    def on(cls, day: date) -> FixedClock:
        """Noon UTC of the given day."""
        return cls(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))

    def today(self) -> date:
        return self.instant.date()

    def now(self) -> datetime:
        return self.instant


SYSTEM_CLOCK: Clock = SystemClock()
