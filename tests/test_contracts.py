"""The contracts in proto/: the committed code matches them, and buf refuses breaking changes to them."""

from __future__ import annotations

import filecmp
import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "libs" / "ipshare" / "src" / "ipshare_contracts"


def load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate", ROOT / "proto" / "generate.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_generated_code_matches_the_proto_files(tmp_path: Path) -> None:
    load_generator().generate(tmp_path)
    fresh = tmp_path / "ipshare_contracts"
    assert files(fresh) == files(COMMITTED), "run `make proto` and commit the result"
    differing = [str(p) for p in files(fresh) if not filecmp.cmp(fresh / p, COMMITTED / p, shallow=False)]
    assert not differing, f"stale generated code, run `make proto`: {differing}"


# ---- the breaking-change check (`make proto-check`) ------------------------------------------

PROTO = ROOT / "proto"
BUF = ROOT / "tools" / "buf" / "node_modules" / ".bin" / "buf"
REGISTRY_EVENTS = Path("ipshare_contracts") / "ipregistry" / "v1" / "events.proto"


def buf(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert BUF.exists(), "buf is missing: `make install` installs it"
    return subprocess.run([str(BUF), *args], cwd=cwd, capture_output=True, text=True, check=False)


def edited_contracts(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of proto/ with one edit to the ip-registry's events."""
    copy = tmp_path / "proto"
    shutil.copytree(PROTO, copy, ignore=shutil.ignore_patterns("__pycache__"))
    events = copy / REGISTRY_EVENTS
    text = events.read_text()
    assert old in text
    events.write_text(text.replace(old, new, 1))
    return copy


def breaking(contracts: Path) -> subprocess.CompletedProcess[str]:
    return buf(contracts, "breaking", "--against", "releases/v1.binpb")


def test_the_contracts_pass_lint_and_the_check_against_the_last_release() -> None:
    assert buf(PROTO, "lint").returncode == 0
    result = breaking(PROTO)
    assert result.returncode == 0, result.stdout + result.stderr


TYPED_DAY = 'ipshare.calendar.v1.Date effective_day = 7 [(ipshare.typed.v1.text_field) = "effective_date"];'
REFUSED = {
    "a field changing its type": ("  string credit_code = 4;", "  int64 credit_code = 4;", "credit_code"),
    "a field removed without reserving it": ("  string credit_code = 4;", "", "credit_code"),
    "a published message renamed": ("message MemberReinstated {", "message MemberReadmitted {", "MemberReinstated"),
    # readers take the typed field first: it stays once released, as its text twin does
    "a typed date removed": (
        '  ipshare.calendar.v1.Date effective_day = 7 [(ipshare.typed.v1.text_field) = "effective_date"];\n',
        "",
        "effective_day",
    ),
}


@pytest.mark.parametrize("change", REFUSED)
def test_a_breaking_change_is_refused(tmp_path: Path, change: str) -> None:
    old, new, named = REFUSED[change]
    result = breaking(edited_contracts(tmp_path, old, new))
    assert result.returncode != 0
    assert named in result.stdout


def test_a_field_removed_with_its_number_and_name_reserved_passes(tmp_path: Path) -> None:
    contracts = edited_contracts(tmp_path, "  string credit_code = 4;", '  reserved 4;\n  reserved "credit_code";')
    result = breaking(contracts)
    assert result.returncode == 0, result.stdout + result.stderr
