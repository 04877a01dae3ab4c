"""Idempotency keys for writes: one execution per (caller, key), its answer replayed.

A POST with an `Idempotency-Key` header runs once per (authenticated principal, key): a
retry of the same request (method, path, query and body) gets the first answer again with
`Idempotent-Replayed: true` and stores nothing new; the same key with another request is a
409. Keys are scoped by who the token says the caller is, not by the token, so a refreshed
token repeats nothing; a request without a valid token claims no key (the route answers 401).
The key is claimed before the command runs, so two concurrent retries cannot both run it.

A key is kept `IDEMPOTENCY_KEY_TTL_SECONDS` (24 h by default); after that the same key is
a new request. A claim whose request never answered (the process died) is taken over by
the same request after `IDEMPOTENCY_LEASE_SECONDS`; until then a retry gets 409
`request_in_progress`.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table, delete, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.auth import AuthError, Principal
from ipshare.identity import IssuerUnavailable, read_token
from ipshare.settings import WebSettings
from ipshare.web import check_version, error_body, etag, expected_version

__all__ = ["IDEMPOTENCY_HEADER", "check_version", "etag", "expected_version", "install_idempotency"]

IDEMPOTENCY_HEADER = "Idempotency-Key"
_DEFAULTS = WebSettings.model_construct()
idempotency_metadata = MetaData()
# Replaces the `idempotency_keys` table, whose keys were scoped by a hash of the raw token.
idempotency_keys = Table(
    "idempotency_claims",
    idempotency_metadata,
    Column("caller", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("request_sha256", LargeBinary, nullable=False),
    Column("claim_id", UUID(as_uuid=True), nullable=False),  # who runs it now: a late first run stores nothing
    Column("status", Integer),  # NULL while the request is still running
    Column("response", LargeBinary),  # the bytes sent: replayed as they were (JSON may hold a NUL text cannot)
    Column("headers", JSONB),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)
_REPLAYED_HEADERS = ("etag", "location", "content-type")
_PURGE_EVERY_SECONDS = 600.0


def fingerprint(request: Request, body: bytes) -> bytes:
    """Method, path, query (in any parameter order) and body: what makes two requests the same."""
    query = sorted(parse_qsl(request.url.query, keep_blank_values=True))
    parts = [request.method, request.url.path, json.dumps(query)]
    return hashlib.sha256(b"\0".join([*(p.encode() for p in parts), body])).digest()


def caller(principal: Principal) -> str:
    member = principal.member_id or ""
    return f"{principal.role.value}|{principal.subject}|{member}"


def _principal(request: Request) -> Principal | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return read_token(request.app.state.auth_settings, token.strip())
    except (AuthError, IssuerUnavailable):  # the route itself answers 401 or 503
        return None


def install_idempotency(
    api: FastAPI,
    engine: Callable[[], AsyncEngine],
    ttl_seconds: float = _DEFAULTS.idempotency_key_ttl_seconds,
    lease_seconds: float = _DEFAULTS.idempotency_lease_seconds,
) -> None:
    """Make every POST on `api` honour `Idempotency-Key`; keys live in the service's database."""
    claims = _Claims(engine, timedelta(seconds=ttl_seconds), timedelta(seconds=lease_seconds))

    @api.middleware("http")
    async def idempotent(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if request.method != "POST" or not key:
            return await call_next(request)
        if len(key) > 200:
            return error_body(422, "invalid_request", "Idempotency-Key is longer than 200 characters",
                              {"field": IDEMPOTENCY_HEADER})  # fmt: skip
        principal = _principal(request)
        if principal is None:  # no key for the unauthenticated: the route answers 401
            return await call_next(request)
        who, request_sha256 = caller(principal), fingerprint(request, await request.body())
        claim_id = uuid.uuid4()
        first = await claims.claim(who, key, request_sha256, claim_id)
        if first is not None:
            return _replay(first, request_sha256)
        response = await call_next(request)
        return await claims.remember(who, key, claim_id, response)


class _Claims:
    """The claims table: claim (or take over an expired or abandoned claim), remember, purge."""

    def __init__(self, engine: Callable[[], AsyncEngine], ttl: timedelta, lease: timedelta) -> None:
        self.engine, self.ttl, self.lease = engine, ttl, lease
        self._purged_at = 0.0

    async def claim(self, who: str, key: str, request_sha256: bytes, claim_id: uuid.UUID) -> Any | None:
        """None when this request may run; otherwise the row that answers it."""
        await self._purge_now_and_then()
        table = idempotency_keys
        fresh = {"request_sha256": request_sha256, "claim_id": claim_id}
        statement = (
            insert(table)
            .values(caller=who, key=key, **fresh)
            .on_conflict_do_update(
                index_elements=[table.c.caller, table.c.key],
                set_={**fresh, "status": None, "response": None, "headers": None, "created_at": func.now()},
                where=or_(
                    table.c.created_at < func.now() - self.ttl,  # expired: a new request
                    (table.c.status.is_(None))  # abandoned by a process that died: the same request again
                    & (table.c.created_at < func.now() - self.lease)
                    & (table.c.request_sha256 == request_sha256),
                ),
            )
            .returning(table.c.key)
        )
        async with self.engine().begin() as conn:
            if (await conn.execute(statement)).first() is not None:
                return None
            where = (table.c.caller == who, table.c.key == key)
            return (await conn.execute(select(table).where(*where))).one()._mapping

    async def remember(self, who: str, key: str, claim_id: uuid.UUID, response: Response) -> Response:
        chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
        body = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        table = idempotency_keys
        where = (table.c.caller == who, table.c.key == key, table.c.claim_id == claim_id)
        async with self.engine().begin() as conn:
            if response.status_code >= 500:  # not a result: let the client retry with the same key
                await conn.execute(delete(table).where(*where))
            else:
                headers = {k: v for k, v in response.headers.items() if k in _REPLAYED_HEADERS}
                await conn.execute(
                    table.update().where(*where).values(status=response.status_code, response=body, headers=headers)
                )
        return Response(body, status_code=response.status_code, headers=dict(response.headers))

    async def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._purged_at < _PURGE_EVERY_SECONDS:
            return
        self._purged_at = time.monotonic()
        async with self.engine().begin() as conn:
            await conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < func.now() - self.ttl))


def _replay(row: Any, request_sha256: bytes) -> Response:
    if row["request_sha256"] != request_sha256:
        return error_body(409, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
    if row["status"] is None:
        return error_body(409, "request_in_progress", "a request with this Idempotency-Key is still running")
    headers = {**row["headers"], "Idempotent-Replayed": "true"}
    return Response(row["response"], status_code=row["status"], headers=headers)
