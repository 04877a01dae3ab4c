"""The embedded PostgreSQL takes as many connections as several stacks of four services need."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from ipshare_devtools.embedded import start_postgres, stop_postgres

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
