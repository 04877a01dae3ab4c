"""The console's settings, read from the environment like every service's (docs/settings.md lists them)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ipshare.settings import AuthSettings


class ConsoleSettings(AuthSettings):
    model_config = SettingsConfigDict(extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8005
    console_secure_cookies: bool = Field(
        False, description="Mark the console's cookies Secure (on behind HTTPS; off for http://127.0.0.1)"
    )
    console_local_sign_in: bool = Field(
        True, description="Offer the development sign-in (pick a role and a member); off where an SSO fronts it"
    )
    console_time_zone: str = Field("Asia/Shanghai", description="Time zone the console shows timestamps in")
    console_pdf_font: str = Field(
        "", description="A TrueType font with CJK glyphs for the printable statements; empty: look for a Debian one"
    )
    console_api_timeout_seconds: float = Field(30.0, gt=0, description="How long the console waits for a service")
    ip_registry_url: str = "http://127.0.0.1:8001"
    commercialization_url: str = "http://127.0.0.1:8002"
    incubation_url: str = "http://127.0.0.1:8003"
    revenue_share_url: str = "http://127.0.0.1:8004"
    # The auditor's verification reads each log over gRPC, as `ipshare verify` does.
    ip_registry_grpc_address: str = "127.0.0.1:8101"
    commercialization_grpc_address: str = "127.0.0.1:8102"
    incubation_grpc_address: str = "127.0.0.1:8103"
    revenue_share_grpc_address: str = "127.0.0.1:8104"
    log_level: str = "INFO"
    log_json: bool = True

    def service_urls(self) -> dict[str, str]:
        return {
            "ip-registry": self.ip_registry_url,
            "commercialization": self.commercialization_url,
            "incubation": self.incubation_url,
            "revenue-share": self.revenue_share_url,
        }

    def grpc_addresses(self) -> dict[str, str]:
        return {
            "ip-registry": self.ip_registry_grpc_address,
            "commercialization": self.commercialization_grpc_address,
            "incubation": self.incubation_grpc_address,
            "revenue-share": self.revenue_share_grpc_address,
        }
