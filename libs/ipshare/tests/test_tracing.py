"""Trace context: stored with the events a command records, carried in Kafka headers, and in every log line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import pytest
import structlog
from fastapi import APIRouter
from grpc_health.v1.health_pb2 import HealthCheckRequest
from grpc_health.v1.health_pb2_grpc import HealthStub
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ipshare.eventstore import CommandContext, persistence_env
from ipshare.grpc_runtime import create_server, service_channel, set_serving
from ipshare.observability import configure_logging, log
from ipshare.relay import RELEASED_HEADER, Relay
from ipshare.settings import AuthSettings
from ipshare.tracing import context_of_headers, kafka_headers, process_span, traced_channel, tracer, tracer_provider
from ipshare.web import create_api
from ipshare_contracts.incubation.v1.events_pb2 import SpinOffFounded
from ipshare_devtools.testing.projections import Incubator, catalog
from ipshare_devtools.testing.traces import record_spans


class SentMessages:
    """A producer that keeps what it is handed (the relay's unit of publishing is `send`)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: Any = None) -> asyncio.Future[None]:
        self.sent.append({"topic": topic, "value": value, "key": key, "headers": headers})
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    with record_spans() as exporter:
        yield exporter


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.fixture
def app() -> Iterator[Incubator]:
    application = Incubator(env=persistence_env(None))
    yield application
    application.close()


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


def attributes_of(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def relay_of(app: Incubator, producer: SentMessages) -> Relay:
    return Relay(app, catalog(), producer, engine=None, topic="test.tracing")  # type: ignore[arg-type]


def test_kafka_headers_carry_the_active_span_and_give_it_back(spans: InMemorySpanExporter) -> None:
    assert kafka_headers() == []  # outside a span nothing is sent
    with tracer.start_as_current_span("request") as span:
        headers = kafka_headers()
    assert [name for name, _ in headers] == ["traceparent"]
    extracted = trace.get_current_span(context_of_headers([("ipshare-released", b"1"), *headers]))
    assert extracted.get_span_context().trace_id == span.get_span_context().trace_id
    assert extracted.get_span_context().span_id == span.get_span_context().span_id
    assert extracted.get_span_context().is_remote
    assert context_of_headers([(RELEASED_HEADER, b"1")]) is None
    assert context_of_headers(None) is None


async def test_the_relay_publishes_in_the_trace_of_the_request_that_recorded_the_event(
    app: Incubator, spans: InMemorySpanExporter
) -> None:
    with tracer.start_as_current_span("POST /spin-offs") as request:
        app.found(CommandContext(), "traced")
    app.found(CommandContext(), "untraced")  # recorded outside any span: published without one
    producer = SentMessages()
    relay = relay_of(app, producer)
    # The relay runs later, in its own task, outside the request's span.
    outgoing = [relay.encode(n) for n in app.notifications_after(0, 10)]
    for position, message in enumerate(outgoing, start=1):
        assert message is not None
        await relay.send(message, f"aggregate-{position}")

    [publish] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.PRODUCER]
    assert publish.name == "publish test.tracing"
    assert publish.context.trace_id == request.get_span_context().trace_id
    assert parent_of(publish) == request.get_span_context().span_id
    assert attributes_of(publish)["ipshare.event_type"] == SpinOffFounded.DESCRIPTOR.full_name
    traced, untraced = producer.sent
    carried = trace.get_current_span(context_of_headers(traced["headers"])).get_span_context()
    assert (carried.trace_id, carried.span_id) == (publish.context.trace_id, publish.context.span_id)
    assert untraced["headers"] is None


async def test_a_released_event_keeps_its_released_header_beside_the_trace(
    app: Incubator, spans: InMemorySpanExporter
) -> None:
    with tracer.start_as_current_span("request"):
        app.found(CommandContext(), "parked then released")
    producer = SentMessages()
    message = relay_of(app, producer).encode(app.notifications_after(0, 1)[0])
    assert message is not None
    await relay_of(app, producer).send(message, "a", [(RELEASED_HEADER, b"1")])
    names = [name for name, _ in producer.sent[0]["headers"]]
    assert names == [RELEASED_HEADER, "traceparent"]


def test_a_consumer_span_continues_the_publishers_trace(spans: InMemorySpanExporter) -> None:
    with tracer.start_as_current_span("publish") as publish:
        headers = kafka_headers()
    parent = context_of_headers(headers)
    assert parent is not None
    process_span("inbox", "ipshare.commercialization.v1", 2, 7, parent, "event-1", "RevenueReceived").end()
    [consumed] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert consumed.context.trace_id == publish.get_span_context().trace_id
    assert parent_of(consumed) == publish.get_span_context().span_id
    assert attributes_of(consumed)["messaging.kafka.offset"] == 7


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Logging configured as a service configures it, its stderr kept; everything restored afterwards."""
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("tracing-test")
    yield stderr
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    vars(log).pop("bind", None)  # the shared logger cached its first configuration: drop that


def lines_of(stderr: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.getvalue().splitlines() if line.strip()]


def test_our_and_the_libraries_log_lines_are_json_with_the_trace_and_span_ids(
    json_logs: io.StringIO, spans: InMemorySpanExporter
) -> None:
    with tracer.start_as_current_span("work") as span:
        log.info("ours", detail=1)
        logging.getLogger("aiokafka").warning("theirs: %s", "a broker went away")
    log.info("outside")
    ours, theirs, outside = lines_of(json_logs)
    trace_id = format(span.get_span_context().trace_id, "032x")
    span_id = format(span.get_span_context().span_id, "016x")
    assert (ours["event"], ours["trace_id"], ours["span_id"], ours["service"]) == ("ours", trace_id, span_id,
                                                                                   "tracing-test")  # fmt: skip
    assert (theirs["event"], theirs["level"], theirs["logger"]) == ("theirs: a broker went away", "warning", "aiokafka")
    assert (theirs["trace_id"], theirs["span_id"], theirs["service"]) == (trace_id, span_id, "tracing-test")
    assert "trace_id" not in outside


async def test_a_request_gets_a_server_span_continuing_the_callers_trace_and_an_access_log_line_naming_its_route(
    json_logs: io.StringIO, spans: InMemorySpanExporter
) -> None:
    api = create_api("test", AuthSettings(jwt_secret="a-test-secret-long-enough-for-hs256-keys"), {})

    things = APIRouter(prefix="/things")  # included, as every service's routes are

    @things.get("/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    api.include_router(things)

    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
        response = await client.get("/things/7", headers={"traceparent": caller})
        await client.get("/healthz")
    assert response.status_code == 200
    [server] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]  # none for the probe
    assert format(server.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(parent_of(server), "016x") == "b7ad6b7169203331"
    assert attributes_of(server)["http.route"] == "/things/{thing_id}"
    access = [line for line in lines_of(json_logs) if line["event"] == "request"]
    assert [(a["path"], a["route"], a["status"]) for a in access] == [("/things/7", "/things/{thing_id}", 200),
                                                                      ("/healthz", "/healthz", 200)]  # fmt: skip
    assert access[0]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert access[0]["span_id"] == format(server.context.span_id, "016x")
    assert "trace_id" not in access[1]


@pytest.fixture
async def grpc_address() -> AsyncIterator[str]:
    """A service's gRPC server (its interceptors and the open health service) on a free port."""
    server, health = create_server(AuthSettings(jwt_secret="a-test-secret-long-enough-for-hs256-keys"))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await set_serving(health, [], True)
    yield f"127.0.0.1:{port}"
    await server.stop(None)


def check_health_blocking(address: str) -> None:
    """As commercialization calls the registry: a blocking channel, from a worker thread."""
    with grpc.insecure_channel(address) as channel:
        HealthStub(traced_channel(channel)).Check(HealthCheckRequest(), timeout=5)


async def check_health(address: str) -> None:
    async with service_channel(address) as channel:
        await HealthStub(channel).Check(HealthCheckRequest(), timeout=5)


@pytest.mark.parametrize("blocking", [False, True], ids=["asyncio channel", "blocking channel"])
async def test_a_grpc_call_carries_the_callers_trace_to_the_servers_span(
    grpc_address: str, spans: InMemorySpanExporter, blocking: bool
) -> None:
    with tracer.start_as_current_span("caller") as caller:
        if blocking:
            await asyncio.to_thread(check_health_blocking, grpc_address)
        else:
            await check_health(grpc_address)
    [client] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    [server] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert client.name == server.name == "/grpc.health.v1.Health/Check"
    assert parent_of(client) == caller.get_span_context().span_id
    assert parent_of(server) == client.context.span_id
    assert server.context.trace_id == caller.get_span_context().trace_id


@pytest.mark.parametrize(
    ("environment", "recorded"),
    [({}, False), ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
     ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
     ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, False)],
)  # fmt: skip
def test_spans_are_recorded_only_when_they_are_exported_and_always_have_ids(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], recorded: bool
) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    provider = tracer_provider("tracing-test")
    try:
        span = provider.get_tracer("test").start_span("work")  # never ended: nothing is sent anywhere
        assert span.is_recording() is recorded
        assert span.get_span_context().is_valid
    finally:
        provider.shutdown()
