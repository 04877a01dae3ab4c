"""The development identity provider: an ES256 key pair kept in the stack's state folder, and the
discovery document, JWKS and token endpoint an OIDC issuer serves, as a small HTTP process.

`ipshare up`, `ipshare demo` and the tests start it; `ipshare token` signs with its key directly.
Its discovery document carries `ipshare_development_issuer: true`, and every service refuses such an
issuer unless `IPSHARE_DEV_MODE=true` (`ipshare.identity.Discovery.refuse_development`). The token
endpoint grants `client_credentials` (a `service` token) to any client with the issuer's client
secret, and, for the console's local sign-in, any person's token (`DEVELOPMENT_GRANT`).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI, Form
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ipshare.auth import Role
from ipshare.identity import DEVELOPMENT_GRANT, DEVELOPMENT_MARK, DISCOVERY_PATH
from ipshare.settings import DEV_MODE_VARIABLE

ALGORITHM = "ES256"
KEY_PREFIX = "dev-"
_SECRET_FILE = "client-secret"


@dataclass
class DevIssuer:
    """Signing keys in a folder (`dev-<n>.pem`, the newest signs), a client secret, and an issuer URL."""

    folder: Path
    url: str
    audience: str = "ipshare"
    ttl_seconds: int = 8 * 3600

    @classmethod
    def open(cls, folder: Path, url: str, audience: str = "ipshare") -> DevIssuer:
        """The issuer whose keys are in `folder`, made there (with one key) the first time."""
        folder.mkdir(parents=True, exist_ok=True)
        issuer = cls(folder, url, audience)
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
            "grant_types_supported": ["client_credentials", DEVELOPMENT_GRANT],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            DEVELOPMENT_MARK: True,
        }

    def mint(self, subject: str, roles: list[str], **claims: Any) -> str:
        """A token signed with the newest key, with the claim names the services read by default."""
        now = int(time.time())
        body = {"iss": self.url, "aud": self.audience, "sub": subject, "roles": roles, "iat": now,
                "exp": now + self.ttl_seconds, **{k: v for k, v in claims.items() if v is not None}}  # fmt: skip
        kid = self.key_ids()[-1]
        return jwt.encode(body, self._private_key(kid), algorithm=ALGORITHM, headers={"kid": kid})

    def person_token(self, role: Role, member_id: uuid.UUID | None = None, name: str | None = None) -> str:
        if role is Role.SERVICE:
            raise ValueError("a person's token cannot have the service role")
        if role is Role.MEMBER and member_id is None:
            raise ValueError("a member token needs the member id")
        subject = str(member_id) if member_id else f"dev-{role.value}"
        return self.mint(subject, [role.value], member_id=str(member_id) if member_id else None, name=name)

    def service_token(self, client_id: str) -> str:
        return self.mint(client_id, [Role.SERVICE.value], azp=client_id)


_client_auth = HTTPBasic(auto_error=False)


def _write_private(path: Path, content: bytes) -> None:
    path.touch(mode=0o600)
    path.write_bytes(content)


def issuer_app(issuer: DevIssuer) -> FastAPI:
    """The issuer's HTTP routes: discovery, JWKS, and the token endpoint."""
    app = FastAPI(title="ipshare development issuer")

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
    ) -> JSONResponse:
        if credentials is None or not secrets.compare_digest(credentials.password, issuer.client_secret):
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
        try:
            if grant_type == "client_credentials":
                access = issuer.service_token(credentials.username)
            elif grant_type == DEVELOPMENT_GRANT:
                access = issuer.person_token(Role(role), uuid.UUID(member_id) if member_id else None, name or None)
            else:
                return _oauth_error(400, "unsupported_grant_type", f"grant {grant_type!r} is not offered")
        except ValueError as exc:
            return _oauth_error(400, "invalid_request", str(exc))
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": issuer.ttl_seconds})

    return app


def _oauth_error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


class DevIssuerSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    ipshare_dev_mode: bool = False
    dev_issuer_dir: Path = Field(Path(".ipshare/issuer"), description="The issuer's keys and client secret")
    dev_issuer_host: str = "127.0.0.1"
    dev_issuer_port: int = 8006
    oidc_audience: str = "ipshare"


def main() -> None:
    settings = DevIssuerSettings()
    if not settings.ipshare_dev_mode:
        raise SystemExit(f"the development issuer runs only with {DEV_MODE_VARIABLE}=true")
    url = f"http://{settings.dev_issuer_host}:{settings.dev_issuer_port}"
    issuer = DevIssuer.open(settings.dev_issuer_dir, url, settings.oidc_audience)
    uvicorn.run(issuer_app(issuer), host=settings.dev_issuer_host, port=settings.dev_issuer_port, log_level="warning")


if __name__ == "__main__":
    main()
