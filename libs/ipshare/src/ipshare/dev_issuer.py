"""The development identity provider: an ES256 key pair kept in the stack's state folder, and the
discovery document, JWKS, authorization and token endpoints an OIDC issuer serves, as a small HTTP
process.

`ipshare up`, `ipshare demo` and the tests start it; `ipshare token` signs with its key directly.
Its discovery document carries `ipshare_development_issuer: true`, and every service refuses such an
issuer unless `IPSHARE_DEV_MODE=true` (`ipshare.identity.Discovery.refuse_development`). The token
endpoint grants `client_credentials` (a `service` token) to any client with the issuer's client
secret, and, for the console's local sign-in, any person's token (`DEVELOPMENT_GRANT`). Its
authorization endpoint lets whoever opens it pick a development person (a role, a member, a name) and
sends the browser back with a code; the token endpoint trades the code (`authorization_code`, PKCE
S256 only, once, within a minute, for the client and redirect URI it was issued to) for an access
token and an ID token, so the console signs in locally through the same flow as at a real provider.

Its end-session endpoint (OpenID Connect RP-Initiated Logout 1.0) is where the console sends the browser
on sign-out. The issuer keeps no session of its own (its authorization page asks who to be every
time), so there is nothing to end there; it checks the request as a provider must, though: an
`id_token_hint` it signed itself, and a `post_logout_redirect_uri` among its registered redirect
addresses (`DEV_ISSUER_REDIRECT_URIS`), else a 400 page and no redirect.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ipshare.auth import Role
from ipshare.identity import DEVELOPMENT_GRANT, DEVELOPMENT_MARK, DISCOVERY_PATH, pkce_challenge
from ipshare.settings import DEV_MODE_VARIABLE

ALGORITHM = "ES256"
KEY_PREFIX = "dev-"
_SECRET_FILE = "client-secret"
# The auditor's command-line client: its client credentials get an auditor's token, not a service's.
AUDITOR_CLIENT = "ipshare-auditor"
CODE_TTL_SECONDS = 60  # an authorization code is redeemed right after the redirect, or never
END_SESSION_PATH = "/end-session"


class GrantRefused(ValueError):
    """An authorization code that cannot be redeemed (OAuth's `invalid_grant`)."""


class LogoutRefused(ValueError):
    """An end-session request the issuer does not follow: it sends the browser nowhere."""


@dataclass(frozen=True)
class CodeGrant:
    """What an authorization code stands for until it is redeemed: who signed in, for which client
    and redirect URI, and the PKCE challenge the redeemer must answer."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    role: Role
    member_id: uuid.UUID | None
    name: str | None
    expires_at: float


@dataclass
class DevIssuer:
    """Signing keys in a folder (`dev-<n>.pem`, the newest signs), a client secret, and an issuer URL."""

    folder: Path
    url: str
    audience: str = "ipshare"
    ttl_seconds: int = 8 * 3600
    # The addresses its clients registered; a post-logout redirect must be one of them exactly.
    redirect_uris: frozenset[str] = frozenset()
    _codes: dict[str, CodeGrant] = field(default_factory=dict, repr=False)
    _codes_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, folder: Path, url: str, audience: str = "ipshare", redirect_uris: Iterable[str] = ()) -> DevIssuer:
        """The issuer whose keys are in `folder`, made there (with one key) the first time."""
        folder.mkdir(parents=True, exist_ok=True)
        issuer = cls(folder, url, audience, redirect_uris=frozenset(redirect_uris))
        if not issuer.key_ids():
            issuer.rotate()
        secret = folder / _SECRET_FILE
        if not secret.exists():
            _write_private(secret, secrets.token_urlsafe(32).encode())
        return issuer

    @property
    def client_secret(self) -> str:
        return (self.folder / _SECRET_FILE).read_text().strip()

    def key_ids(self) -> list[str]:
        """Oldest first."""
        return sorted((p.stem for p in self.folder.glob(f"{KEY_PREFIX}*.pem")), key=lambda kid: int(kid[4:]))

    def rotate(self) -> str:
        """A new signing key; the older ones stay in the JWKS until retired."""
        ids = self.key_ids()
        kid = f"{KEY_PREFIX}{int(ids[-1][4:]) + 1 if ids else 1}"
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_private(self.folder / f"{kid}.pem", pem)
        return kid

    def retire(self, kid: str) -> None:
        """Take a key out of the JWKS: tokens it signed are refused once services refetch the set."""
        (self.folder / f"{kid}.pem").unlink()

    def _private_key(self, kid: str) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key((self.folder / f"{kid}.pem").read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.key_ids():
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self._private_key(kid).public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": keys}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks",
            "token_endpoint": f"{self.url}/token",
            "authorization_endpoint": f"{self.url}/authorize",
            "end_session_endpoint": f"{self.url}{END_SESSION_PATH}",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "grant_types_supported": ["authorization_code", "client_credentials", DEVELOPMENT_GRANT],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            DEVELOPMENT_MARK: True,
        }

    def mint(self, subject: str, roles: list[str], **claims: Any) -> str:
        """A token signed with the newest key, with the claim names the services read by default."""
        return self._sign({"aud": self.audience, "sub": subject, "roles": roles, **claims})

    def _sign(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        body = {"iss": self.url, "iat": now, "exp": now + self.ttl_seconds,
                **{k: v for k, v in claims.items() if v is not None}}  # fmt: skip
        kid = self.key_ids()[-1]
        return jwt.encode(body, self._private_key(kid), algorithm=ALGORITHM, headers={"kid": kid})

    def person_token(self, role: Role, member_id: uuid.UUID | None = None, name: str | None = None) -> str:
        subject = _person_subject(role, member_id)
        return self.mint(subject, [role.value], member_id=str(member_id) if member_id else None, name=name)

    def id_token(self, client_id: str, nonce: str, role: Role, member_id: uuid.UUID | None, name: str | None) -> str:
        """The ID token of a sign-in: addressed to the client, carrying the nonce it sent."""
        return self._sign({"aud": client_id, "sub": _person_subject(role, member_id), "nonce": nonce, "name": name,
                           "auth_time": int(time.time())})  # fmt: skip

    def authorize(self, grant: CodeGrant) -> str:
        """A new single-use code for a sign-in."""
        code = secrets.token_urlsafe(32)
        with self._codes_lock:
            now = time.time()
            for stale in [c for c, g in self._codes.items() if g.expires_at < now]:
                del self._codes[stale]
            self._codes[code] = grant
        return code

    def redeem(self, code: str, client_id: str, redirect_uri: str, code_verifier: str) -> tuple[str, str]:
        """The access and ID tokens of a code, once: for the client and redirect URI it was issued to,
        with the verifier whose S256 challenge came with the authorization request."""
        with self._codes_lock:
            grant = self._codes.pop(code, None)  # a code tried once is spent, right or wrong
        if grant is None or grant.expires_at < time.time():
            raise GrantRefused("unknown, used or expired authorization code")
        if grant.client_id != client_id or grant.redirect_uri != redirect_uri:
            raise GrantRefused("the code was issued to another client or redirect URI")
        if not code_verifier or not secrets.compare_digest(pkce_challenge(code_verifier), grant.code_challenge):
            raise GrantRefused("the PKCE code verifier does not match the code challenge")
        access = self.person_token(grant.role, grant.member_id, grant.name)
        return access, self.id_token(client_id, grant.nonce, grant.role, grant.member_id, grant.name)

    def check_logout(self, id_token_hint: str, client_id: str, post_logout_redirect_uri: str) -> None:
        """Refuses an end-session request whose hint this issuer did not sign for the client, or whose
        post-logout address is not registered: following it would make the issuer an open redirect."""
        audiences = self._hinted_clients(id_token_hint) if id_token_hint else []
        if client_id and audiences and client_id not in audiences:
            raise LogoutRefused("the id_token_hint was issued to another client than client_id")
        if not post_logout_redirect_uri:
            return
        if not (client_id or audiences):
            raise LogoutRefused("a post_logout_redirect_uri needs an id_token_hint or a client_id")
        if post_logout_redirect_uri not in self.redirect_uris:
            raise LogoutRefused("the post_logout_redirect_uri is not registered for the client")

    def _hinted_clients(self, id_token: str) -> list[str]:
        """The clients an ID token of this issuer was given to. Expiry is not checked: an expired ID
        token still names the sign-in to end (RP-Initiated Logout 1.0, section 2)."""
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            if kid not in self.key_ids():
                raise LogoutRefused("the id_token_hint was not signed by this issuer")
            claims = jwt.decode(id_token, self._private_key(kid).public_key(), algorithms=[ALGORITHM],
                                issuer=self.url, options={"verify_aud": False, "verify_exp": False})  # fmt: skip
        except jwt.InvalidTokenError as exc:
            raise LogoutRefused(f"the id_token_hint is not an ID token of this issuer: {exc}") from exc
        audience = claims.get("aud")
        return [audience] if isinstance(audience, str) else [str(a) for a in audience or []]

    def service_token(self, client_id: str) -> str:
        """A client's own token: the role `service`, or for the auditor's client (`AUDITOR_CLIENT`) the
        auditor's, as a provider's service account holding the auditor role gets."""
        if client_id == AUDITOR_CLIENT:
            return self.mint(client_id, [Role.AUDITOR.value], azp=client_id, name="ipshare verify")
        return self.mint(client_id, [Role.SERVICE.value], azp=client_id)


def _person_subject(role: Role, member_id: uuid.UUID | None) -> str:
    if role is Role.SERVICE:
        raise ValueError("a person's token cannot have the service role")
    if role is Role.MEMBER and member_id is None:
        raise ValueError("a member token needs the member id")
    return str(member_id) if member_id else f"dev-{role.value}"


_client_auth = HTTPBasic(auto_error=False)


def _write_private(path: Path, content: bytes) -> None:
    path.touch(mode=0o600)
    path.write_bytes(content)


def issuer_app(issuer: DevIssuer) -> FastAPI:
    """The issuer's HTTP routes: discovery, JWKS, the authorization page and the token endpoint."""
    app = FastAPI(title="ipshare development issuer")

    @app.get("/authorize")
    def authorization_page(request: Request) -> Response:
        params = dict(request.query_params)
        problem = _authorization_problem(params)
        if problem:
            return HTMLResponse(_page(f"<p role='alert'>{html.escape(problem)}</p>"), status_code=400)
        return HTMLResponse(_person_form(params, ""))

    @app.post("/authorize")
    async def authorized(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        params = {k: form.get(k, "") for k in _AUTHORIZATION_PARAMETERS}
        problem = _authorization_problem(params)
        if problem:
            return HTMLResponse(_page(f"<p role='alert'>{html.escape(problem)}</p>"), status_code=400)
        if form.get("decision") == "cancel":
            return _back(params, error="access_denied")
        try:
            role = Role(form.get("role", ""))
            member_id = uuid.UUID(form["member_id"].strip()) if form.get("member_id", "").strip() else None
            _person_subject(role, member_id)
        except ValueError as exc:
            return HTMLResponse(_person_form(params, str(exc)), status_code=422)
        grant = CodeGrant(client_id=params["client_id"], redirect_uri=params["redirect_uri"],
                          code_challenge=params["code_challenge"], nonce=params["nonce"], role=role,
                          member_id=member_id if role is Role.MEMBER else None,
                          name=form.get("name", "").strip() or None,
                          expires_at=time.time() + CODE_TTL_SECONDS)  # fmt: skip
        return _back(params, code=issuer.authorize(grant))

    @app.api_route(END_SESSION_PATH, methods=["GET", "POST"])
    async def end_session(request: Request) -> Response:
        """RP-initiated logout: no session to end here (see the module's docstring), so the browser goes
        straight back to the client's registered address, with its state."""
        params = dict(request.query_params)
        if request.method == "POST":
            params |= {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        back = params.get("post_logout_redirect_uri", "")
        try:
            issuer.check_logout(params.get("id_token_hint", ""), params.get("client_id", ""), back)
        except LogoutRefused as exc:
            return HTMLResponse(_page(f"<p role='alert'>{html.escape(str(exc))}</p>"), status_code=400)
        if not back:
            return HTMLResponse(_page("<p>You are signed out.</p>"))
        state = params.get("state", "")
        return _back({"redirect_uri": back, "state": state} if state else {"redirect_uri": back})

    @app.get(DISCOVERY_PATH)
    def discovery() -> dict[str, Any]:
        return issuer.discovery()

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return issuer.jwks()

    @app.post("/token")
    def token(
        credentials: Annotated[HTTPBasicCredentials | None, Depends(_client_auth)],
        grant_type: Annotated[str, Form()],
        role: Annotated[str, Form()] = "",
        member_id: Annotated[str, Form()] = "",
        name: Annotated[str, Form()] = "",
        code: Annotated[str, Form()] = "",
        redirect_uri: Annotated[str, Form()] = "",
        code_verifier: Annotated[str, Form()] = "",
    ) -> JSONResponse:
        if credentials is None or not secrets.compare_digest(credentials.password, issuer.client_secret):
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
        try:
            if grant_type == "authorization_code":
                access, id_token = issuer.redeem(code, credentials.username, redirect_uri, code_verifier)
                return JSONResponse({"access_token": access, "id_token": id_token, "token_type": "Bearer",
                                     "expires_in": issuer.ttl_seconds, "scope": "openid profile"})  # fmt: skip
            if grant_type == "client_credentials":
                access = issuer.service_token(credentials.username)
            elif grant_type == DEVELOPMENT_GRANT:
                access = issuer.person_token(Role(role), uuid.UUID(member_id) if member_id else None, name or None)
            else:
                return _oauth_error(400, "unsupported_grant_type", f"grant {grant_type!r} is not offered")
        except GrantRefused as exc:
            return _oauth_error(400, "invalid_grant", str(exc))
        except ValueError as exc:
            return _oauth_error(400, "invalid_request", str(exc))
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": issuer.ttl_seconds})

    return app


_AUTHORIZATION_PARAMETERS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                             "code_challenge", "code_challenge_method")  # fmt: skip


def _authorization_problem(params: dict[str, str]) -> str:
    """Why an authorization request cannot be served; empty when it can. The page never redirects a
    request it refuses: its redirect URI is not to be trusted."""
    if params.get("response_type") != "code":
        return "only response_type=code is offered"
    if not params.get("client_id"):
        return "the request names no client_id"
    target = urlsplit(params.get("redirect_uri", ""))
    if target.scheme not in {"http", "https"} or not target.netloc or target.fragment:
        return "redirect_uri must be an absolute http(s) URL without a fragment"
    if "openid" not in params.get("scope", "").split():
        return "the scope must include openid"
    if not params.get("state") or not params.get("nonce"):
        return "state and nonce are required"
    if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
        return "PKCE is required: a code_challenge with code_challenge_method=S256"
    return ""


def _back(params: dict[str, str], **answer: str) -> RedirectResponse:
    """The browser back to the client with the code (or the error) and the client's state, if any."""
    target = urlsplit(params["redirect_uri"])
    state = {"state": params["state"]} if "state" in params else {}
    query = "&".join(q for q in (target.query, urlencode({**answer, **state})) if q)
    return RedirectResponse(urlunsplit(target._replace(query=query)), status_code=303)


def _person_form(params: dict[str, str], problem: str) -> str:
    hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(params.get(k, ""))}">'
                     for k in _AUTHORIZATION_PARAMETERS)  # fmt: skip
    roles = "".join(f'<option value="{r.value}">{r.value}</option>' for r in Role if r is not Role.SERVICE)
    alert = f"<p role='alert'>{html.escape(problem)}</p>" if problem else ""
    return _page(f"""{alert}
<p>Signing in to <b>{html.escape(params["client_id"])}</b>. Pick the development person to be:</p>
<form method="post" action="/authorize">{hidden}
<p><label>Role <select name="role" required><option value="">Choose…</option>{roles}</select></label></p>
<p><label>Member id (IP officers only) <input name="member_id" size="40"></label></p>
<p><label>Name <input name="name" size="40" placeholder="shown in the audit history"></label></p>
<p><button type="submit" name="decision" value="sign-in">Sign in</button>
<button type="submit" name="decision" value="cancel" formnovalidate>Cancel</button></p>
</form>""")


