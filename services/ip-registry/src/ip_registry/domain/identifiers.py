"""Check characters of official identifiers: a wrong number is refused with the reason.

- Unified social credit code of an organization (GB 32100-2015).
- CN patent application number (CNIPA, since 2003): 12 digits, a dot, a check character.
- PCT international application number: PCT/CCyyyy/nnnnnn.
"""

from __future__ import annotations

import re

from ipshare.errors import DomainError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CN_APPLICATION_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)

_CN_APPLICATION = re.compile(r"(\d{12})\.([0-9X])")
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


def cn_application_check_character(digits12: str) -> str:
    total = sum(int(d) * w for d, w in zip(digits12, CN_APPLICATION_WEIGHTS, strict=True))
    check = total % 11
    return "X" if check == 10 else str(check)


# The 5th digit of a CN application number says which kind of right was applied for.
CN_KIND_DIGITS: dict[str, frozenset[str]] = {
    "invention_patent": frozenset("18"),  # 8: a PCT application entering the national phase
    "utility_model": frozenset("29"),
    "design": frozenset("3"),
}


def check_cn_application_number(number: str, kind: str) -> str:
    """The normalized number (`202110012345.6`): prefixes CN/ZL and spaces dropped."""
    normalized = number.strip().upper().replace(" ", "").removeprefix("CN").removeprefix("ZL")
    match = _CN_APPLICATION.fullmatch(normalized)
    if match is None:
        raise DomainError(
            "a CN application number is 12 digits, a dot and a check character (0-9 or X)",
            application_number=number,
        )
    digits, check = match.groups()
    expected = cn_application_check_character(digits)
    if check != expected:
        raise DomainError(
            f"wrong check character in CN application number: expected {expected}, got {check}",
            application_number=number,
            expected=expected,
        )
    allowed = CN_KIND_DIGITS.get(kind)
    if allowed is not None and digits[4] not in allowed:
        raise DomainError(
            f"CN application number {normalized} is not for a {kind} (type digit {digits[4]})",
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
