"""gRPC health follows readiness on the real PostgreSQL; reflection lists the services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare.database import database_name, open_engine, with_database
from ipshare.grpc_runtime import create_server, enable_reflection, follow_readiness
from ipshare.settings import AuthSettings
from ipshare.web import create_api, readiness

pytestmark = pytest.mark.integration

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "ipshare.test.v1.Probe"


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = open_engine(fresh_database)
    yield engine
    await engine.dispose()


async def allow_connections(database_url: str, allowed: bool) -> None:
    """The database refuses new sessions and loses its open ones, as when its server goes away."""
    name = database_name(database_url)
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await admin.close()


async def status_becomes(stub: health_pb2_grpc.HealthStub, status: int) -> None:
    """Asks Check until the service's status is `status` (NOT_FOUND until it is first set)."""
    async with asyncio.timeout(30):
        while await status_of(stub) != status:  # noqa: ASYNC110 - polls another server
            await asyncio.sleep(0.05)


async def status_of(stub: health_pb2_grpc.HealthStub) -> int | None:
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE))
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return int(reply.status)


async def test_grpc_health_turns_not_serving_while_the_database_refuses_and_back(
    fresh_database: str, engine: AsyncEngine
) -> None:
    async def database_ready() -> bool:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    checks = {"database": database_ready}
    grpc_server, health = create_server(AuthSettings())
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()

    async def ready() -> bool:
        return (await readiness(checks)).status == "ok"

    following = asyncio.create_task(follow_readiness(health, [SERVICE], ready, poll_seconds=0.1))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(create_api("probe", AuthSettings(), checks)),
                             base_url="http://probe")  # fmt: skip
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            await status_becomes(stub, SERVING)
            assert (await http.get("/healthz")).status_code == 200

            await allow_connections(fresh_database, False)
            await status_becomes(stub, NOT_SERVING)
            assert (await http.get("/healthz")).json()["checks"] == {"database": "failing"}
            overall = await stub.Check(health_pb2.HealthCheckRequest())
            assert overall.status == NOT_SERVING

            await allow_connections(fresh_database, True)
            await status_becomes(stub, SERVING)
    finally:
        following.cancel()
        await http.aclose()
        await grpc_server.stop(grace=None)


async def test_reflection_lists_the_services_without_a_token() -> None:
    grpc_server, _ = create_server(AuthSettings())
    enable_reflection(grpc_server, [SERVICE])
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            [reply] = [r async for r in stub.ServerReflectionInfo(iter([request]))]
    finally:
        await grpc_server.stop(grace=None)
    listed = {s.name for s in reply.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= listed


async def test_a_load_balancer_watching_health_gets_the_status_and_its_changes() -> None:
    grpc_server, health = create_server(AuthSettings())
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    await grpc_server.start()
    await health.set(SERVICE, SERVING)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=SERVICE))
            async with asyncio.timeout(10):
                first = await watch.read()
                await health.set(SERVICE, NOT_SERVING)
                second = await watch.read()
            watch.cancel()
    finally:
        await grpc_server.stop(grace=None)
    assert (first.status, second.status) == (SERVING, NOT_SERVING)