def _page(body: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ipshare development issuer</title></head>
<body><main><h1>ipshare development issuer</h1>
<p>For development only: anyone here may sign in as anyone.</p>{body}</main></body></html>"""


def _oauth_error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


class DevIssuerSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    ipshare_dev_mode: bool = False
    dev_issuer_dir: Path = Field(Path(".ipshare/issuer"), description="The issuer's keys and client secret")
    dev_issuer_host: str = "127.0.0.1"
    dev_issuer_port: int = 8006
    dev_issuer_redirect_uris: str = Field(
        "",
        description="Its clients' registered redirect addresses, comma-separated: where it sends a browser "
        "after signing out",
    )
    oidc_audience: str = "ipshare"

    @property
    def redirect_uris(self) -> frozenset[str]:
        return frozenset(uri.strip() for uri in self.dev_issuer_redirect_uris.split(",") if uri.strip())


def main() -> None:
    settings = DevIssuerSettings()
    if not settings.ipshare_dev_mode:
        raise SystemExit(f"the development issuer runs only with {DEV_MODE_VARIABLE}=true")
    url = f"http://{settings.dev_issuer_host}:{settings.dev_issuer_port}"
    issuer = DevIssuer.open(settings.dev_issuer_dir, url, settings.oidc_audience, settings.redirect_uris)
    uvicorn.run(issuer_app(issuer), host=settings.dev_issuer_host, port=settings.dev_issuer_port, log_level="warning")


if __name__ == "__main__":
    main()
