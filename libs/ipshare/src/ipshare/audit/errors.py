"""Why an audit check failed. Subclasses of DomainError, so web and gRPC layers map them (422)."""

from __future__ import annotations

from ipshare_kernel.errors import DomainError


class AuditError(DomainError):
    """Base of every audit failure: the message says what did not verify, in plain words."""

    code = "audit_failed"


class InvalidProofError(AuditError):
    """A Merkle inclusion or consistency proof does not prove what it claims."""

    code = "invalid_proof"


class CanonicalFormError(AuditError):
    """Bytes that should be a canonical record are truncated, padded or of the wrong kind."""

    code = "malformed_record"


class InvalidSignatureError(AuditError):
    """A checkpoint's signature does not verify with the given public key."""

    code = "invalid_signature"


class KeyFormatError(ValueError):
    """A signing or verification key could not be read (a configuration error, not a domain one)."""
