"""docs/architecture.md's table of who may do what is the one `ipshare.permissions.GRANTS` holds."""

from __future__ import annotations

from pathlib import Path

from ipshare.auth import Role
from ipshare.permissions import GRANTS, Permission

ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
HEADER = "| permission | member | finance | auditor | incubator | admin | service | covers |"


def documented_grants() -> dict[Permission, frozenset[Role]]:
    lines = ARCHITECTURE.read_text().splitlines()
    start = lines.index(HEADER)
    columns = [Role(name.strip()) for name in HEADER.split("|")[2:-2]]
    table: dict[Permission, frozenset[Role]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        permission = Permission[cells[0].strip("`")]
        table[permission] = frozenset(role for role, cell in zip(columns, cells[1:-1], strict=True) if cell == "✓")
    return table


def test_the_architecture_documents_every_grant() -> None:
    assert documented_grants() == dict(GRANTS)
