"""Domain errors shared by every service. They say what went wrong in the business's terms; which
status a caller gets (HTTP or gRPC) is the web and gRPC layers' mapping (`ipshare.error_status`)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A command broke a business rule."""

    code = "rule_violated"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The command contradicts the current state (an illegal transition, a clash)."""

    code = "conflict"


class AlreadyExists(Conflict):
    """An idempotency key (a request id) was already used for a different request."""

    code = "already_exists"


class ConcurrentUpdate(Conflict):
    """Other commands kept saving the same aggregate versions first, however often this one was re-run."""

    code = "concurrent_update"


class Forbidden(DomainError):
    code = "forbidden"


class StaleVersion(DomainError):
    """The client's If-Match names a version that is no longer current."""

    code = "precondition_failed"


class Unavailable(DomainError):
    """Something the command needs to decide did not answer; the same command may succeed later."""

    code = "unavailable"
