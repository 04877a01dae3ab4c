"""A rehearsal of deploy/Dockerfile on a machine without a container engine.

The builder stage's own RUN builds the wheels in a folder laid out as its COPYs lay out its WORKDIR;
a fresh venv of this Python (no system site packages) installs them with the runtime stage's own RUN;
the image's CMD, with the stage's ENV, starts the service from that venv on the session's PostgreSQL
and broker until the image's HEALTHCHECK passes. Not rehearsed: the base image (this machine's
Python stands in for it), the console's apt step, and USER (the process runs as the test's user).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest
from packaging.utils import canonicalize_name

from ipshare.settings import DEV_MODE_VARIABLE
from ipshare_devtools.embedded import free_port
from ipshare_devtools.stack import CONSOLE, StackSettings
from ipshare_devtools.testing.dockerfile import (
    EMBEDDED_TOOLS,
    Stage,
    developer_distributions,
    exec_form,
    installed_closure,
    mount_options,
    project_name,
    read_stages,
    runtime_projects,
    split_flags,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
PACKAGES = {service.name: service.package for service in StackSettings().services()} | {CONSOLE: "console"}
COMPONENTS = [*PACKAGES]
BOOTSTRAP = {"pip", "setuptools", "wheel"}  # what a fresh venv, like the base image, holds already
DEV_SECRET = "image-rehearsal-development-secret-0123456789"
COMMAND_TIMEOUT = 1200.0  # seconds; a cold pip cache downloads every wheel
START_TIMEOUT = 180.0  # seconds for the service to answer; the machine may be busy


@dataclass(frozen=True)
class Rehearsal:
    component: str
    build_args: dict[str, str]
    source: Path  # the builder's WORKDIR as its COPYs lay it out
    wheel_dir: str  # where the builder puts the wheels in the image
    wheels: Path  # and where they are here
    venv: Path  # the runtime stage's Python, with the wheels installed

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@pytest.fixture(scope="module", params=COMPONENTS)
def image(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rehearsal:
    component: str = request.param
    folder = tmp_path_factory.mktemp(f"image-{component}")
    build_args = {"SERVICE": component, "PACKAGE": PACKAGES[component]}
    builder, runtime = read_stages(DOCKERFILE)
    started = time.monotonic()
    source, wheels, wheel_dir = build_wheels(builder, build_args, folder)
    built = time.monotonic()
    venv = folder / "venv"
    install_wheels(runtime, wheel_dir, wheels, venv)
    print(f"\n{component} on Python {sys.version.split()[0]} for {runtime.image}: builder {built - started:.0f} s, "
          f"runtime install {time.monotonic() - built:.0f} s")  # fmt: skip
    return Rehearsal(component, build_args, source, wheel_dir, wheels, venv)


def test_the_image_holds_what_its_projects_need_and_no_developer_tool(image: Rehearsal) -> None:
    installed = installed_distributions(image.venv)
    unwanted = installed & developer_distributions(ROOT)
    assert not unwanted, f"{image.component}'s image holds {sorted(unwanted)}"
    # What test_dockerfile.py works out from metadata is what pip put there.
    projects = [project_name(ROOT, p) for p in runtime_projects(ROOT, image.component)]
    assert installed - BOOTSTRAP == installed_closure(projects) - BOOTSTRAP


def test_the_image_command_starts_the_service_from_the_venv_until_its_healthcheck_passes(
    image: Rehearsal, fresh_database: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    runtime = read_stages(DOCKERFILE)[-1]
    package = image.build_args["PACKAGE"]
    env = {**image_env(image.venv), **runtime.environment(image.build_args), DEV_MODE_VARIABLE: "true",
           "JWT_SECRET": DEV_SECRET, "DATABASE_URL": fresh_database, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "HTTP_PORT": str(free_port()), "GRPC_PORT": str(free_port())}  # fmt: skip
    where = run([str(image.python), "-c", f"import {package}; print({package}.__file__)"], env)
    assert Path(where.strip()).is_relative_to(image.venv), "the service's code is the venv's, not the source tree's"
    log_path = tmp_path / f"{image.component}.log"
    with log_path.open("wb") as log, running(exec_form(runtime.arguments("CMD")[-1]), env, log) as process:
        wait_until_healthy(process, f"http://127.0.0.1:{env['HTTP_PORT']}/healthz", log_path)
        [healthcheck] = runtime.arguments("HEALTHCHECK")
        checked = subprocess.run(exec_form(healthcheck), env=env, capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, f"not an orderly stop on SIGTERM: {tail(log_path)}"


@pytest.mark.parametrize("image", ["ip-registry"], indirect=True)  # one is enough to size the tools
def test_the_image_is_a_fraction_of_a_venv_with_the_developer_tools(image: Rehearsal, tmp_path: Path) -> None:
    """The same wheels installed the same way, then the developer tools with their dev extras on top."""
    developer = tmp_path / "venv"
    install_wheels(read_stages(DOCKERFILE)[-1], image.wheel_dir, image.wheels, developer)
    shutil.copytree(ROOT / "libs" / "ipshare-devtools", tmp_path / "ipshare-devtools")
    shutil.copytree(ROOT / "services" / "revenue-share", tmp_path / "revenue-share")  # the tools' verify needs it
    shell(f"pip install -c {image.source / 'constraints.txt'} ./revenue-share './ipshare-devtools[dev]'", tmp_path,
          pip_env(developer / "bin"))  # fmt: skip
    assert {"ipshare-devtools", "pytest", "mypy", *EMBEDDED_TOOLS} <= installed_distributions(developer)
    size, developer_size = installed_size(image.venv), installed_size(developer)
    print(f"\n{image.component}: image venv {size / 2**20:.0f} MiB, with the developer tools "
          f"{developer_size / 2**20:.0f} MiB")  # fmt: skip
    assert size < developer_size / 2, f"{size} bytes against {developer_size}"


# -- the stages' commands, run here -------------------------------------------------------------


def build_wheels(builder: Stage, build_args: dict[str, str], folder: Path) -> tuple[Path, Path, str]:
    """The builder's WORKDIR laid out by its COPYs, and its `pip wheel` run there: (that folder, the
    wheel folder, the wheel folder's path in the image)."""
    assert not (ROOT / ".dockerignore").exists(), "the layout below copies as if nothing were ignored"
    [workdir] = builder.arguments("WORKDIR")
    source = folder / workdir.lstrip("/")
    for origin, destination in builder.copies(build_args):
        copy_as_docker_does(ROOT / origin, source, destination)
    command = split_flags(builder.run("pip wheel"))[1]
    [wheel_dir] = re.findall(r"--wheel-dir[= ](\S+)", command)
    wheels = folder / "wheels"
    # The image's builder is thrown away, where a pip cache would only fatten a layer; here the cache
    # keeps a rerun from downloading every wheel again.
    command = command.replace(" --no-cache-dir", "")
    # A stage's ARGs are its RUNs' environment; the shell expands them, as in the image.
    stage_args = {name: build_args[name] for name in (arg.partition("=")[0] for arg in builder.arguments("ARG"))}
    python = fresh_venv(folder / "builder-python")
    shell(on_host(command, wheel_dir, wheels), source, {**pip_env(python), **stage_args})
    return source, wheels, wheel_dir


