"""The whole stack on one machine: PostgreSQL, the broker and the four services as processes.

PostgreSQL is `DATABASE_URL` when set, else an embedded server whose data lives
in the state folder; the broker is `KAFKA_BOOTSTRAP_SERVERS` when set, else an
embedded tansu. Each service gets its own database (`ipshare_<service package>`).
People's and services' tokens come from the development issuer (`ipshare.dev_issuer`), a process
of the stack whose keys live in the state folder; every process runs in development mode.

With `replicas` above one, each service runs that many processes on one database: the first on
the configured ports, the others on free ones. A caller reaches any of them (there is no load
balancer here); a service calls another's gRPC with every replica's address, and gRPC moves on to
the next when one does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ipshare.database import drop_database, with_database
from ipshare.dev_issuer import DevIssuer
from ipshare.identity import DISCOVERY_PATH
from ipshare.settings import DEV_MODE_VARIABLE
from ipshare_devtools.embedded import Broker, StartError, free_port, start_postgres, stop_postgres

CONSOLE = "console"  # the web console's process: no database, no broker, the services' public APIs
ISSUER = "issuer"  # the development identity provider's process


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    package: str
    http_port: int
    grpc_port: int
    replica: int = 0

    @property
    def process_name(self) -> str:
        """`revenue-share`, then `revenue-share.2`, ... for further replicas."""
        return self.name if self.replica == 0 else f"{self.name}.{self.replica + 1}"

    @property
    def env_prefix(self) -> str:
        return self.name.upper().replace("-", "_")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    database_url: str | None = Field(None, description="PostgreSQL server; unset: embedded")
    kafka_bootstrap_servers: str | None = Field(None, description="Kafka brokers; unset: embedded tansu")
    state_dir: Path = Field(Path(".ipshare"), description="Embedded data, logs and the stack's pid file")
    embedded_kafka_port: int = 9092
    database_prefix: str = Field("ipshare", description="Each service's database is <prefix>_<service package>")
    ip_registry_http_port: int = 8001
    commercialization_http_port: int = 8002
    incubation_http_port: int = 8003
    revenue_share_http_port: int = 8004
    # Every port below Linux's ephemeral range (32768-60999): no outgoing connection can hold one.
    ip_registry_grpc_port: int = 8101
    commercialization_grpc_port: int = 8102
    incubation_grpc_port: int = 8103
    revenue_share_grpc_port: int = 8104
    console_http_port: int = Field(8005, description="The web console (services/console)")
    dev_issuer_port: int = Field(8006, description="The development identity provider (discovery, JWKS, tokens)")
    replicas: int = Field(1, ge=1, description="Processes per service (the leader runs the single-writer loops)")

    def services(self) -> list[ServiceProcess]:
        return [
            ServiceProcess("ip-registry", "ip_registry", self.ip_registry_http_port, self.ip_registry_grpc_port),
            ServiceProcess("commercialization", "commercialization", self.commercialization_http_port,
                           self.commercialization_grpc_port),
            ServiceProcess("incubation", "incubation", self.incubation_http_port, self.incubation_grpc_port),
            ServiceProcess("revenue-share", "revenue_share", self.revenue_share_http_port,
                           self.revenue_share_grpc_port),
        ]  # fmt: skip

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_http_port}"

    @property
    def issuer_url(self) -> str:
        return f"http://127.0.0.1:{self.dev_issuer_port}"

    def dev_issuer(self) -> DevIssuer:
        """The stack's issuer keys (made on first use), for minting tokens as `ipshare token` does."""
        return DevIssuer.open(self.state_dir.resolve() / ISSUER, self.issuer_url)


