"""The console's settings, read from the environment like every service's (docs/settings.md lists them)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ipshare.settings import AuthSettings, ServiceAddresses


class ConsoleSettings(AuthSettings, ServiceAddresses):
    """The console reads the services' addresses as the services do (the auditor's verification uses gRPC)."""

    model_config = SettingsConfigDict(extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8005
    console_secure_cookies: bool = Field(
        False, description="Mark the console's cookies Secure (on behind HTTPS; off for http://127.0.0.1)"
    )
    console_public_url: str = Field(
        "",
        description="The console's address as browsers reach it (https://ipshare.example.org): the sign-in's "
        "redirect URI is this plus /sign-in/callback; empty: the address a request came to",
    )
    console_oidc_scope: str = Field("openid profile", description="The scopes the console asks the provider for")
    console_local_sign_in: bool = Field(
        True, description="Offer the development sign-in (pick a role and a member); only in development mode"
    )
    console_time_zone: str = Field("Asia/Shanghai", description="Time zone the console shows timestamps in")
    console_pdf_font: str = Field(
        "", description="A TrueType font with CJK glyphs for the printable statements; empty: look for a Debian one"
    )
    console_api_timeout_seconds: float = Field(30.0, gt=0, description="How long the console waits for a service")
    log_level: str = "INFO"
    log_json: bool = True

    @property
    def local_sign_in(self) -> bool:
        """Anyone may sign in as anyone there: never outside development mode."""
        return self.console_local_sign_in and self.ipshare_dev_mode

    @property
    def provider_sign_in(self) -> bool:
        """People sign in at the identity provider wherever the console is its client there."""
        return self.uses_issuer and bool(self.oidc_client_id)

    @property
    def csrf_secret(self) -> str:
        """What the CSRF key is derived from: the console's client secret at the issuer, a secret of
        this deployment; JWT_SECRET (a development value) only without one."""
        return self.oidc_client_secret or self.jwt_secret
