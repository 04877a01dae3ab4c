"""Domain errors carry no status; the web and gRPC layers answer each kind with its own."""

from __future__ import annotations

import grpc
import pytest

from ipshare.error_status import grpc_status, http_status
from ipshare_kernel.errors import (
    AlreadyExists,
    ConcurrentUpdate,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    StaleVersion,
    Unavailable,
)


class _RuleOfAService(Conflict):
    code = "a_rule_of_a_service"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (DomainError("x"), 422, grpc.StatusCode.INVALID_ARGUMENT),
        (NotFound("x"), 404, grpc.StatusCode.NOT_FOUND),
        (Forbidden("x"), 403, grpc.StatusCode.PERMISSION_DENIED),
        (StaleVersion("x"), 412, grpc.StatusCode.ABORTED),
        (Conflict("x"), 409, grpc.StatusCode.FAILED_PRECONDITION),
        (ConcurrentUpdate("x"), 409, grpc.StatusCode.FAILED_PRECONDITION),
        (AlreadyExists("x"), 409, grpc.StatusCode.ALREADY_EXISTS),
        (_RuleOfAService("x"), 409, grpc.StatusCode.FAILED_PRECONDITION),
        (Unavailable("x"), 503, grpc.StatusCode.UNKNOWN),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, DomainError) else str(v),
)
def test_each_kind_of_error_gets_the_status_of_its_nearest_kind(
    error: DomainError, status: int, code: grpc.StatusCode
) -> None:
    assert (http_status(error), grpc_status(error)) == (status, code)


def test_a_domain_error_carries_no_status_of_its_own() -> None:
    assert not hasattr(DomainError("x"), "status")
