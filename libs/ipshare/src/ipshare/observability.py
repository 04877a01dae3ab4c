"""Structured JSON logs carrying the correlation id and the trace ids, an access log, and Prometheus metrics."""

from __future__ import annotations

import logging
import sys

import structlog
from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram
from starlette.requests import Request
from structlog.typing import EventDict, Processor

REQUESTS = Counter("ipshare_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
REQUEST_SECONDS = Histogram("ipshare_http_request_seconds", "HTTP request latency", ["service", "route"])
EVENTS_PUBLISHED = Counter("ipshare_relay_events_published_total", "Events the relay published", ["service"])
RELAY_LAG = Gauge("ipshare_relay_lag_events", "Stored events not yet published", ["service"])
EVENTS_APPLIED = Counter("ipshare_consumer_events_applied_total", "Events applied", ["consumer", "topic"])
CONSUMER_LAG = Gauge(
    "ipshare_consumer_lag_messages", "Messages behind the partition end", ["consumer", "topic", "partition"]
)
FOLLOWER_RETRIES = Counter("ipshare_follower_retries_total", "Failed steps of a log follower, retried", ["follower"])
IS_LEADER = Gauge("ipshare_leader", "1 while this process runs the service's single-writer loops", ["service"])
EVENTS_PARKED = Counter(
    "ipshare_relay_events_parked_total", "Events the relay could not publish and parked", ["service", "reason"]
)
PARKED_EVENTS = Gauge("ipshare_relay_parked_events", "Events parked and not yet published", ["service"])
TOPIC_REFILLS = Counter(
    "ipshare_relay_topic_refills_total", "Times the relay found its topic lost and republished the log", ["service"]
)
WRITE_RETRIES = Counter(
    "ipshare_http_write_retries_total", "Writes run again after another command saved the same version", ["method"]
)
DEAD_LETTERED = Counter(
    "ipshare_consumer_dead_lettered_total", "Messages sent to the dead-letter topic", ["consumer", "topic"]
)


def add_trace_ids(_: object, __: str, event: EventDict) -> EventDict:
    """The active span's trace and span ids, as the OpenTelemetry log data model names them."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True) -> None:
    """One JSON object per line on stderr, ours and the libraries' (stdlib logging) alike, each with
    the bound context (service, correlation_id) and, inside a span, its trace and span ids."""
    renderer: Processor = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stderr)
    rendering: list[Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
    ]
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name], processors=[*rendering, renderer]
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)  # the libraries' warnings and errors; our own lines go through structlog


log = structlog.get_logger()


def log_access(request: Request, status: int, route: str, seconds: float, **context: object) -> None:
    """The access log: one line per HTTP request, written inside the request's span."""
    client = request.client.host if request.client else None
    log.info("request", method=request.method, path=request.url.path, route=route, status=status,
             duration_ms=round(seconds * 1000, 2), client=client, **context)  # fmt: skip
