"""Each service's migrations, on the real PostgreSQL: on an empty database they make exactly the
tables the service's code expects, and a database the services' start-up made before migrations
(with `create_all`) is taken over as it is."""

from __future__ import annotations

import pytest

from commercialization.migrations import schema as commercialization
from incubation.migrations import schema as incubation
from ip_registry.migrations import schema as ip_registry
from ipshare.schema import Schema, migrate
from ipshare_devtools.testing.tables import engine_with_tables, schema_differences, table_ids
from revenue_share.migrations import schema as revenue_share

pytestmark = pytest.mark.integration
SCHEMAS = [ip_registry, commercialization, incubation, revenue_share]


@pytest.fixture(params=SCHEMAS, ids=[s.package for s in SCHEMAS])
def schema(request: pytest.FixtureRequest) -> Schema:
    return request.param  # type: ignore[no-any-return]


async def test_the_migrations_make_on_an_empty_database_the_tables_the_code_expects(
    schema: Schema, fresh_database: str
) -> None:
    applied = await migrate(fresh_database, schema)

    assert schema.heads() <= set(applied)
    assert schema_differences(fresh_database, schema) == []
    expected = {*schema.target_metadata().tables, schema.version_table}
    assert set(await table_ids(fresh_database)) == expected


async def test_a_database_made_before_migrations_keeps_its_tables_and_is_brought_to_the_heads(
    schema: Schema, fresh_database: str
) -> None:
    await (await engine_with_tables(fresh_database, schema.target_metadata())).dispose()  # the earlier start-up
    before = await table_ids(fresh_database)

    applied = await migrate(fresh_database, schema)

    assert schema.heads() <= set(applied)
    after = await table_ids(fresh_database)
    assert {name: after[name] for name in before} == before  # none dropped and made again
    assert schema_differences(fresh_database, schema) == []
    assert await migrate(fresh_database, schema) == []
