"""Each service's OpenAPI document, as its HTTP API builds it: every choice is an enum, and every
operation answers its errors with the one error body.

A property or parameter whose name says it is a choice (a kind, status, type, role, state, step,
unit, bucket ...) must list its values: a client generated from the document then cannot send
an invalid one, and the service answers one with a 422 naming the field. Free text under such a
name is allowed only in `FREE_TEXT`, with the reason. The console's own lists of choices (its form
and filter options) are the values the documents list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from commercialization.entrypoints import http as commercialization_http
from commercialization.entrypoints import main as commercialization_main
from console.pages.finance import AGEING_BUCKETS as CONSOLE_BUCKETS
from console.pages.member import KINDS as CONSOLE_KINDS
from console.pages.member import STATUSES as CONSOLE_STATUSES
from incubation.entrypoints import http as incubation_http
from incubation.entrypoints import main as incubation_main
from ip_registry.entrypoints import http as ip_registry_http
from ip_registry.entrypoints import main as ip_registry_main
from ipshare.openapi import ERROR_REF
from ipshare.runtime import Runtime, http_api
from revenue_share.entrypoints import http as revenue_share_http
from revenue_share.entrypoints import main as revenue_share_main

SERVICES: dict[str, tuple[ModuleType, ModuleType]] = {
    "ip-registry": (ip_registry_main, ip_registry_http),
    "commercialization": (commercialization_main, commercialization_http),
    "incubation": (incubation_main, incubation_http),
    "revenue-share": (revenue_share_main, revenue_share_http),
}
CHOICE = re.compile(
    r"(^|_)(kinds?|status(es)?|types?|roles?|states?|bases|basis|steps?|scopes?|units?|buckets?|causes?|formats?"
    r"|acceleration|via|strategic|reserve|modes?)$"
)
# (service, where, name): where is a schema's name, or "METHOD path" for a parameter.
FREE_TEXT = {
    # The income a statement line's source group is about: an asset's id, `equity:<spin-off id>` or
    # `adjustment`. An identifier, not a choice.
    ("revenue-share", "SourceGroupOut", "scope"),
    # An audit log entry's event type name: every event class the service has ever recorded, and
    # the log keeps those of classes since renamed. A name, not a choice.
    *((service, "EntryOut", "type") for service in SERVICES),
}

# Readiness answers 503 with its checks' report (which check fails, and why), not an error body.
READINESS_NOT_READY = ("get", "/healthz", "503")


def document(service: str) -> dict[str, Any]:
    main, http = SERVICES[service]
    openapi: dict[str, Any] = http_api(Runtime(main.spec()), *http.ROUTERS).openapi()
    return openapi


@pytest.fixture(scope="module", params=list(SERVICES))
def service(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, document(request.param)


def resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def takes_free_text(schema: dict[str, Any], doc: dict[str, Any]) -> bool:
    """Whether the schema lets through a string that no enum or constant lists (or anything at all)."""
    schema = resolve(schema, doc)
    if "enum" in schema or "const" in schema:
        return False
    alternatives = schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", [])
    if alternatives:
        return any(takes_free_text(s, doc) for s in alternatives)
    kind = schema.get("type")
    if kind == "array":
        return takes_free_text(schema.get("items", {}), doc)
    if kind == "string":
        return "format" not in schema  # a date, a uuid: not text
    return kind is None and not schema.get("properties")  # untyped: anything goes


def choices(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, name, schema) of every property and parameter named as a choice."""
    for name, schema in doc["components"]["schemas"].items():
        for prop, prop_schema in schema.get("properties", {}).items():
            if CHOICE.search(prop):
                yield name, prop, prop_schema
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("query", "path") and CHOICE.search(parameter["name"]):
                    yield f"{method.upper()} {path}", parameter["name"], parameter["schema"]


def test_every_choice_lists_its_values(service: tuple[str, dict[str, Any]]) -> None:
    name, doc = service
    found = list(choices(doc))
    free = {(name, where, field) for where, field, schema in found if takes_free_text(schema, doc)}

    assert free - FREE_TEXT == set(), "a choice documented as free text: type it with its enum or a Literal"
    assert len(found) > 5, name  # the walk finds the choices at all


def test_the_allowed_free_text_is_still_there() -> None:
    """An entry of FREE_TEXT whose field went (or became an enum) is removed from it, not kept."""
    docs = {name: document(name) for name in {service for service, _, _ in FREE_TEXT}}
    for service, where, field in FREE_TEXT:
        found = {(w, f): s for w, f, s in choices(docs[service])}
        assert takes_free_text(found[(where, field)], docs[service]), (service, where, field)


def test_the_check_sees_free_text_and_enums() -> None:
    doc = {"components": {"schemas": {"Kind": {"type": "string", "enum": ["a", "b"]}}}}
    assert takes_free_text({"type": "string"}, doc)
    assert takes_free_text({"anyOf": [{"type": "string"}, {"type": "null"}]}, doc)
    assert takes_free_text({"type": "array", "items": {"type": "string"}}, doc)
    assert takes_free_text({}, doc)
    assert not takes_free_text({"$ref": "#/components/schemas/Kind"}, doc)
    assert not takes_free_text({"anyOf": [{"$ref": "#/components/schemas/Kind"}, {"type": "null"}]}, doc)
    assert not takes_free_text({"anyOf": [{"enum": ["days"], "type": "string"}, {"const": ""}]}, doc)
    assert not takes_free_text({"type": "string", "format": "uuid"}, doc)
    assert not takes_free_text({"type": "array", "items": {"type": "object", "properties": {"id": {}}}}, doc)


def test_every_operation_documents_its_errors_with_the_error_body(service: tuple[str, dict[str, Any]]) -> None:
    name, doc = service
    assert "HTTPValidationError" not in doc["components"]["schemas"], name
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = {"401", "403", "404", "409", "422", "503"} if operation.get("security") else {"422"}
            assert expected <= set(responses), (name, method, path)
            for status, response in responses.items():
                if status[0] in "45" and (method, path, status) != READINESS_NOT_READY:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": ERROR_REF}, (name, method, path, status)


@pytest.mark.parametrize(
    ("offered", "service", "where", "field"),
    [(CONSOLE_KINDS, "ip-registry", "RegisterAsset", "kind"),
     (CONSOLE_STATUSES, "ip-registry", "RegisterAsset", "status"),
     (CONSOLE_BUCKETS, "commercialization", "ReceivableOut", "bucket")],
    ids=["asset kinds", "asset statuses", "ageing buckets"],
)  # fmt: skip
def test_the_console_offers_the_choices_the_services_document(
    offered: tuple[str, ...], service: str, where: str, field: str
) -> None:
    doc = document(service)
    documented = resolve(doc["components"]["schemas"][where]["properties"][field], doc)["enum"]
    assert list(offered) == documented
