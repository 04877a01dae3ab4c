"""What every service's HTTP API shares: JSON errors, bearer auth, correlation ids, traces, an access log,
health, metrics."""

from __future__ import annotations

import contextlib
import csv
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Match
from starlette.types import ASGIApp

from ipshare.auth import AuthError, Principal, Role
from ipshare.error_status import http_status
from ipshare.eventstore import CommandContext, Precondition
from ipshare.identity import read_token
from ipshare.observability import REQUEST_SECONDS, REQUESTS, log_access
from ipshare.openapi import document_errors, operation_id
from ipshare.permissions import Permission, holders
from ipshare.settings import AuthSettings, WebSettings
from ipshare.tracing import trace_requests
from ipshare.write_retry import RetryConcurrentWrites
from ipshare_kernel.errors import DomainError, Forbidden, StaleVersion
from ipshare_kernel.money import CurrencyError

CORRELATION_HEADER = "X-Correlation-ID"
UNTRACED_PATHS = "/healthz,/livez,/metrics"  # probes and scrapes: no spans
CAUSATION_HEADER = "X-Causation-ID"
HealthCheck = Callable[[], Awaitable[bool]]


class NotReady(Exception):
    """Raised by a health check to say why the service is not ready (shown in `/healthz`)."""


def error_body(status: int, code: str, message: str, details: Mapping[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = dict(details)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(status_code=status, content=body, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path", "header"))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [{"field": _field(tuple(e["loc"])), "message": e["msg"], "type": e["type"]} for e in exc.errors()]
    fields = ", ".join(sorted({p["field"] or "body" for p in problems}))
    return error_body(422, "invalid_request", f"invalid value for: {fields}", {"problems": problems})


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_body(http_status(exc), exc.code, exc.message, _jsonable(exc.details))


async def _currency_error(_: Request, exc: Exception) -> JSONResponse:
    # Reached only where a body did not declare its currency field (see `schemas.Body`); still a 422.
    return error_body(422, "invalid_request", f"invalid value for: currency: {exc}", {"field": "currency"})


async def _csv_error(_: Request, exc: Exception) -> JSONResponse:
    return error_body(422, "invalid_request", f"the CSV cannot be read: {exc}", {"field": "body"})


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    response = error_body(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _auth_error(_: Request, exc: Exception) -> JSONResponse:
    return error_body(401, "unauthorized", f"invalid bearer token: {exc}")


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | list | dict | type(None)) else str(v)
        for k, v in details.items()
    }


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "failing"]]
    reasons: dict[str, str] | None = None  # why a failing check fails, where it says (e.g. a topic being refilled)


class ServiceAPI(FastAPI):
    """FastAPI with writes re-run on a version clash, inside the exception handlers (which map what
    still fails) and outside the routes (each run parses, authorizes, loads and decides afresh).
    `IntegrityError` has no handler of its own, so it passes the routes' handlers up to that layer."""

    write_attempts = WebSettings.model_fields["write_retry_attempts"].default

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        layer: Any = stack
        while not isinstance(layer, ExceptionMiddleware):
            layer = layer.app
        layer.app = RetryConcurrentWrites(layer.app, self.write_attempts)
        return stack


async def readiness(health_checks: Mapping[str, HealthCheck]) -> Health:
    """Each check's verdict, and why a failing one fails where it says (HTTP `/healthz`, gRPC health)."""
    results = {name: await _safe(check) for name, check in health_checks.items()}
    reasons = {k: reason for k, (ok, reason) in results.items() if not ok and reason}
    return Health(
        status="ok" if all(ok for ok, _ in results.values()) else "unavailable",
        checks={k: "ok" if ok else "failing" for k, (ok, _) in results.items()},
        reasons=reasons or None,
    )


