"""Fields of use as IPC/CPC classification codes, which nest: `H01M` contains `H01M 10/052`.

A license names its field by one or more codes (the free-text `field_of_use` is only a
description), or is for all fields. A code is a section (`H`), a class (`H01`), a subclass
(`H01M`), a main group (`H01M 10/00`, also written `H01M 10`) or a subgroup
(`H01M 10/052`). Each level contains the levels below it. Inside a main group, IPC and CPC
nest subgroups by their dots, which the number does not carry; the number does extend its
parent's digits for the subgroups IPC and CPC define (`10/05` > `10/052` > `10/0525`), and
that is the rule here: a subgroup contains those whose digits start with its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ipshare_kernel.errors import DomainError

_CODE = re.compile(r"([A-HY])(?:(\d{2})(?:([A-Z])(?:(\d{1,4})(?:/(\d{2,6}))?)?)?)?")


@dataclass(frozen=True, slots=True, order=True)
class FieldCode:
    """A parsed IPC/CPC code; `group` and `subgroup` are digits ("" when absent, "00" for a main group)."""

    section: str
    klass: str = ""
    subclass: str = ""
    group: str = ""
    subgroup: str = ""

    def __str__(self) -> str:
        head = f"{self.section}{self.klass}{self.subclass}"
        return f"{head} {self.group}/{self.subgroup}" if self.group else head

    def _path(self) -> tuple[str, ...]:
        parts = (self.section, self.klass, self.subclass, self.group)
        return tuple(p for p in parts if p)

    def contains(self, other: FieldCode) -> bool:
        """Whether every field `other` names lies inside this one (a code contains itself)."""
        mine, theirs = self._path(), other._path()
        if theirs[: len(mine)] != mine:
            return False
        if not self.group or len(theirs) > len(mine):
            return True  # a section, class or subclass covers all below it
        if self.subgroup == "00":
            return True  # a main group covers its subgroups
        return other.subgroup.startswith(self.subgroup)


def parse_field_code(text: str) -> FieldCode:
    """`H01M10/052`, `h01m 10/052`, `H01M 10` (a main group) ... -> the canonical code, or a 422."""
    compact = "".join(text.split()).upper()
    match = _CODE.fullmatch(compact)
    if match is None or (match.group(4) is None and "/" in compact):
        raise DomainError(
            f"not an IPC/CPC code: {text!r}; name a section, class, subclass or group such as H, H01, H01M, "
            "H01M 10/00 or H01M 10/052",
            field=text,
        )
    section, klass, subclass, group, subgroup = match.groups()
    if group is None:
        return FieldCode(section, klass or "", subclass or "")
    return FieldCode(section, klass, subclass, str(int(group)), subgroup or "00")


def normalize_codes(codes: Iterable[str]) -> tuple[str, ...]:
    """Canonical codes, sorted, each once; a code inside another one given is dropped (it adds nothing)."""
    parsed = sorted({parse_field_code(code) for code in codes})
    kept = [c for c in parsed if not any(o != c and o.contains(c) for o in parsed)]
    return tuple(str(c) for c in kept)


def codes_overlap(a: Iterable[str], b: Iterable[str]) -> tuple[str, ...]:
    """The common fields of two sets of codes: each code of one inside a code of the other."""
    left, right = [parse_field_code(c) for c in a], [parse_field_code(c) for c in b]
    common = {x for x in left if any(y.contains(x) for y in right)}
    common |= {y for y in right if any(x.contains(y) for x in left)}
    return tuple(str(c) for c in sorted(common))


def covered_by(codes: Iterable[str], code: str) -> bool:
    """Whether `code` lies inside one of `codes`."""
    wanted = parse_field_code(code)
    return any(parse_field_code(c).contains(wanted) for c in codes)
