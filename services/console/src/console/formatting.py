"""Money, numbers and dates as people read them, in the console's two languages.

Amounts arrive in minor units with an ISO 4217 code; the number of digits of each
currency's minor unit is the services' own table (`ipshare_kernel.money.MINOR_UNITS`), so a
fen is 0.01 yuan and a yen is one yen. Babel supplies the symbol and separators.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_date
from babel.dates import format_datetime as babel_datetime
from babel.numbers import format_currency, format_decimal

from ipshare_kernel.money import BASIS_POINTS, MINOR_UNITS

LOCALES = {"en": "en_US", "zh": "zh_Hans_CN"}


def minor_digits(currency: str) -> int:
    """Digits of the currency's minor unit; an unknown code shows its minor units as they are."""
    return MINOR_UNITS.get(currency, 0)


def major_amount(minor: int, currency: str) -> Decimal:
    """The exact amount in the currency's major unit (fen -> yuan), never through a float."""
    return Decimal(minor).scaleb(-minor_digits(currency))


def money(minor: int, currency: str, lang: str = "en") -> str:
    """`¥1,000,000.01` (zh) or `CN¥1,000,000.01` (en); JPY without decimals."""
    digits = minor_digits(currency)
    number = "#,##0" + ("." + "0" * digits if digits else "")
    return format_currency(
        major_amount(minor, currency), currency, format=f"¤{number};-¤{number}", locale=LOCALES[lang],
        currency_digits=False,
    )  # fmt: skip


def plain_amount(minor: int, currency: str) -> str:
    """`1000000.01`: the exact major-unit amount for a CSV cell, no separators."""
    return f"{major_amount(minor, currency):f}"


def count(value: int, lang: str = "en") -> str:
    return format_decimal(value, locale=LOCALES[lang])


def basis_points(bps: int, lang: str = "en") -> str:
    """6000 bps -> `60.00%`."""
    return format_decimal(Decimal(bps) * 100 / BASIS_POINTS, format="#,##0.00", locale=LOCALES[lang]) + "%"


def business_date(value: date | str | None, lang: str = "en") -> str:
    """A business date: `2026-03-02` in English, `2026年3月2日` in Chinese; empty when unset."""
    if value is None or value == "":
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(value)
    return day.isoformat() if lang == "en" else babel_date(day, format="long", locale=LOCALES[lang])


def timestamp(value: datetime | str | None, zone: str, lang: str = "en") -> str:
    """A recorded time shown in the center's time zone, to the minute."""
    if value is None or value == "":
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    local = moment.astimezone(ZoneInfo(zone))
    pattern = "yyyy-MM-dd HH:mm zzz" if lang == "en" else "yyyy年M月d日 HH:mm zzz"
    return babel_datetime(local, format=pattern, tzinfo=ZoneInfo(zone), locale=LOCALES[lang])