def create_api(service: str, auth: AuthSettings, health_checks: Mapping[str, HealthCheck], **kwargs: Any) -> FastAPI:
    """A FastAPI app with the shared error bodies, middleware, `/healthz` and `/metrics`."""
    api = ServiceAPI(title=f"ipshare {service}", generate_unique_id_function=operation_id, **kwargs)
    if isinstance(auth, WebSettings):
        api.write_attempts = auth.write_retry_attempts
    api.state.auth_settings = auth
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(DomainError, _domain_error)
    api.add_exception_handler(StarletteHTTPException, _http_error)
    api.add_exception_handler(AuthError, _auth_error)
    api.add_exception_handler(CurrencyError, _currency_error)
    api.add_exception_handler(csv.Error, _csv_error)
    document_errors(api)
    trace_requests(api, UNTRACED_PATHS)

    @api.middleware("http")
    async def correlate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        correlation_id = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
        route = route_template(request)
        seconds = time.perf_counter() - started
        REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
        REQUEST_SECONDS.labels(service, route).observe(seconds)
        log_access(request, response.status_code, route, seconds, correlation_id=correlation_id)
        response.headers[CORRELATION_HEADER] = correlation_id
        return response

    @api.get("/healthz", tags=["operations"], responses={200: {"model": Health}, 503: {"model": Health}})
    async def healthz() -> JSONResponse:
        """Readiness: 503 with the reasons while a dependency fails or the service is catching up."""
        health = await readiness(health_checks)
        return JSONResponse(status_code=200 if health.status == "ok" else 503,
                            content=health.model_dump(exclude_none=True))  # fmt: skip

    @api.get("/livez", tags=["operations"], responses={200: {"model": Health}})
    async def livez() -> JSONResponse:
        """Liveness: the process serves requests (whatever its dependencies say)."""
        return JSONResponse({"status": "ok", "checks": {}})

    @api.get("/metrics", tags=["operations"], response_class=PlainTextResponse,
             responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}})  # fmt: skip
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return api


def application_api(
    service: str,
    auth: AuthSettings,
    application: Callable[[], object],
    routers: Sequence[APIRouter],
    health_checks: Mapping[str, HealthCheck] | None = None,
) -> FastAPI:
    """A service's API: its routers over `application()`, read by routes through `request.app.state`."""
    api = create_api(service, auth, health_checks or {})
    api.state.application = application
    for router in routers:
        api.include_router(router)
    return api


def route_template(request: Request) -> str:
    """The path template of the route that served the request (`/assets/{asset_id}`), or `unmatched`."""
    # Included routers are nodes of their own since FastAPI 0.137: match the routes they hold.
    for route in iter_route_contexts(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return str(route.path or "unmatched")
    return "unmatched"


async def _safe(check: HealthCheck) -> tuple[bool, str]:
    try:
        return await check(), ""
    except NotReady as exc:
        return False, str(exc)
    except Exception:
        return False, ""


_bearer = HTTPBearer(auto_error=False)


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The person acting. A service's own token acts for no person: services call each other over
    gRPC, and every HTTP route acts for a person (or the member a person speaks for)."""
    if credentials is None:
        raise AuthError("missing Authorization: Bearer header")
    principal = read_token(request.app.state.auth_settings, credentials.credentials)
    if principal.role is Role.SERVICE:
        raise Forbidden("a service's credentials act for no person on this API", subject=principal.subject)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def command_context(request: Request, principal: CurrentPrincipal) -> CommandContext:
    return CommandContext(
        principal=principal,
        correlation_id=request.state.correlation_id,
        causation_id=request.headers.get(CAUSATION_HEADER, ""),
        precondition=precondition(request),
    )


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


def precondition(request: Request) -> Precondition | None:
    """If-Match as a precondition on the resources the path names: the save checks it (see `record`)."""
    version = None if request.method in ("GET", "HEAD") else expected_version(request)
    if version is None:
        return None
    return Precondition(version, frozenset(_path_ids(request)))


def _path_ids(request: Request) -> Iterator[uuid.UUID]:
    for value in request.path_params.values():
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            yield uuid.UUID(str(value))


CommandContextDep = Annotated[CommandContext, Depends(command_context)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only the given roles (403 with a JSON body otherwise)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"role {principal.role.value} may not do this (allowed: {allowed})")
        return principal

    return check


def require_permission(permission: Permission) -> Callable[[Principal], Principal]:
    """A dependency admitting only the roles holding a permission (`ipshare.permissions.GRANTS`)."""
    return require_roles(*holders(permission))
