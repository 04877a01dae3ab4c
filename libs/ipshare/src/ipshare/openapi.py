"""What every service's OpenAPI document says beyond FastAPI's defaults, in one place.

FastAPI documents a route's success and a 422 whose schema (`HTTPValidationError`) is not
what the services send. Here every operation gets the statuses it can answer, all with the
one error body the exception handlers write, the `Idempotency-Key` and `If-Match` headers
the HTTP layer honours, the `ETag` it returns, and an operation id that is the route
function's name (stable across releases, unlike FastAPI's path-derived default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

ERROR_REF = "#/components/schemas/Error"
_WRITES = frozenset({"post", "put", "patch", "delete"})
_ERRORS = {
    401: "no bearer token, or one that is invalid or expired",
    403: "the caller's role or membership may not do this",
    404: "no such resource (or route)",
    409: "the command contradicts the current state, or the Idempotency-Key was used for another request "
    "or is still running",
    412: "If-Match names a version that is no longer current",
    422: "a parameter, header or body field is invalid: `details.problems` or `details.field` names it",
    503: "the identity provider, or a service this one asks, did not answer: try again later",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. invalid_request, not_found, precondition_failed")
    message: str
    details: dict[str, Any] | None = Field(None, description="what the error is about: fields, ids, versions")


class Error(BaseModel):
    """Every 4xx and 5xx answer of every service."""

    error: ErrorDetail


def operation_id(route: APIRoute) -> str:
    """The route function's name: stable, and unique within a service (a test checks)."""
    return route.name


def document_errors(api: FastAPI) -> None:
    """Make `api.openapi()` describe the error statuses, headers and error body of every operation."""
    generate: Callable[[], dict[str, Any]] = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = _describe(generate())
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


def _describe(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    error_schema = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["Error"] = error_schema
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _describe_operation(path, method, operation)
    return document


def _describe_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = {422}
    if operation.get("security"):  # any use case may find a named thing missing or in the wrong state
        statuses |= {401, 403, 404, 409, 503}  # 503: the token's keys are read from the identity provider
    if method in _WRITES:
        _add_header(operation, "Idempotency-Key", "the same key and request replay the first answer "
                    "(with `Idempotent-Replayed: true`) for 24 hours by default; scoped to the caller")  # fmt: skip
        if "{" in path:
            statuses.add(412)
            _add_header(operation, "If-Match", 'write only over this version (an ETag such as "3" or W/"3")')
    for code in sorted(statuses):
        responses[str(code)] = {
            "description": _ERRORS[code],
            "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
        }
    for status, response in responses.items():
        if status.startswith("2") and ("{" in path or status == "201"):
            response.setdefault("headers", {})["ETag"] = {
                "description": "the resource's version, for If-Match",
                "schema": {"type": "string"},
                "required": False,
            }


def _add_header(operation: dict[str, Any], name: str, description: str) -> None:
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    if any(p.get("in") == "header" and p.get("name", "").lower() == name.lower() for p in parameters):
        return
    parameters.append({
        "name": name, "in": "header", "required": False, "description": description,
        "schema": {"type": "string", "maxLength": 200},
    })  # fmt: skip
