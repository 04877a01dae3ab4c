"""Signing in at the organization's identity provider: the OpenID Connect authorization code flow, as a
confidential client, with PKCE (S256), state and nonce.

The console sends the browser to the provider's authorization endpoint (from discovery) with a fresh
state, nonce and PKCE challenge, and keeps them (with the verifier and the page to return to) in a
short-lived signed cookie, so any replica can finish the sign-in. The provider sends the browser back
to the callback with a code and the state. The console checks the state against its cookie, trades the
code at the token endpoint with its client secret and the PKCE verifier, checks the ID token (the
issuer's signature, issued to this client, the nonce) and the access token (as every service checks
it: the issuer's keys, issuer, audience, expiry, one role), and keeps the access token.

Signing out (OpenID Connect RP-Initiated Logout 1.0): where the provider's discovery document names an
end-session endpoint, the console sends the browser there too, with the sign-in's ID token as
`id_token_hint`, its client id, the sign-in page as `post_logout_redirect_uri` and a fresh state, so the
provider's own session ends and the next sign-in asks for the password again. The ID token is kept from
the sign-in in a cookie of its own, sent only to the sign-out: the session cookie keeps the access token
alone (both in one cookie could pass the browsers' 4 KB limit with a real provider's tokens), and the ID
token travels with no other request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from console.session import Session
from ipshare.auth import AuthError, Role
from ipshare.identity import exchange_code, pkce_challenge, read_token, verifier_for
from ipshare.settings import AuthSettings

FLOW_COOKIE = "ipshare_sign_in"
FLOW_SECONDS = 600  # time to sign in at the provider, password and second factor included
CALLBACK_PATH = "/sign-in/callback"
SIGN_IN_PATH = "/sign-in"
SIGN_OUT_PATH = "/sign-out"
ID_TOKEN_COOKIE = "ipshare_id_token"  # the sign-in's ID token, for the provider's end-session endpoint
SIGN_OUT_COOKIE = "ipshare_sign_out"  # the state of a sign-out under way at the provider


class SignInRefused(Exception):
    """The provider's answer does not complete this browser's sign-in: nobody is signed in."""


@dataclass(frozen=True)
class SignedIn:
    """A finished sign-in: the console's session, and the ID token that names it at the provider."""

    session: Session
    id_token: str


@dataclass(frozen=True)
class SignInAttempt:
    """One sign-in under way: what the callback must find again, and where to go after it."""

    state: str
    nonce: str
    verifier: str
    next: str
    started_at: float

    @classmethod
    def new(cls, next_page: str) -> SignInAttempt:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64), next_page,
                   time.time())  # fmt: skip

    def authorization_url(self, endpoint: str, client_id: str, redirect_uri: str, scope: str) -> str:
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
                 "state": self.state, "nonce": self.nonce, "code_challenge": pkce_challenge(self.verifier),
                 "code_challenge_method": "S256"}  # fmt: skip
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"


def flow_key(secret: str) -> bytes:
    """The key the attempt cookie is signed with, derived from the console's secret and good for nothing else."""
    return hmac.new(secret.encode(), b"ipshare-console-sign-in-v1", hashlib.sha256).digest()


def seal(key: bytes, attempt: SignInAttempt) -> str:
    # unpadded base64url: a cookie value needing no quotes
    body = base64.urlsafe_b64encode(json.dumps(asdict(attempt)).encode()).rstrip(b"=").decode()
    return f"{body}.{hmac.new(key, body.encode(), hashlib.sha256).hexdigest()}"


def unseal(key: bytes, sealed: str | None) -> SignInAttempt:
    """The attempt this browser started here, signed by this console and not older than FLOW_SECONDS."""
    if not sealed:
        raise SignInRefused("no sign-in was started in this browser (or it took too long)")
    body, _, signature = sealed.rpartition(".")
    if not hmac.compare_digest(hmac.new(key, body.encode(), hashlib.sha256).hexdigest(), signature):
        raise SignInRefused("the sign-in cookie was altered")
    attempt = SignInAttempt(**json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
    if time.time() - attempt.started_at > FLOW_SECONDS:
        raise SignInRefused("the sign-in took too long; start again")
    return attempt


def authorization_url(settings: AuthSettings, attempt: SignInAttempt, redirect_uri: str, scope: str) -> str:
    """Where the browser signs in: the provider's authorization endpoint, from its discovery document."""
    endpoint = verifier_for(settings).discovery().authorization_endpoint
    if not endpoint:
        raise SignInRefused(f"{settings.oidc_issuer} names no authorization endpoint: it signs no one in here")
    return attempt.authorization_url(endpoint, settings.oidc_client_id, redirect_uri, scope)


def finish(settings: AuthSettings, attempt: SignInAttempt, state: str, code: str, redirect_uri: str) -> SignedIn:
    """The session the provider's answer opens, once state, code, ID token and access token all check out."""
    if not secrets.compare_digest(state.encode(), attempt.state.encode()):
        raise SignInRefused("the provider's answer belongs to another sign-in (state mismatch)")
    try:
        tokens = exchange_code(settings, code, redirect_uri, attempt.verifier)
        identity = _id_token_claims(settings, tokens)
        principal = read_token(settings, str(tokens.get("access_token", "")))
    except AuthError as exc:
        raise SignInRefused(str(exc)) from exc
    if not secrets.compare_digest(str(identity["nonce"]).encode(), attempt.nonce.encode()):
        raise SignInRefused("the ID token was issued for another sign-in (nonce mismatch)")
    if principal.subject != identity["sub"]:
        raise SignInRefused("the access token and the ID token name different people")
    if principal.role is Role.SERVICE:
        raise SignInRefused("a service account cannot sign in to the console")
    return SignedIn(Session(str(tokens["access_token"]), principal), str(tokens["id_token"]))


def _id_token_claims(settings: AuthSettings, tokens: dict[str, Any]) -> dict[str, Any]:
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise AuthError("the provider answered without an ID token (is `openid` in the scope?)")
    return verifier_for(settings).id_token_claims(id_token, settings.oidc_client_id)


def end_session_url(settings: AuthSettings, id_token: str | None, post_logout_redirect_uri: str, state: str) -> str:
    """Where the browser ends its session at the provider too; empty when the provider's discovery document
    names no end-session endpoint. Without the ID token (a development sign-in, or its cookie gone) the
    client id alone names the client, and the provider may ask the person to confirm."""
    endpoint = verifier_for(settings).discovery().end_session_endpoint
    if not endpoint:
        return ""
    hint = {"id_token_hint": id_token} if id_token else {}
    query = {**hint, "client_id": settings.oidc_client_id, "post_logout_redirect_uri": post_logout_redirect_uri,
             "state": state}  # fmt: skip
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"
