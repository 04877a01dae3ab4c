"""One service process: HTTP API, gRPC server, relay, consumers and workers on one event loop.

A service describes itself with a `ServiceSpec`; `serve(spec)` wires the shared
parts (database, event store, topics, relay, consumers, servers), runs them
until SIGTERM or SIGINT, and shuts down in order.
"""

from __future__ import annotations

import asyncio
import functools
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import grpc
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ipshare import bus, schema
from ipshare.audit.checkpoint import CheckpointSigner
from ipshare.audit_api import add_audit_servicer
from ipshare.audit_api import router as audit_router
from ipshare.audit_log import AuditCheckpoint, AuditLog, Checkpointer, SqlChainStore, signing_key
from ipshare.auth import AuthError
from ipshare.consumer import Consumer, Projection, run_forever
from ipshare.database import open_engine, schema_lock
from ipshare.envelope import EventCatalog
from ipshare.eventstore import ServiceApplication, persistence_env
from ipshare.follower import Follower
from ipshare.grpc_runtime import create_server, enable_reflection, follow_readiness, set_serving
from ipshare.idempotency import install_idempotency
from ipshare.identity import check_issuer
from ipshare.leadership import Leadership
from ipshare.observability import configure_logging, log
from ipshare.parked_api import router as parked_router
from ipshare.relay import Relay
from ipshare.schema import Schema
from ipshare.settings import ServiceSettings
from ipshare.tracing import configure_tracing, shutdown_tracing
from ipshare.web import HealthCheck, NotReady, application_api, readiness
from ipshare_contracts.audit.v1.audit_pb2 import CheckpointSigned

AppT = TypeVar("AppT", bound=ServiceApplication)
SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


class Worker(Protocol):
    """A background loop every replica runs, e.g. warming an in-memory read model."""

    name: str

    async def run(self) -> None: ...


@dataclass
class ServiceSpec(Generic[AppT, SettingsT]):
    """What a service contributes; everything else is shared."""

    name: str
    settings: SettingsT
    application: Callable[[dict[str, str]], AppT]
    catalog: EventCatalog
    http: Callable[[Runtime[AppT, SettingsT]], FastAPI]
    schema: Schema
    grpc: Callable[[Runtime[AppT, SettingsT], grpc.aio.Server], list[str]] | None = None
    projections: Callable[[Runtime[AppT, SettingsT]], Sequence[Projection]] = lambda _: ()
    workers: Callable[[Runtime[AppT, SettingsT]], Sequence[Worker]] = lambda _: ()  # built once started
    # loops over the service's own log that must have one writer: run by the leader only
    followers: Callable[[Runtime[AppT, SettingsT]], Sequence[Follower]] = lambda _: ()