class Stack:
    """Starts and stops the stack; `detached` leaves it running for `ipshare down`."""

    def __init__(self, settings: StackSettings, *, detached: bool = False) -> None:
        self.settings = settings
        self.detached = detached
        self.state_dir = settings.state_dir.resolve()
        self.logs = self.state_dir / "logs"
        self.broker: Broker | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.database_url = ""
        self.bootstrap_servers = ""
        self.issuer = settings.dev_issuer()
        self.replicas = self._replicas()

    def _replicas(self) -> list[ServiceProcess]:
        """Every process of the stack: each service's first replica, then any further ones."""
        found = list(self.settings.services())
        for service in self.settings.services():
            for replica in range(1, self.settings.replicas):
                found.append(ServiceProcess(service.name, service.package, free_port(), free_port(), replica))
        return found

    def replicas_of(self, name: str) -> list[ServiceProcess]:
        return [r for r in self.replicas if r.name == name]

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "stack.json"

    def start(self, *, fresh: bool = False, timeout: float = 60.0) -> None:
        """Start everything; `fresh` first drops the services' databases (the demo starts from nothing).
        `timeout`: how long the services may take to be healthy."""
        self.logs.mkdir(parents=True, exist_ok=True)
        if self.pid_file.exists():
            raise StartError(f"a stack seems to be running ({self.pid_file}); run `ipshare down` first")
        try:
            self.database_url = self.settings.database_url or start_postgres(
                self.state_dir / "pgdata", keep_running=True
            )
            if fresh:
                for service in self.settings.services():
                    asyncio.run(drop_database(self.service_database(service)))
            self.bootstrap_servers = self.settings.kafka_bootstrap_servers or self._start_broker()
            self._start_issuer(timeout)
            for replica in self.replicas:
                self.processes[replica.process_name] = self._spawn(replica)
            self.processes[CONSOLE] = self._spawn_console()
            self._write_pid_file()
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def _start_issuer(self, timeout: float) -> None:
        """The issuer first: each service reads its discovery document as it starts."""
        env = {"DEV_ISSUER_DIR": str(self.issuer.folder), "DEV_ISSUER_PORT": str(self.settings.dev_issuer_port),
               "DEV_ISSUER_REDIRECT_URIS": ",".join(self.console_redirect_uris()),
               DEV_MODE_VARIABLE: "true"}  # fmt: skip
        self.processes[ISSUER] = self._spawn_module(ISSUER, "ipshare.dev_issuer", env)
        self._wait_until_answers(ISSUER, self.settings.issuer_url + DISCOVERY_PATH, timeout)

    def console_redirect_uris(self) -> list[str]:
        """What the console registers at the issuer: its callback and its sign-in page (where a sign-out
        comes back to), at either name a browser here reaches it by."""
        port = self.settings.console_http_port
        return [f"http://{host}:{port}{path}" for host in ("127.0.0.1", "localhost")
                for path in ("/sign-in/callback", "/sign-in")]  # fmt: skip

    def _start_broker(self) -> str:
        self.broker = Broker(self.settings.embedded_kafka_port, self.logs / "broker.log")
        return self.broker.start()

    def service_database(self, service: ServiceProcess) -> str:
        return with_database(self.database_url, f"{self.settings.database_prefix}_{service.package}")

    def service_env(self, service: ServiceProcess) -> dict[str, str]:
        """The settings this stack gives a service (on top of the caller's environment)."""
        env = {
            "DATABASE_URL": self.service_database(service),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "HTTP_PORT": str(service.http_port),
            "GRPC_PORT": str(service.grpc_port),
            **self.identity_env(service.name),
        }
        for other in self.settings.services():
            ports = [r.grpc_port for r in self.replicas_of(other.name)]
            addresses = ",".join(f"127.0.0.1:{port}" for port in ports)
            env[f"{other.env_prefix}_GRPC_ADDRESS"] = addresses if len(ports) == 1 else f"ipv4:{addresses}"
            env[f"{other.env_prefix}_URL"] = other.base_url
        return env

    def console_env(self) -> dict[str, str]:
        """The console calls the services' public APIs (HTTP, and gRPC for the auditor's verification)."""
        services = self.settings.services()
        env = {"HTTP_PORT": str(self.settings.console_http_port), **self.identity_env(CONSOLE)}
        for service in services:
            env[f"{service.env_prefix}_URL"] = service.base_url
            env[f"{service.env_prefix}_GRPC_ADDRESS"] = f"127.0.0.1:{service.grpc_port}"
        return env

    def identity_env(self, client_id: str) -> dict[str, str]:
        """A process's issuer and its own client credentials there, in development mode."""
        return {"OIDC_ISSUER": self.issuer.url, "OIDC_CLIENT_ID": client_id,
                "OIDC_CLIENT_SECRET": self.issuer.client_secret, DEV_MODE_VARIABLE: "true"}  # fmt: skip

    def _spawn(self, service: ServiceProcess) -> subprocess.Popen[bytes]:
        return self._spawn_module(service.process_name, f"{service.package}.entrypoints.main",
                                  self.service_env(service))  # fmt: skip

    def _spawn_console(self) -> subprocess.Popen[bytes]:
        return self._spawn_module(CONSOLE, "console.entrypoints.main", self.console_env())

    def _spawn_module(self, name: str, module: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        return subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=self.detached,
        )

    def kill(self, name: str) -> None:
        """SIGKILL one service's process, as a crash would (the simulation restarts it)."""
        process = self.processes[name]
        process.kill()
        process.wait()

    def restart(self, name: str, timeout: float = 60.0) -> None:
        """Start a service's process again (after `kill`) and wait until every service is healthy."""
        [replica] = [r for r in self.replicas if r.process_name == name]
        self.respawn(replica)
        self.wait_healthy(timeout)

    def respawn(self, replica: ServiceProcess) -> None:
        """Start a replica again (after a fault drill killed it)."""
        self.processes[replica.process_name] = self._spawn(replica)
        self._write_pid_file()

    def _wait_until_answers(self, name: str, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise StartError(f"{name} exited with status {process.returncode}; see {self.logs / name}.log")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.2)
        raise StartError(f"{name} did not answer in {timeout:.0f} s; see {self.logs / name}.log")

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        pending = {s.process_name: s.base_url for s in self.replicas}
        if CONSOLE in self.processes:
            pending[CONSOLE] = self.settings.console_url
        while pending and time.monotonic() < deadline:
            for name, base_url in list(pending.items()):
                process = self.processes[name]
                if process.poll() is not None:
                    raise StartError(f"{name} exited with status {process.returncode}; see {self.logs / name}.log")
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        if pending:
            raise StartError(f"not healthy in {timeout:.0f} s: {', '.join(pending)}; see {self.logs}")

    def _write_pid_file(self) -> None:
        state = {
            "services": {name: p.pid for name, p in self.processes.items()},
            "broker_pid": self.broker.process.pid if self.broker and self.broker.process else None,
            "embedded_postgres": self.settings.database_url is None,
        }
        self.pid_file.write_text(json.dumps(state, indent=2))

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.broker:
            self.broker.stop()
        if self.settings.database_url is None:
            stop_postgres(self.state_dir / "pgdata")
        self.pid_file.unlink(missing_ok=True)


def stop_detached(settings: StackSettings) -> bool:
    """Stop a stack started by `ipshare up`; False when none is running."""
    state_dir = settings.state_dir.resolve()
    pid_file = state_dir / "stack.json"
    if not pid_file.exists():
        return False
    state = json.loads(pid_file.read_text())
    pids = [*state["services"].values()]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    _wait_gone(pids, 20)
    if state.get("broker_pid"):
        _signal(state["broker_pid"], signal.SIGTERM)
        _wait_gone([state["broker_pid"]], 10)
    if state.get("embedded_postgres"):
        stop_postgres(state_dir / "pgdata")
    pid_file.unlink()
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive:
            return
        time.sleep(0.1)
    for pid in pids:
        _signal(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
