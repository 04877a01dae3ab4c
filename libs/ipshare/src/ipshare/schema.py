"""Each service's tables, made and changed by Alembic migrations.

Two histories go into a service's database, both recorded in the service's own version table
(`alembic_version_<package>`):

- the library's, branch `ipshare` (`ipshare/migrations/versions`): the tables every service has,
  for its relay, consumers, idempotency keys and audit chain;
- the service's own, branch `<package>` (`<package>/migrations/versions`): its read models.

Upgrading goes to the heads of both. The eventsourcing library creates and keeps its own event
store tables. A service migrates at start-up under the schema lock, so replicas starting together
migrate once; with `MIGRATE_ON_START=false` it only checks, and `ipshare-<service> migrate` is a
deploy step of its own.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData

from ipshare.audit_log import audit_metadata
from ipshare.consumer import consumer_metadata
from ipshare.database import blocking_engine, database_exists, ensure_database, schema_lock
from ipshare.idempotency import idempotency_metadata
from ipshare.observability import log
from ipshare.relay import relay_metadata

SCRIPTS = Path(__file__).with_name("migrations")  # env.py, the template and the library's history
LIBRARY_VERSIONS = SCRIPTS / "versions"
library_metadata = MetaData()  # the tables the library's history makes, as the code uses them
for _source in (relay_metadata, consumer_metadata, idempotency_metadata, audit_metadata):
    for _table in _source.tables.values():
        _table.to_metadata(library_metadata)


class SchemaBehind(RuntimeError):
    """The database lacks migrations and the service was told not to apply them itself."""


@dataclass(frozen=True)
class Schema:
    """A service's tables: its migration history and the tables its code expects."""

    package: str  # the service's Python package: names its branch and its version table
    versions: Path | None  # the service's own migration scripts; None: the library's tables alone
    metadata: MetaData = field(default_factory=MetaData)  # its own tables (the library's are added)

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.package}"

    @property
    def command(self) -> str:
        """How an operator applies the migrations."""
        return f"ipshare-{self.package.replace('_', '-')} migrate"

    def target_metadata(self) -> MetaData:
        """Every table the migrations must make: the library's and the service's."""
        combined = MetaData()
        for table in (*library_metadata.tables.values(), *self.metadata.tables.values()):
            table.to_metadata(combined)
        return combined

    def config(self, connection: Connection | None = None) -> Config:
        """Alembic's configuration, without an alembic.ini; env.py reads the attributes."""
        config = Config()
        config.set_main_option("script_location", str(SCRIPTS))
        config.set_main_option("path_separator", "os")
        locations = [str(LIBRARY_VERSIONS)] + ([str(self.versions)] if self.versions else [])
        config.set_main_option("version_locations", os.pathsep.join(locations))
        config.attributes.update(schema=self, connection=connection, applied=[])
        return config

    def heads(self) -> set[str]:
        return set(ScriptDirectory.from_config(self.config()).get_heads())


def upgrade(database_url: str, schema: Schema) -> list[str]:
    """Apply what is missing, in one transaction; returns the revisions applied (blocking)."""
    engine = blocking_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            config = schema.config(connection)
            command.upgrade(config, "heads")
            applied: list[str] = config.attributes["applied"]
            return applied
    finally:
        engine.dispose()


def current(database_url: str, schema: Schema) -> set[str]:
    """The revisions the database's version table records (blocking)."""
    engine = blocking_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": schema.version_table})
            return set(context.get_current_heads())
    finally:
        engine.dispose()


async def missing_heads(database_url: str, schema: Schema) -> set[str]:
    """The latest revisions of the code that the database lacks (all of them while it does not exist)."""
    if not await database_exists(database_url):
        return schema.heads()
    return schema.heads() - await asyncio.to_thread(current, database_url, schema)


async def migrate(database_url: str, schema: Schema) -> list[str]:
    """Create the database if missing and bring it to the heads, one process at a time."""
    async with schema_lock(database_url):
        await ensure_database(database_url)
        applied = await asyncio.to_thread(upgrade, database_url, schema)
    if applied:
        log.info("schema migrated", version_table=schema.version_table, revisions=applied)
    return applied


async def prepare(database_url: str, schema: Schema, *, apply: bool) -> list[str]:
    """At start-up: migrate, or (`apply` false) refuse a database that is behind the code.
    Returns the revisions applied."""
    if apply:
        return await migrate(database_url, schema)
    if missing := await missing_heads(database_url, schema):
        raise SchemaBehind(f"the database lacks migrations {sorted(missing)}: run `{schema.command}` first "
                           "(or start with MIGRATE_ON_START=true)")  # fmt: skip
    return []
