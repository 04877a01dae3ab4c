"""The embedded PostgreSQL takes as many connections as several stacks of four services need; the
ports handed to embedded servers stay out of the way of outgoing connections."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import pytest

from ipshare_devtools.embedded import free_port, start_postgres, stop_postgres

pytestmark = pytest.mark.integration


async def test_the_embedded_server_raises_the_connection_limit_and_keeps_it_on_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    for _start in range(2):  # a new data directory, then the same one again
        url = start_postgres(data_dir, max_connections=400)
        try:
            conn = await asyncpg.connect(url)
            assert int(await conn.fetchval("SHOW max_connections")) == 400
            await conn.close()
        finally:
            stop_postgres(data_dir)
        assert not (data_dir / "postmaster.pid").exists()  # stopped, not left running


def test_free_ports_lie_below_the_range_outgoing_connections_take_theirs_from() -> None:
    floor = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)  # never the same one twice in a process
    assert all(20_000 <= port < floor for port in ports)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", ports[0]))
