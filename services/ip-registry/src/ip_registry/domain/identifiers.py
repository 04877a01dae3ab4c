"""Check characters of official identifiers: a wrong number is refused with the reason.

- Unified social credit code of an organization (GB 32100-2015).
- CN patent application number (CNIPA): since October 2003, 12 digits (year, kind, serial),
  a dot and a check character; before, 8 digits (two-digit year 85-03, kind, serial), a dot
  and a check character. Both check characters are the weighted digit sum mod 11 (10: X).
- PCT international application number: PCT/CCyyyy/nnnnnn.
"""

from __future__ import annotations

import re

from ip_registry.domain.values import parse_jurisdiction
from ipshare_kernel.errors import DomainError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CN_APPLICATION_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)  # over the 12 digits (and the first 8 of the old)

_CN_APPLICATION = re.compile(r"(\d{12})\.([0-9X])")
_CN_OLD_APPLICATION = re.compile(r"(\d{8})\.([0-9X])")  # before October 2003, e.g. 97101765.4
_CN_OLD_YEARS = frozenset(f"{year % 100:02d}" for year in range(1985, 2004))  # Patent Law in force 1985
_PCT_APPLICATION = re.compile(r"PCT/[A-Z]{2}\d{4}/\d{6}")
_OTHER_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9/.,\- ]{1,39}")


def uscc_check_character(first17: str) -> str:
    """The 18th character of a credit code whose first 17 characters are given."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_credit_code(code: str) -> str:
    """The normalized (upper-case) credit code, or a 422 saying what is wrong."""
    normalized = code.strip().upper()
    if len(normalized) != 18:
        raise DomainError("a unified social credit code has 18 characters", credit_code=code, length=len(normalized))
    bad = sorted({c for c in normalized if c not in USCC_ALPHABET})
    if bad:
        raise DomainError(
            "a unified social credit code uses only 0-9 and A-Y without I, O, S, V, Z",
            credit_code=code,
            invalid_characters=bad,
        )
    expected = uscc_check_character(normalized[:17])
    if normalized[17] != expected:
        raise DomainError(
            f"wrong check character in unified social credit code: expected {expected}, got {normalized[17]}",
            credit_code=code,
            expected=expected,
        )
    return normalized


def cn_application_check_character(digits: str) -> str:
    """Check character of the 12 digits of a number since 2003, or the 8 of an older one."""
    total = sum(int(d) * w for d, w in zip(digits, CN_APPLICATION_WEIGHTS[: len(digits)], strict=True))
    check = total % 11
    return "X" if check == 10 else str(check)


# The digit after the year (the 5th; the 3rd before 2003) of a CN application number: the kind of right.
CN_KIND_DIGITS: dict[str, frozenset[str]] = {
    "invention_patent": frozenset("18"),  # 8: a PCT application entering the national phase
    "utility_model": frozenset("29"),
    "design": frozenset("3"),
}


def check_cn_application_number(number: str, kind: str) -> str:
    """The normalized number (`202110012345.6`, or `97101765.4` before October 2003): prefixes
    CN/ZL and spaces dropped."""
    normalized = number.strip().upper().replace(" ", "").removeprefix("CN").removeprefix("ZL")
    match = _CN_APPLICATION.fullmatch(normalized) or _CN_OLD_APPLICATION.fullmatch(normalized)
    if match is None:
        raise DomainError(
            "a CN application number is 12 digits, a dot and a check character (0-9 or X); "
            "one filed before October 2003 has 8 digits",
            application_number=number,
        )
    digits, check = match.groups()
    old = len(digits) == 8
    if old and digits[:2] not in _CN_OLD_YEARS:
        raise DomainError("an 8-digit CN application number starts with its year, 85 to 03", application_number=number)
    expected = cn_application_check_character(digits)
    if check != expected:
        raise DomainError(
            f"wrong check character in CN application number: expected {expected}, got {check}",
            application_number=number,
            expected=expected,
        )
    kind_digit = digits[2] if old else digits[4]  # the digit after the year
    allowed = CN_KIND_DIGITS.get(kind)
    if allowed is not None and kind_digit not in allowed:
        raise DomainError(
            f"CN application number {normalized} is not for a {kind} (type digit {kind_digit})",
            application_number=number,
            kind=kind,
        )
    return normalized


def check_application_number(jurisdiction: str, kind: str, number: str) -> str:
    """Validate where the office's format is known; otherwise only the character set."""
    if jurisdiction == "CN" and kind in CN_KIND_DIGITS:
        return check_cn_application_number(number, kind)
    normalized = number.strip().upper()
    if jurisdiction == "PCT":
        if _PCT_APPLICATION.fullmatch(normalized) is None:
            raise DomainError("a PCT application number looks like PCT/CN2021/012345", application_number=number)
        return normalized
    if _OTHER_NUMBER.fullmatch(normalized) is None:
        raise DomainError(
            "an application number is 2-40 letters, digits and / . , - characters", application_number=number
        )
    return normalized


def check_identifier(
    *, credit_code: str | None = None, application_number: str | None = None, jurisdiction: str = "CN", kind: str = ""
) -> str:
    """One credit code, or one application number of a jurisdiction and kind, normalized as
    registering it would; a DomainError says what is wrong. Nothing is recorded."""
    if (credit_code is None) == (application_number is None):
        raise DomainError("name either a credit_code or an application_number")
    if credit_code is not None:
        return check_credit_code(credit_code)
    assert application_number is not None
    return check_application_number(parse_jurisdiction(jurisdiction), kind, application_number)
