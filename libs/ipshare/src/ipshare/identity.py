"""Tokens of the organization's identity provider: reading people's and services' access tokens, and
a service's own token (OAuth 2 client credentials).

The issuer is found through OIDC discovery (`<issuer>/.well-known/openid-configuration`); its signing
keys come from the JWKS it names, cached by PyJWT's `PyJWKClient` (an unknown `kid` refetches the set
at most once per `OIDC_JWKS_REFETCH_SECONDS`, so a rotated key is picked up and a flood of made-up
kids cannot flood the issuer). A token must be signed with one of `OIDC_ALGORITHMS` by a key of that
set, name the configured issuer and audience, and be unexpired (give or take `OIDC_LEEWAY_SECONDS`).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

from ipshare.auth import (
    AuthError,
    ClaimNames,
    Principal,
    Role,
    issue_token,
    principal_from_claims,
    read_shared_secret_token,
)
from ipshare.observability import log
from ipshare.settings import DEV_MODE_VARIABLE, AuthSettings
from ipshare_kernel.errors import Unavailable

DISCOVERY_PATH = "/.well-known/openid-configuration"
# The development issuer (`ipshare.dev_issuer`) says so in its discovery document, and grants any
# person's token to a client of its own with this grant.
DEVELOPMENT_MARK = "ipshare_development_issuer"
DEVELOPMENT_GRANT = "urn:ipshare:grant-type:development-sign-in"
_REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud")
_RENEW_BEFORE_SECONDS = 60  # a service asks for a new token this long before its own expires


class IssuerUnavailable(Unavailable):
    """The identity provider did not answer, so no token can be checked or obtained now."""

    code = "identity_provider_unavailable"


class DevelopmentIssuerRefused(AuthError):
    """The issuer is the development one, and development mode is off."""


@dataclass(frozen=True, slots=True)
class Discovery:
    """What this code uses of an OIDC discovery document."""

    issuer: str
    jwks_uri: str
    token_endpoint: str
    development: bool
    authorization_endpoint: str = ""  # empty: the provider signs no one in through a browser
    end_session_endpoint: str = ""  # empty: the provider offers no RP-initiated logout

    @classmethod
    def fetch(cls, settings: AuthSettings) -> Discovery:
        url = settings.oidc_issuer.rstrip("/") + DISCOVERY_PATH
        try:
            response = httpx.get(url, timeout=settings.oidc_timeout_seconds)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable(f"the identity provider's discovery document did not load: {exc}") from exc
        if not isinstance(document, Mapping) or document.get("issuer") != settings.oidc_issuer:
            raise IssuerUnavailable(f"{url} describes another issuer than {settings.oidc_issuer}")
        return cls(
            issuer=str(document["issuer"]),
            jwks_uri=str(document.get("jwks_uri", "")),
            token_endpoint=str(document.get("token_endpoint", "")),
            development=document.get(DEVELOPMENT_MARK) is True,
            authorization_endpoint=str(document.get("authorization_endpoint", "")),
            end_session_endpoint=str(document.get("end_session_endpoint", "")),
        )

    def refuse_development(self, settings: AuthSettings) -> None:
        if self.development and not settings.ipshare_dev_mode:
            raise DevelopmentIssuerRefused(
                f"{self.issuer} is the development issuer; it is refused unless {DEV_MODE_VARIABLE}=true"
            )


class IssuerVerifier:
    """Reads access tokens of one issuer: discovery once, then its JWKS through `PyJWKClient`."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.claim_names = ClaimNames.of(settings)
        self._lock = threading.Lock()
        self._discovery: Discovery | None = None
        self._keys: PyJWKClient | None = None

    def discovery(self) -> Discovery:
        with self._lock:
            if self._discovery is None:
                found = Discovery.fetch(self.settings)
                found.refuse_development(self.settings)
                self._keys = PyJWKClient(
                    found.jwks_uri,
                    lifespan=self.settings.oidc_jwks_cache_seconds,
                    cooldown_duration=self.settings.oidc_jwks_refetch_seconds,
                    timeout=self.settings.oidc_timeout_seconds,
                )
                self._discovery = found
            return self._discovery

    def principal(self, token: str) -> Principal:
        return principal_from_claims(self.claims(token, self.settings.oidc_audience), self.claim_names)

    def id_token_claims(self, token: str, client_id: str) -> dict[str, Any]:
        """The claims of an ID token the issuer gave this client: signed by the issuer, addressed to the
        client (its audience is the client id, not the APIs'), unexpired, and naming a nonce."""
        return self.claims(token, client_id, required=(*_REQUIRED_CLAIMS, "nonce"))

    def claims(self, token: str, audience: str, required: tuple[str, ...] = _REQUIRED_CLAIMS) -> dict[str, Any]:
        """A token's claims once its algorithm, signature, issuer, audience and expiry are checked."""
        self.discovery()
        assert self._keys is not None
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm not in self.settings.oidc_algorithms:
                raise AuthError(f"algorithm {algorithm!r} is not accepted")
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self.settings.oidc_algorithms,
                audience=audience,
                issuer=self.settings.oidc_issuer,
                leeway=self.settings.oidc_leeway_seconds,
                options={"require": list(required)},
            )
        except PyJWKClientConnectionError as exc:
            raise IssuerUnavailable(f"the identity provider's keys did not load: {exc}") from exc
        except (jwt.PyJWTError, PyJWKClientError) as exc:
            raise AuthError(str(exc)) from exc
        return claims


