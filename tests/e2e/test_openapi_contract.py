"""Each service answers as its OpenAPI document says: schemathesis generates requests for every
operation from the document alone and sends them to the running services (on the real PostgreSQL
and broker). No answer may be a 5xx, have a status the document does not list, or break the
schema it declares for that status. Bounded: `EXAMPLES` requests per operation, no shrinking.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ipshare.auth import Role
from ipshare_devtools.stack import Stack

pytestmark = pytest.mark.e2e

EXAMPLES = 8
CHECKS = [
    not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
    response_schema_conformance,
]  # fmt: skip
SERVICES = ["ip-registry", "commercialization", "incubation", "revenue-share"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_the_document_says(
    stack: Stack, bearer: Callable[..., dict[str, str]], service: str
) -> None:
    [process] = [s for s in stack.settings.services() if s.name == service]
    document = httpx.get(f"{process.base_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def answers_as_documented(case: schemathesis.Case) -> None:
            response = case.call(base_url=process.base_url, headers=bearer(Role.ADMIN), timeout=30)
            case.validate_response(response, checks=CHECKS)

        try:
            answers_as_documented()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's finding, then fail once
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)


def test_the_documents_describe_the_errors_headers_and_choices(stack: Stack) -> None:
    documents = {s.name: httpx.get(f"{s.base_url}/openapi.json").json() for s in stack.settings.services()}
    for service, document in documents.items():
        assert "HTTPValidationError" not in document["components"]["schemas"], service
        assert document["components"]["schemas"]["Error"]["required"] == ["error"]
        ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
        assert len(ids) == len(set(ids)), service
        assert all(i.isidentifier() for i in ids), service  # the route functions' names
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                described = set(operation["responses"])
                headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
                if operation.get("security"):
                    assert {"401", "403", "404", "409", "422"} <= described, (service, method, path)
                    error = operation["responses"]["401"]["content"]["application/json"]["schema"]
                    assert error == {"$ref": "#/components/schemas/Error"}
                if method == "post":
                    assert "Idempotency-Key" in headers, (service, path)
                if method == "post" and "{" in path:
                    assert "If-Match" in headers, (service, path)
                    assert "412" in described, (service, path)
    asset = documents["ip-registry"]["paths"]["/assets/{asset_id}"]["get"]
    assert asset["operationId"] == "get_asset"
    assert "ETag" in asset["responses"]["200"]["headers"]
    register = documents["ip-registry"]["components"]["schemas"]["RegisterAsset"]["properties"]
    assert "invention_patent" in documents["ip-registry"]["components"]["schemas"]["AssetKind"]["enum"]
    assert register["kind"] == {"$ref": "#/components/schemas/AssetKind"}
