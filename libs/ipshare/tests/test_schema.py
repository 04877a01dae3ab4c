"""Schema migrations on the real PostgreSQL: what they make, what they take over, and replicas
starting together."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest
from typer.testing import CliRunner

from ipshare.database import with_database
from ipshare.schema import SchemaBehind, library_metadata, migrate, prepare
from ipshare.service_cli import service_cli
from ipshare.settings import ServiceSettings
from ipshare_devtools.testing.tables import engine_with_tables, library_schema, schema_differences, table_ids

pytestmark = pytest.mark.integration
REVISIONS = ["ipshare_0001", "ipshare_0002"]


async def test_the_migrations_make_on_an_empty_database_the_tables_the_code_expects(fresh_database: str) -> None:
    assert await migrate(fresh_database, library_schema) == REVISIONS

    assert schema_differences(fresh_database, library_schema) == []
    assert await migrate(fresh_database, library_schema) == []  # nothing left to do


async def test_a_database_the_start_up_made_before_migrations_keeps_its_tables_and_rows(fresh_database: str) -> None:
    engine = await engine_with_tables(fresh_database, library_metadata)  # what start-up ran before
    await engine.dispose()
    conn = await asyncpg.connect(fresh_database)
    await conn.execute("INSERT INTO follower_positions VALUES ('relay:ip-registry', 42)")
    await conn.close()
    before = await table_ids(fresh_database)

    assert await migrate(fresh_database, library_schema) == REVISIONS

    after = await table_ids(fresh_database)
    assert {name: after[name] for name in before} == before  # the same tables, not made again
    assert schema_differences(fresh_database, library_schema) == []
    conn = await asyncpg.connect(fresh_database)
    assert await conn.fetchval("SELECT position FROM follower_positions WHERE name = 'relay:ip-registry'") == 42
    await conn.close()


async def test_idempotency_answers_an_earlier_version_kept_as_jsonb_become_bytes_and_replay(
    fresh_database: str,
) -> None:
    conn = await asyncpg.connect(fresh_database)
    await conn.execute(
        "CREATE TABLE idempotency_claims (caller varchar, key varchar, request_sha256 bytea NOT NULL,"
        " claim_id uuid NOT NULL, status integer, response jsonb, headers jsonb,"
        " created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (caller, key))"
    )
    await conn.execute(
        "INSERT INTO idempotency_claims VALUES ('admin|a|', 'k1', '\\x00', $1, 201, $2, '{}')",
        uuid.uuid4(),
        json.dumps({"id": "asset-1", "title": "Laser cladding"}),
    )
    await conn.close()

    await migrate(fresh_database, library_schema)

    assert schema_differences(fresh_database, library_schema) == []
    conn = await asyncpg.connect(fresh_database)
    stored = await conn.fetchval("SELECT response FROM idempotency_claims WHERE key = 'k1'")
    await conn.close()
    assert json.loads(stored) == {"id": "asset-1", "title": "Laser cladding"}


async def test_replicas_starting_together_on_a_new_database_migrate_it_once(postgres_url: str) -> None:
    database_url = with_database(postgres_url, f"test_{uuid.uuid4().hex[:12]}")  # not created yet
    try:
        starts = await asyncio.gather(*(prepare(database_url, library_schema, apply=True) for _ in range(3)))

        assert sorted(starts) == [[], [], REVISIONS]
        assert schema_differences(database_url, library_schema) == []
    finally:
        conn = await asyncpg.connect(with_database(postgres_url, "postgres"))
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_url.rsplit("/", 1)[1]}" WITH (FORCE)')
        await conn.close()


async def test_a_service_told_not_to_migrate_refuses_a_database_behind_and_starts_once_it_is_migrated(
    fresh_database: str,
) -> None:
    with pytest.raises(SchemaBehind, match="run `ipshare-ipshare migrate` first"):
        await prepare(fresh_database, library_schema, apply=False)

    await migrate(fresh_database, library_schema)

    assert await prepare(fresh_database, library_schema, apply=False) == []


def test_the_migrate_command_tells_what_is_missing_applies_it_and_then_finds_nothing_left(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    cli = service_cli("a service", library_schema, ServiceSettings, serve=lambda: None)
    runner = CliRunner()

    before = runner.invoke(cli, ["migrate", "--check"])
    applied = runner.invoke(cli, ["migrate"])
    after = runner.invoke(cli, ["migrate", "--check"])

    assert (before.exit_code, before.output) == (1, "missing: ipshare_0002\n")
    assert (applied.exit_code, applied.output.splitlines()[-1]) == (0, "applied: ipshare_0001, ipshare_0002")
    assert (after.exit_code, after.output) == (0, "up to date\n")