_verifiers: dict[tuple[Any, ...], IssuerVerifier] = {}
_verifiers_lock = threading.Lock()


def verifier_for(settings: AuthSettings) -> IssuerVerifier:
    """One verifier (one key cache) per issuer configuration in this process."""
    key = _configuration(settings)
    with _verifiers_lock:
        if key not in _verifiers:
            _verifiers[key] = IssuerVerifier(settings)
        return _verifiers[key]


def _configuration(settings: AuthSettings) -> tuple[Any, ...]:
    fields = settings.model_dump(include=set(AuthSettings.model_fields))
    return tuple((name, repr(value)) for name, value in sorted(fields.items()))


def read_token(settings: AuthSettings, token: str) -> Principal:
    """The principal of a bearer token: the issuer's when one is configured, else (development) the
    shared secret's."""
    if not settings.uses_issuer:
        return read_shared_secret_token(settings, token)
    return verifier_for(settings).principal(token)


def check_issuer(settings: AuthSettings) -> None:
    """Start-up: refuse the shared secret, and the development issuer, outside development mode. An
    issuer that does not answer yet is not fatal here: tokens are refused (503) until it does."""
    settings.refuse_development_auth()
    if settings.uses_issuer:
        try:
            verifier_for(settings).discovery()
        except IssuerUnavailable as exc:
            log.warning("identity provider not reachable at start-up", issuer=settings.oidc_issuer, reason=exc.message)


class ServiceToken:
    """This service's own access token (role `service`): from the issuer's token endpoint with the
    client credentials grant, kept until shortly before it expires; in development mode without an
    issuer, signed with the shared secret."""

    def __init__(self, settings: AuthSettings, service: str) -> None:
        self.settings = settings
        self.client_id = settings.oidc_client_id or service
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0

    def bearer(self) -> str:
        with self._lock:
            if not self._token or time.monotonic() >= self._renew_at:
                self._token, lifetime = self._obtain()
                self._renew_at = time.monotonic() + max(lifetime - _RENEW_BEFORE_SECONDS, lifetime / 2)
            return self._token

    def _obtain(self) -> tuple[str, float]:
        if not self.settings.uses_issuer:
            token = issue_token(self.settings, Role.SERVICE, subject=self.client_id)
            return token, float(self.settings.jwt_ttl_seconds)
        endpoint = verifier_for(self.settings).discovery().token_endpoint
        form = {"grant_type": "client_credentials", "audience": self.settings.oidc_audience}
        answer = request_token(self.settings, endpoint, self.client_id, form)
        return str(answer["access_token"]), float(answer.get("expires_in", 300))


def request_token(settings: AuthSettings, endpoint: str, client_id: str, form: Mapping[str, str]) -> dict[str, Any]:
    """POST to the issuer's token endpoint, authenticated as the client (HTTP Basic)."""
    try:
        response = httpx.post(
            endpoint,
            data=dict(form),
            auth=(client_id, settings.oidc_client_secret),
            timeout=settings.oidc_timeout_seconds,
        )
    except httpx.HTTPError as exc:
        raise IssuerUnavailable(f"the identity provider's token endpoint did not answer: {exc}") from exc
    if response.status_code != 200:
        raise AuthError(f"the identity provider refused a token to {client_id}: {response.text[:200]}")
    answer: dict[str, Any] = response.json()
    return answer


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def exchange_code(settings: AuthSettings, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
    """The tokens an authorization code stands for (the code flow's back channel), asked for as this
    confidential client with the PKCE verifier of the request that obtained the code."""
    endpoint = verifier_for(settings).discovery().token_endpoint
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier}  # fmt: skip
    return request_token(settings, endpoint, settings.oidc_client_id, form)


def development_person_token(
    settings: AuthSettings, role: Role, member_id: uuid.UUID | None = None, name: str | None = None
) -> str:
    """A person's token from the development issuer's token endpoint (the console's local sign-in, the
    auditor's commands in development); another issuer refuses the grant."""
    endpoint = verifier_for(settings).discovery().token_endpoint
    form = {"grant_type": DEVELOPMENT_GRANT, "role": role.value, "member_id": str(member_id or ""), "name": name or ""}
    return str(request_token(settings, endpoint, settings.oidc_client_id or "ipshare", form)["access_token"])


_service_tokens: dict[tuple[tuple[Any, ...], str], ServiceToken] = {}


def service_token(settings: AuthSettings, service: str) -> ServiceToken:
    """The one `ServiceToken` of this process for a service name and issuer configuration."""
    key = (_configuration(settings), service)
    with _verifiers_lock:
        if key not in _service_tokens:
            _service_tokens[key] = ServiceToken(settings, service)
        return _service_tokens[key]