class Runtime(Generic[AppT, SettingsT]):
    """The wired dependencies of a running service, handed to its entrypoints."""

    def __init__(self, spec: ServiceSpec[AppT, SettingsT]) -> None:
        self.spec = spec
        self.settings: SettingsT = spec.settings
        self.topic = bus.topic_of(spec.name)
        self._app: AppT | None = None
        self._engine: AsyncEngine | None = None
        self._producer: AIOKafkaProducer | None = None
        self.consumers: list[Consumer] = []
        self.relay: Relay | None = None
        self.workers: list[Worker] = []
        self.followers: list[Follower] = []
        self.leadership: Leadership | None = None
        self._audit: AuditLog | None = None

    @property
    def app(self) -> AppT:
        assert self._app is not None, "runtime not started"
        return self._app

    @property
    def audit(self) -> AuditLog:
        assert self._audit is not None, "runtime not started"
        return self._audit

    @property
    def engine(self) -> AsyncEngine:
        assert self._engine is not None, "runtime not started"
        return self._engine

    def health_checks(self) -> dict[str, HealthCheck]:
        """What readiness asks, over HTTP (`/healthz`) and gRPC health alike."""
        return {"database": self.database_ready, "broker": self.broker_ready, "topic": self.topic_ready}

    async def ready(self) -> bool:
        return (await readiness(self.health_checks())).status == "ok"

    async def database_ready(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def broker_ready(self) -> bool:
        return await bus.broker_ready(self.settings.kafka_bootstrap_servers)

    async def topic_ready(self) -> bool:
        """The service's topic is on the broker and, in the leader, not being refilled."""
        reason = self.relay.not_ready_reason() if self.relay is not None else None
        if reason is None and await bus.missing_topics(self.settings, [self.topic]):
            reason = f"topic {self.topic} is missing from the broker; the leader's relay will recreate and refill it"
        if reason is not None:
            raise NotReady(reason)
        return True

    async def start(self) -> None:
        settings = self.settings
        await schema.prepare(settings.database_url, self.spec.schema, apply=settings.migrate_on_start)
        self._engine = open_engine(settings.database_url, settings.database_pool_size)
        async with schema_lock(settings.database_url):  # one replica at a time creates the event store's tables
            env = persistence_env(settings.database_url, settings.event_store_pool_size)
            self._app = await asyncio.to_thread(self.spec.application, env)
        self.spec.catalog.register(AuditCheckpoint.Signed, CheckpointSigned)  # checkpoints go on the topic too
        dead_letters = bus.dead_letter_topic_of(self.spec.name)
        await bus.ensure_topics(settings, [self.topic, dead_letters])
        self._producer = bus.producer(settings)
        await self._producer.start()
        self.relay = Relay(
            self.app, self.spec.catalog, self._producer, self.engine, self.topic,
            batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds,
            max_message_bytes=settings.max_message_bytes, bus_settings=settings,
            check_seconds=settings.relay_topic_check_seconds,
        )  # fmt: skip
        for projection in self.spec.projections(self):
            await bus.ensure_topics(settings, projection.topics)
            kafka = bus.consumer(settings, bus.group_of(self.spec.name, projection.name), *projection.topics)
            self.consumers.append(Consumer(projection, kafka, self._producer, dead_letters, self.engine))
        self.followers = [
            Follower(self.relay, poll_seconds=settings.relay_poll_seconds),
            self._start_audit().follower,
            *self.spec.followers(self),
        ]
        loop = asyncio.get_running_loop()
        for follower in self.followers:
            self.app.on_recorded(functools.partial(follower.wake_threadsafe, loop))
        self.workers = list(self.spec.workers(self))
        self.leadership = Leadership(settings.database_url, self.spec.name,
                                     retry_seconds=settings.leader_retry_seconds)  # fmt: skip

    def _start_audit(self) -> Checkpointer:
        """The service's audit log and the follower that chains and checkpoints it."""
        name, settings = self.spec.name, self.settings
        signer = CheckpointSigner(name, signing_key(settings, name))
        self._audit = AuditLog(self.app, self.spec.catalog, SqlChainStore(self.engine), signer, topic=self.topic,
                               partitions=settings.topic_partitions)  # fmt: skip
        return Checkpointer(self._audit, poll_seconds=settings.audit_poll_seconds,
                            checkpoint_seconds=settings.audit_checkpoint_seconds)  # fmt: skip

    async def stop(self) -> None:
        for consumer in self.consumers:
            await consumer.kafka.stop()  # a no-op for one that never started
        if self._producer is not None:
            await self._producer.stop()
        if self._app is not None:
            self._app.close()
        if self._engine is not None:
            await self._engine.dispose()


def http_api(runtime: Runtime[AppT, SettingsT], *routers: APIRouter) -> FastAPI:
    """The service's HTTP API with health checks on its database and broker, and idempotency keys."""
    api = application_api(runtime.spec.name, runtime.settings, lambda: runtime.app,
                          [*routers, audit_router, parked_router], runtime.health_checks())  # fmt: skip
    api.state.relay = lambda: runtime.relay
    api.state.audit = lambda: runtime.audit
    settings = runtime.settings
    install_idempotency(
        api, lambda: runtime.engine, settings.idempotency_key_ttl_seconds, settings.idempotency_lease_seconds
    )
    return api


def refuse_development_credentials(settings: ServiceSettings, service: str) -> None:
    """Outside development mode, no shared secret, development issuer or derived audit key: any of
    them would let whoever holds a development file act as anyone, or sign the audit log."""
    try:
        check_issuer(settings)
        signing_key(settings, service)
    except (ValueError, AuthError) as exc:
        raise SystemExit(f"{service} refuses to start: {exc}") from exc


async def serve(spec: ServiceSpec[AppT, SettingsT]) -> None:
    """The service's process: its logs and traces, and the service until SIGTERM or SIGINT."""
    configure_logging(spec.name, spec.settings.log_level, spec.settings.log_json)
    configure_tracing(spec.name)
    try:
        await run_service(spec)
    finally:
        shutdown_tracing()


async def run_service(spec: ServiceSpec[AppT, SettingsT], stop: asyncio.Event | None = None) -> None:
    """Serve HTTP and gRPC as soon as the database is open, lead or stand by, and shut down in order on
    SIGTERM or SIGINT, or once `stop` is set. Consumers join their groups in their own tasks: that can
    take a session timeout after a restart, and reads need not wait for it."""
    settings = spec.settings
    await asyncio.to_thread(refuse_development_credentials, settings, spec.name)
    runtime = Runtime(spec)
    await runtime.start()
    grpc_server, health = create_server(settings)
    grpc_names = spec.grpc(runtime, grpc_server) if spec.grpc else []
    grpc_names.append(add_audit_servicer(grpc_server, lambda: runtime.audit, settings))
    enable_reflection(grpc_server, grpc_names)
    await set_serving(health, grpc_names, False)  # until the first readiness check passes
    grpc_server.add_insecure_port(f"{settings.http_host}:{settings.grpc_port}")
    await grpc_server.start()
    grpc_health = asyncio.create_task(
        follow_readiness(health, grpc_names, runtime.ready, settings.grpc_health_poll_seconds), name="grpc-health"
    )
    http = uvicorn.Server(
        uvicorn.Config(spec.http(runtime), host=settings.http_host, port=settings.http_port, log_config=None,
                       access_log=False, lifespan="off")
    )  # fmt: skip
    assert runtime.leadership is not None
    led = [follower.run for follower in runtime.followers]
    workers = [asyncio.create_task(runtime.leadership.lead(led), name="leadership")]
    workers += [asyncio.create_task(run_forever(c), name=f"consumer:{c.projection.name}") for c in runtime.consumers]
    workers += [asyncio.create_task(w.run(), name=f"worker:{w.name}") for w in runtime.workers]
    # uvicorn takes SIGTERM/SIGINT while it serves and re-raises it when done; this
    # handler then absorbs it so the orderly shutdown below can run.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: None)
    if stop is not None:
        workers.append(asyncio.create_task(_exit_when(stop, http), name="stop"))
    log.info("service started", http_port=settings.http_port, grpc_port=settings.grpc_port, topic=runtime.topic)
    await http.serve()
    log.info("service stopping")
    grpc_health.cancel()
    await asyncio.gather(grpc_health, return_exceptions=True)
    await set_serving(health, grpc_names, False)
    await grpc_server.stop(grace=2)
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    await runtime.stop()
    log.info("service stopped")


async def _exit_when(stop: asyncio.Event, http: uvicorn.Server) -> None:
    await stop.wait()
    http.should_exit = True
