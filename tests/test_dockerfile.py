"""deploy/Dockerfile cannot be built here (no Docker engine): read it, and work out from the
installed packages' metadata what its runtime stage installs (test_image_rehearsal.py runs its
commands and installs the result for real)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ipshare_devtools.testing.dockerfile import (
    Stage,
    developer_distributions,
    installed_closure,
    project_name,
    read_stages,
    runtime_projects,
)

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPONENTS = ["ip-registry", "commercialization", "incubation", "revenue-share", "console"]


def stages() -> list[Stage]:
    return read_stages(DOCKERFILE)


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
    projects = runtime_projects(ROOT, "ip-registry")
    assert projects[-1] == Path("services/ip-registry")
    assert {project_name(ROOT, p) for p in projects[:-1]} == {"ipshare-kernel", "ipshare"}
    console = runtime_projects(ROOT, "console")
    assert {project_name(ROOT, p) for p in console[:-1]} == {"ipshare-kernel", "ipshare", "ipshare-revenue-share"}
    for component in COMPONENTS:
        assert runtime_projects(ROOT, component)[-1] == Path("services", component)
        assert (ROOT / "services" / component / "pyproject.toml").exists()
    instructions = [args for stage in stages() for _, args in stage.instructions]
    assert not [args for args in instructions if "[dev]" in args or "devtools" in args]


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_image_installs_no_dev_tool_nor_the_embedded_servers(component: str) -> None:
    installed = installed_closure([project_name(ROOT, p) for p in runtime_projects(ROOT, component)])
    unwanted = developer_distributions(ROOT)
    assert not installed & unwanted, f"{component}'s image would hold {installed & unwanted}"
    assert {"fastapi", "uvicorn", "grpcio"} <= installed
