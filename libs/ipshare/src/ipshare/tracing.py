"""Traces: one request followed from its route, through the event store and the bus, to the consumers.

Every process makes spans (their ids go into each log line), and exports them only when asked:
`OTEL_TRACES_EXPORTER=otlp`, or an `OTEL_EXPORTER_OTLP_ENDPOINT` / `..._TRACES_ENDPOINT`, sends them
over OTLP/HTTP; otherwise they are dropped where they end. A command's trace context is stored with
the events it records (`CommandContext.trace`); the relay, which publishes later in another task,
opens its publish span under it and puts the W3C `traceparent` into the Kafka message's headers,
and the consumer continues the trace from there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

import grpc
import httpx
from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.grpc import (
    aio_client_interceptors,
    aio_server_interceptor,
    client_interceptor,
    filters,
    grpcext,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Span, SpanKind

tracer = trace.get_tracer("ipshare")
TRACE_FIELDS = ("traceparent", "tracestate")  # what W3C trace context puts in a carrier
KafkaHeaders = list[tuple[str, bytes]]


def exporting() -> bool:
    """Spans leave the process only when the environment asks for the OTLP exporter."""
    chosen = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if chosen:
        return chosen == "otlp"
    return any(os.environ.get(name) for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def tracer_provider(service: str) -> TracerProvider:
    """Spans always get ids (for the logs and the services called). Without an exporter they are not
    recorded either, so one costs little more than its ids; with one, they go out over OTLP/HTTP in
    batches, the exporter reading its own standard settings (endpoint, headers, timeout, compression)."""
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service)})
    if not exporting():
        return TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def configure_tracing(service: str) -> None:
    """The process's tracer provider (once, at start-up)."""
    trace.set_tracer_provider(tracer_provider(service))


def shutdown_tracing() -> None:
    """Send what is still queued before the process ends."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def current_trace_context() -> dict[str, str]:
    """The active span's W3C trace context (empty outside a span), to be stored with what it records."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    return carrier


def stored_trace_context(meta: Mapping[str, str]) -> Context | None:
    """The context stored with an event (None when it was recorded outside any span)."""
    if "traceparent" not in meta:
        return None
    return propagate.extract(meta)


def kafka_headers() -> KafkaHeaders:
    """The active span's context as Kafka message headers."""
    return [(name, value.encode()) for name, value in current_trace_context().items()]


def context_of_headers(headers: Sequence[tuple[str, bytes]] | None) -> Context | None:
    """The trace context a Kafka message carries, or None."""
    carrier = {name: value.decode("latin-1") for name, value in headers or () if name in TRACE_FIELDS}
    return propagate.extract(carrier) if "traceparent" in carrier else None


def trace_headers_of(headers: Iterable[tuple[str, bytes]] | None) -> KafkaHeaders:
    """Only the trace context of a message's headers (kept on a dead letter)."""
    return [(name, value) for name, value in headers or () if name in TRACE_FIELDS]


def publish_span(topic: str, parent: Context, event_id: str, event_type: str, key: str) -> Span:
    """The relay's span for one message, under the request that recorded the event."""
    return tracer.start_span(f"publish {topic}", context=parent, kind=SpanKind.PRODUCER, attributes={
        "messaging.system": "kafka", "messaging.operation.type": "send", "messaging.destination.name": topic,
        "messaging.message.id": event_id, "messaging.kafka.message.key": key, "ipshare.event_type": event_type,
    })  # fmt: skip


def process_span(
    group: str, topic: str, partition: int, offset: int, parent: Context, event_id: str, event_type: str
) -> Span:
    """A consumer's span for one message it applied, continuing the publisher's trace."""
    return tracer.start_span(f"process {topic}", context=parent, kind=SpanKind.CONSUMER, attributes={
        "messaging.system": "kafka", "messaging.operation.type": "process", "messaging.destination.name": topic,
        "messaging.consumer.group.name": group, "messaging.destination.partition.id": str(partition),
        "messaging.kafka.offset": offset, "messaging.message.id": event_id, "ipshare.event_type": event_type,
    })  # fmt: skip


def trace_requests(app: FastAPI, untraced_paths: str) -> None:
    """A server span per request (continuing a caller's `traceparent`), outside every other layer of `app`,
    so its error handlers and access log run inside it; none for the comma-separated `untraced_paths`."""
    FastAPIInstrumentor.instrument_app(app, excluded_urls=untraced_paths, exclude_spans=["receive", "send"])


async def send_trace_context(request: httpx.Request) -> None:
    """An httpx request hook: the call carries the active span's context (the console calling the services)."""
    propagate.inject(request.headers)


def traced_server_interceptor() -> grpc.aio.ServerInterceptor:  # type: ignore[type-arg]
    """A span per gRPC call served, continuing the caller's trace. The health Watch stream and
    reflection get none: OpenTelemetry's asyncio interceptor breaks streams whose servicer writes
    to the context instead of yielding (the health servicer's Watch), and neither is a request."""
    untraced = filters.any_of(filters.full_method_name("/grpc.health.v1.Health/Watch"),
                              filters.service_prefix("grpc.reflection."))  # fmt: skip
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[type-arg,no-untyped-call]
        filter_=filters.negate(untraced)
    )
    return interceptor


def traced_channel(channel: grpc.Channel) -> grpc.Channel:
    """A blocking channel whose calls carry the active trace context."""
    traced: grpc.Channel = grpcext.intercept_channel(channel, client_interceptor())  # type: ignore[no-untyped-call]
    return traced


def traced_aio_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """Interceptors for an asyncio channel whose calls carry the active trace context."""
    interceptors: list[grpc.aio.ClientInterceptor] = aio_client_interceptors()  # type: ignore[no-untyped-call]
    return interceptors