def install_wheels(runtime: Stage, wheel_dir: str, wheels: Path, venv: Path) -> None:
    """A fresh venv, and the runtime stage's `pip install` run in it with the builder's wheels where it
    mounts them, and no pip configuration, as in the image: a wheel missing from the folder fails."""
    flags, command = split_flags(runtime.run("pip install"))
    mount = mount_options(flags["mount"])
    assert (mount["from"], mount["source"]) == ("builder", wheel_dir)
    fresh_venv(venv)
    shell(on_host(command, mount["target"], wheels), venv.parent, image_env(venv))


def copy_as_docker_does(origin: Path, workdir: Path, destination: str) -> None:
    """COPY puts a folder's contents at the destination, and a file into a destination ending in `/`."""
    target = workdir / destination
    if origin.is_dir():
        shutil.copytree(origin, target, dirs_exist_ok=True)
        return
    if destination.endswith("/"):
        target.mkdir(parents=True, exist_ok=True)
        target = target / origin.name
    shutil.copy2(origin, target)


def on_host(command: str, image_path: str, host_path: Path) -> str:
    """The command with an absolute path of the image (a whole path, or a folder of one) put here."""
    return re.sub(rf"(?<![\w./-]){re.escape(image_path)}(?![\w.-])", str(host_path), command)


def fresh_venv(venv: Path) -> Path:
    """`python -m venv` with this Python, no system site packages; its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=COMMAND_TIMEOUT)
    return venv / "bin"


def pip_env(bin_dir: Path) -> dict[str, str]:
    """This machine's environment (pip's index, proxy and certificates as set up here) with `bin_dir`
    first on PATH, so that `pip` and `python` are that venv's."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}


def image_env(venv: Path) -> dict[str, str]:
    """An environment as bare as the image's: the venv first on PATH, no pip configuration."""
    return {"PATH": f"{venv / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin", "PIP_CONFIG_FILE": os.devnull,
            "HOME": str(venv.parent), "LANG": "C.UTF-8"}  # fmt: skip


def shell(command: str, cwd: Path, env: dict[str, str]) -> None:
    """As RUN's shell form does: `/bin/sh -c`."""
    done = subprocess.run(["/bin/sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT)  # fmt: skip
    assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


def run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, cwd="/")
    assert done.returncode == 0, done.stderr
    return done.stdout


def installed_distributions(venv: Path) -> set[str]:
    listing = "import importlib.metadata as m; print('\\n'.join(d.metadata['Name'] for d in m.distributions()))"
    return {canonicalize_name(name) for name in run([str(venv / "bin" / "python"), "-c", listing], image_env(venv))
            .split()}  # fmt: skip


def installed_size(venv: Path) -> int:
    """Bytes of the venv's files (its `python` links to this machine's interpreter, counted nowhere)."""
    return sum(path.lstat().st_size for path in venv.rglob("*") if path.is_file() and not path.is_symlink())


@contextmanager
def running(argv: list[str], env: dict[str, str], log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """The image's command from `/` (the runtime stage sets no WORKDIR); killed if the test fails."""
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd="/")
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    started = time.monotonic()
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode}: {tail(log_path)}"
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                print(f"\n/healthz answered 200 after {time.monotonic() - started:.0f} s")
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"no 200 from {url} in {START_TIMEOUT:.0f} s: {tail(log_path)}")


def tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-3000:]
