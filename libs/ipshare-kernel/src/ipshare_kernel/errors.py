"""Domain errors shared by every service; the web and gRPC layers map them to status codes."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A command broke a business rule (422 unless a subclass says otherwise)."""

    status = 422
    code = "rule_violated"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The command contradicts the current state (an illegal transition, a clash)."""

    status = 409
    code = "conflict"


class AlreadyExists(Conflict):
    """An idempotency key (a request id) was already used for a different request."""

    code = "already_exists"


class ConcurrentUpdate(Conflict):
    """Other commands kept saving the same aggregate versions first, however often this one was re-run."""

    code = "concurrent_update"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class StaleVersion(DomainError):
    """The client's If-Match names a version that is no longer current."""

    status = 412
    code = "precondition_failed"
