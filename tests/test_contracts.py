"""The committed protobuf code must match proto/: regenerate and compare."""

from __future__ import annotations

import filecmp
import importlib.util
from pathlib import Path

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
