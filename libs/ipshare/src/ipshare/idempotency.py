"""Idempotency keys for POSTs, and ETags / If-Match for optimistic concurrency.

A POST with an `Idempotency-Key` header is executed once per (caller, key): a
retry with the same body gets the first response again and stores nothing new;
the same key with another body is a 409. The key is claimed before the command
runs, so two concurrent retries cannot both execute it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table, delete, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.errors import StaleVersion
from ipshare.web import error_body

IDEMPOTENCY_HEADER = "Idempotency-Key"
idempotency_metadata = MetaData()
idempotency_keys = Table(
    "idempotency_keys",
    idempotency_metadata,
    Column("caller", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("request_sha256", LargeBinary, nullable=False),
    Column("status", Integer),  # NULL while the first request is still running
    Column("response", JSONB),
    Column("headers", JSONB),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)
_REPLAYED_HEADERS = ("etag", "location", "content-type")


def _fingerprint(request: Request, body: bytes) -> bytes:
    return hashlib.sha256(b"\0".join([request.method.encode(), request.url.path.encode(), body])).digest()


def _caller(request: Request) -> str:
    # The bearer token identifies the caller well enough to scope keys; the route
    # itself still authenticates the request.
    return hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()


def install_idempotency(api: FastAPI, engine: Callable[[], AsyncEngine]) -> None:
    """Make every POST on `api` honour `Idempotency-Key`; keys live in the service's database."""

    @api.middleware("http")
    async def idempotent(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if request.method != "POST" or not key:
            return await call_next(request)
        if len(key) > 200:
            return error_body(422, "invalid_request", "Idempotency-Key is longer than 200 characters")
        body = await request.body()
        caller, fingerprint = _caller(request), _fingerprint(request, body)
        async with engine().begin() as conn:
            claimed = await conn.execute(
                insert(idempotency_keys)
                .values(caller=caller, key=key, request_sha256=fingerprint)
                .on_conflict_do_nothing()
                .returning(idempotency_keys.c.key)
            )
            if claimed.first() is None:
                row = (
                    await conn.execute(
                        select(idempotency_keys).where(
                            idempotency_keys.c.caller == caller, idempotency_keys.c.key == key
                        )
                    )
                ).one()
                return _replay(row._mapping, fingerprint)
        response = await call_next(request)
        return await _remember(engine(), caller, key, response)


def _replay(row: Any, fingerprint: bytes) -> Response:
    if row["request_sha256"] != fingerprint:
        return error_body(409, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
    if row["status"] is None:
        return error_body(409, "request_in_progress", "a request with this Idempotency-Key is still running")
    headers = {**row["headers"], "Idempotent-Replayed": "true"}
    return Response(json.dumps(row["response"]).encode(), status_code=row["status"], headers=headers)


async def _remember(engine: AsyncEngine, caller: str, key: str, response: Response) -> Response:
    chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
    body = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
    where = (idempotency_keys.c.caller == caller, idempotency_keys.c.key == key)
    async with engine.begin() as conn:
        if response.status_code >= 500:  # not a result: let the client retry with the same key
            await conn.execute(delete(idempotency_keys).where(*where))
        else:
            headers = {k: v for k, v in response.headers.items() if k in _REPLAYED_HEADERS}
            stored = json.loads(body) if body else None
            await conn.execute(
                idempotency_keys.update()
                .where(*where)
                .values(status=response.status_code, response=stored, headers=headers)
            )
    return Response(body, status_code=response.status_code, headers=dict(response.headers))


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(request: Request) -> int | None:
    """The aggregate version named by If-Match (`"3"` or `W/"3"`), or None when absent."""
    value = request.headers.get("if-match")
    if not value or value.strip() == "*":
        return None
    try:
        return int(value.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise StaleVersion(f"If-Match {value!r} is not an ETag this service issued") from exc


def check_version(current: int, expected: int | None) -> None:
    """412 when the client edited from an older version than the current one."""
    if expected is not None and expected != current:
        raise StaleVersion(f"version {expected} is stale; the current version is {current}", current_version=current)
