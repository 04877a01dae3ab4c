"""gRPC plumbing every service shares: bearer-token auth, the standard health service (following the
HTTP readiness), server reflection, domain errors as status codes, traces, and authenticated
channels to other services."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ipshare.auth import AuthError, Principal, Role
from ipshare.error_status import grpc_status
from ipshare.eventstore import CommandContext
from ipshare.identity import IssuerUnavailable, read_token, service_token
from ipshare.settings import AuthSettings
from ipshare.tracing import traced_aio_interceptors, traced_server_interceptor
from ipshare.typed_fields import date_of
from ipshare_kernel.actor import Actor
from ipshare_kernel.errors import DomainError

T = TypeVar("T")

PRINCIPAL_KEY = "ipshare-principal"
# Health and reflection answer without a token: probes and grpcurl carry none, and both tell only
# what the public proto/ already says.
_OPEN_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                 "/grpc.reflection.v1.ServerReflection/")  # fmt: skip
# A service calling on behalf of an event's actor names that actor here (JSON; binary, since a display
# name need not be ASCII). Only a service's word is taken: a person's token names its own actor.
CAUSED_BY_KEY = "ipshare-caused-by-bin"


class BearerAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Rejects calls without a valid bearer token (health and reflection stay open)."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        if details.method.startswith(_OPEN_METHODS):
            return await continuation(details)
        metadata = dict(details.invocation_metadata or ())
        header = str(metadata.get("authorization", ""))
        try:
            if not header.lower().startswith("bearer "):
                raise AuthError("missing authorization: Bearer metadata")
            # Off the event loop: a JWKS refetch (key rotation) is a blocking HTTP call.
            await asyncio.to_thread(read_token, self.settings, header[7:])
        except AuthError as exc:
            return _deny(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        except IssuerUnavailable as exc:
            return _deny(grpc.StatusCode.UNAVAILABLE, exc.message)
        return await continuation(details)


def _deny(status: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler[Any, Any]:
    async def abort(_: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(status, message)

    return grpc.unary_unary_rpc_method_handler(abort)


def caller(context: grpc.aio.ServicerContext[Any, Any], settings: AuthSettings) -> Principal:
    """The principal of an authenticated call (the interceptor already checked the token)."""
    metadata = dict(context.invocation_metadata() or ())
    return read_token(settings, str(metadata["authorization"])[7:])


def caused_by(context: grpc.aio.ServicerContext[Any, Any]) -> Actor | None:
    """The actor a calling service acts on behalf of, if it named one it could read."""
    value = dict(context.invocation_metadata() or ()).get(CAUSED_BY_KEY)
    try:
        named: dict[str, Any] = json.loads(value) if isinstance(value, bytes) else {}
        return Actor(str(named["subject"]), str(named["role"]), named.get("name"), named.get("member_id"))
    except (ValueError, TypeError, KeyError, AttributeError):  # absent, or not an actor's JSON object
        return None


def caused_by_metadata(actor: Actor | None) -> list[tuple[str, str | bytes]]:
    """Call metadata naming the actor a service acts on behalf of (nothing when unknown)."""
    return [] if actor is None else [(CAUSED_BY_KEY, json.dumps(actor.to_json()).encode())]


async def abort_for(context: grpc.aio.ServicerContext[Any, Any], error: DomainError) -> None:
    await context.abort(grpc_status(error), error.message)


async def run_use_case(
    context: grpc.aio.ServicerContext[Any, Any], settings: AuthSettings, use_case: Callable[[CommandContext], T]
) -> T:
    """Run a synchronous use case off the event loop as the calling principal; domain errors abort."""
    return await run_async_use_case(context, settings, lambda ctx: asyncio.to_thread(use_case, ctx))


async def run_async_use_case(
    context: grpc.aio.ServicerContext[Any, Any],
    settings: AuthSettings,
    use_case: Callable[[CommandContext], Awaitable[T]],
) -> T:
    """Await a use case as the calling principal; domain errors abort."""
    principal = caller(context, settings)
    ctx = CommandContext(principal=principal, caused_by=caused_by(context) if principal.role is Role.SERVICE else None)
    try:
        return await use_case(ctx)
    except DomainError as error:
        await abort_for(context, error)
        raise  # abort raises; never reached


async def parse_uuid(context: grpc.aio.ServicerContext[Any, Any], value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{value!r} is not a UUID")
        raise


async def parse_date(context: grpc.aio.ServicerContext[Any, Any], request: Message, typed: str, default: date) -> date:
    """The request's Date field `typed` (from a client built before it: its ISO text twin); `default` when
    the request has neither. A date that is no calendar date is INVALID_ARGUMENT."""
    try:
        day = date_of(request, typed)
    except ValueError as error:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{typed} is not a calendar date: {error}")
        raise
    return default if day is None else day


def create_server(settings: AuthSettings) -> tuple[grpc.aio.Server, health_aio.HealthServicer]:
    # The span first: a call refused for its token is traced too.
    server = grpc.aio.server(interceptors=[traced_server_interceptor(), BearerAuthInterceptor(settings)])
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return server, health_servicer


def enable_reflection(server: grpc.aio.Server, names: list[str]) -> None:
    """Server reflection over the services in `names` (and health and reflection themselves)."""
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)


async def set_serving(health_servicer: health_aio.HealthServicer, names: list[str], serving: bool) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ["", *names]:
        await health_servicer.set(name, status)


async def follow_readiness(
    health_servicer: health_aio.HealthServicer,
    names: list[str],
    ready: Callable[[], Awaitable[bool]],
    poll_seconds: float,
) -> None:
    """Forever: the health status set from `ready` (the check behind HTTP `/healthz`) every
    `poll_seconds`, so a client balancing on gRPC health leaves a replica that cannot serve.
    Only a change is set: each one is sent to every client watching."""
    serving: bool | None = None
    while True:
        now = await ready()
        if now != serving:
            await set_serving(health_servicer, names, now)
            serving = now
        await asyncio.sleep(poll_seconds)


def service_channel(address: str) -> grpc.aio.Channel:
    """A channel to another service; its calls carry the active trace context."""
    return grpc.aio.insecure_channel(address, interceptors=traced_aio_interceptors())


def service_credentials(settings: AuthSettings, service: str) -> list[tuple[str, str]]:
    """Call metadata for one service acting on its own behalf towards another: its own token from the
    issuer (client credentials), never a person's."""
    return [("authorization", f"Bearer {service_token(settings, service).bearer()}")]
