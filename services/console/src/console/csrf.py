"""CSRF protection by a signed double-submit token.

Each browser gets a random nonce in an HttpOnly cookie; every form carries
HMAC(key, nonce) in a hidden field (htmx sends it as a header). A forged request
from another site cannot read the cookie, so it cannot compute the token; the
key never leaves the server, so a planted cookie is no help either. The nonce is
replaced at sign-in and sign-out, so a token seen before either is worthless after.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

NONCE_COOKIE = "ipshare_csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


class CsrfError(Exception):
    """The request's token is missing or does not match its cookie."""


def derive_key(secret: str) -> bytes:
    """The console's CSRF key, derived from its signing secret and useless for anything else."""
    return hmac.new(secret.encode(), b"ipshare-console-csrf-v1", hashlib.sha256).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def token_for(key: bytes, nonce: str) -> str:
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def check(key: bytes, nonce: str | None, submitted: str | None) -> None:
    if not nonce or not submitted:
        raise CsrfError("the form's security token is missing")
    if not hmac.compare_digest(token_for(key, nonce), submitted):
        raise CsrfError("the form's security token does not match")
