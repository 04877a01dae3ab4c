"""Which status a domain error is answered with: the HTTP status, and from it the gRPC code."""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from ipshare_kernel.errors import Conflict, DomainError, Forbidden, NotFound, StaleVersion, Unavailable

HTTP_STATUS: Mapping[type[DomainError], int] = {
    NotFound: 404,
    Forbidden: 403,
    StaleVersion: 412,
    Conflict: 409,
    Unavailable: 503,
    DomainError: 422,
}
GRPC_STATUS: Mapping[int, grpc.StatusCode] = {
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    403: grpc.StatusCode.PERMISSION_DENIED,
    412: grpc.StatusCode.ABORTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
}
# A few codes say more than their HTTP status (both are 409 over HTTP).
GRPC_STATUS_OF_CODE: Mapping[str, grpc.StatusCode] = {"already_exists": grpc.StatusCode.ALREADY_EXISTS}


def http_status(error: DomainError) -> int:
    """The status of the nearest class in the error's ancestry that has one (at worst DomainError's 422)."""
    return next(HTTP_STATUS[cls] for cls in type(error).__mro__ if cls in HTTP_STATUS)


def grpc_status(error: DomainError) -> grpc.StatusCode:
    return GRPC_STATUS_OF_CODE.get(error.code) or GRPC_STATUS.get(http_status(error), grpc.StatusCode.UNKNOWN)
