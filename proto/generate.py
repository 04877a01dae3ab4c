"""Generate the Python code for the contracts in this folder.

    python proto/generate.py            # writes into libs/ipshare/src
    python proto/generate.py OUT_DIR    # writes elsewhere (the check in tests/ compares)

Generated modules are committed; tests/test_contracts.py fails when they no
longer match the .proto files.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
DEFAULT_OUT = PROTO_ROOT.parent / "libs" / "ipshare" / "src"
PACKAGE = "ipshare_contracts"


def proto_files() -> list[Path]:
    return sorted((PROTO_ROOT / PACKAGE).rglob("*.proto"))


def generate(out_dir: Path) -> None:
    plugin_dir = Path(sys.executable).parent
    include = Path(protoc.__file__).resolve().parent / "_proto"
    package_out = out_dir / PACKAGE
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--plugin=protoc-gen-mypy={plugin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={plugin_dir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for folder in [package_out, *(p for p in package_out.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    (package_out / "py.typed").touch()


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
