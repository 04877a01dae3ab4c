"""The service's own PostgreSQL database, through SQLAlchemy async on asyncpg."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def sqlalchemy_url(database_url: str) -> str:
    """`postgresql://...` as SQLAlchemy's asyncpg dialect spells it."""
    scheme, rest = database_url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgres", "postgresql") else database_url


def blocking_engine(database_url: str, pool_size: int = 5) -> Engine:
    """A blocking (psycopg) engine on the same database, for synchronous code: the
    eventsourcing applications' lookups in the read models their consumers keep."""
    scheme, rest = database_url.split("://", 1)
    url = f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else database_url
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def with_database(database_url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/") or "postgres"


async def database_exists(database_url: str) -> bool:
    conn = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database_name(database_url)))
    finally:
        await conn.close()


async def ensure_database(database_url: str) -> None:
    """Create the database named in the URL if it does not exist yet."""
    if not await database_exists(database_url):
        conn = await asyncpg.connect(with_database(database_url, "postgres"))
        try:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # another process created it first
                await conn.execute(f'CREATE DATABASE "{database_name(database_url)}"')
        finally:
            await conn.close()


@contextlib.asynccontextmanager
async def schema_lock(database_url: str) -> AsyncIterator[None]:
    """Hold a lock while the database is created and migrated, and while the event store's tables are
    created: replicas starting together would otherwise race on `CREATE` (PostgreSQL's catalog refuses
    the second with a duplicate key) and apply a migration twice. An advisory lock on the server's
    maintenance database (this one may not exist yet), named after this one."""
    key = int.from_bytes(hashlib.sha256(f"ipshare.schema/{database_name(database_url)}".encode()).digest()[:8],
                         "big", signed=True)  # fmt: skip
    conn = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", key)
        yield
    finally:
        conn.terminate()  # closing the session releases the lock


async def drop_database(database_url: str) -> None:
    """Drop the database named in the URL, closing its connections (a demo starts from nothing)."""
    conn = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(database_url)}" WITH (FORCE)')
    finally:
        await conn.close()


def open_engine(database_url: str) -> AsyncEngine:
    """An engine on the service's database; its tables are made by migrations (`ipshare.schema`)."""
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=10,
        max_overflow=10,
        json_deserializer=msgspec.json.decode,  # with the stdlib's, loading a million facts took a third longer
    )


@contextlib.asynccontextmanager
async def indexes_built_after(conn: asyncpg.Connection, table: str) -> AsyncIterator[None]:
    """A bulk load into an empty `table`, inside a transaction: its primary key and unique
    constraints are dropped, then added back, so PostgreSQL builds each index once, by sorting,
    instead of inserting every row into it. A failure rolls the drop back with the load."""
    assert conn.is_in_transaction(), "the constraints must come back in the same transaction"
    found = await conn.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
        " WHERE conrelid = $1::regclass AND contype IN ('p', 'u') ORDER BY contype",
        table,
    )
    for constraint in found:
        await conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint["conname"]}"')
    yield
    for constraint in found:
        await conn.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint["conname"]}" {constraint["definition"]}')
