"""Settings read from the environment, documented in one place.

Every setting is an environment variable of the same name in upper case
(`HTTP_PORT`, `KAFKA_BOOTSTRAP_SERVERS`, ...). `docs/settings.md` lists them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "ipshare-local-development-secret-change-me"
DEV_MODE_VARIABLE = "IPSHARE_DEV_MODE"


class AuthSettings(BaseSettings):
    """Who signs the bearer tokens a service accepts, and how their claims name a role and a member.

    With `OIDC_ISSUER` set, tokens are the issuer's, signed with its asymmetric keys (found through
    OIDC discovery). Without it, tokens are HS256 with `JWT_SECRET`: development only."""

    model_config = SettingsConfigDict(extra="ignore")

    ipshare_dev_mode: bool = Field(
        False, description="Development mode: allows the HS256 secret, the development issuer and derived keys"
    )
    oidc_issuer: str = Field("", description="The identity provider's issuer URL; empty: HS256 with JWT_SECRET")
    oidc_audience: str = Field("ipshare", description="The audience (`aud`) every accepted token must name")
    oidc_algorithms: list[str] = Field(["RS256", "ES256", "EdDSA"], description="Signature algorithms accepted")
    oidc_leeway_seconds: int = Field(30, ge=0, description="Clock skew allowed on `exp`, `nbf` and `iat`")
    oidc_jwks_cache_seconds: float = Field(300.0, gt=0, description="How long the issuer's key set is kept")
    oidc_jwks_refetch_seconds: float = Field(
        10.0, ge=0, description="An unknown `kid` refetches the key set at most this often (key rotation)"
    )
    oidc_timeout_seconds: float = Field(5.0, gt=0, description="How long a call to the issuer may take")
    oidc_roles_claim: str = Field(
        "roles", description="Dotted path of the claim listing roles (Keycloak: realm_access.roles)"
    )
    oidc_role_prefix: str = Field("", description="Prefix of ipshare's roles in that claim (e.g. `ipshare-`)")
    oidc_member_claim: str = Field("member_id", description="Dotted path of the claim naming the member acted for")
    oidc_name_claim: str = Field("name", description="Dotted path of the claim with the display name")
    oidc_client_id: str = Field("", description="This service's client id, for its own (client credentials) tokens")
    oidc_client_secret: str = Field("", repr=False, description="This service's client secret at the issuer")
    jwt_secret: str = Field(
        DEV_JWT_SECRET, min_length=32, repr=False, description="Development only: HMAC key of HS256 tokens"
    )
    jwt_issuer: str = "ipshare"
    jwt_ttl_seconds: int = 8 * 3600

    @property
    def uses_issuer(self) -> bool:
        return bool(self.oidc_issuer)

    def refuse_development_auth(self) -> None:
        """Start-up check: outside development mode the shared secret cannot sign or check tokens."""
        if not self.ipshare_dev_mode and not self.uses_issuer:
            raise ValueError(
                f"HS256 tokens with JWT_SECRET are for development only: set OIDC_ISSUER, or {DEV_MODE_VARIABLE}=true"
            )


class WebSettings(AuthSettings):
    """How the HTTP layer treats writes: retries of version clashes, and idempotency keys."""

    write_retry_attempts: int = Field(
        10, ge=1, description="Runs of a write that lost a version clash before answering 409 (1: never re-run)"
    )
    idempotency_key_ttl_seconds: int = Field(
        24 * 3600, ge=60, description="How long an Idempotency-Key replays its answer; later it is a new request"
    )
    idempotency_lease_seconds: int = Field(
        120, ge=1, description="After this, a key whose request never answered (a crash) may be run again"
    )


class BusSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    kafka_enable_idempotence: bool = Field(
        False, description="Idempotent producer; on for Apache Kafka, off for brokers that lack InitProducerId"
    )
    topic_partitions: int = Field(3, ge=1, description="Partitions of each topic created at start-up")
    topic_replication_factor: int = Field(1, ge=1)
    max_message_bytes: int = Field(1_000_000, description="Largest envelope the relay will publish")
    kafka_session_timeout_ms: int = 6000
    kafka_heartbeat_interval_ms: int = 2000


class ServiceAddresses(BaseSettings):
    """Where the four services are: gRPC for calls between services, HTTP for people and the console."""

    model_config = SettingsConfigDict(extra="ignore")

    ip_registry_grpc_address: str = "127.0.0.1:8101"
    commercialization_grpc_address: str = "127.0.0.1:8102"
    incubation_grpc_address: str = "127.0.0.1:8103"
    revenue_share_grpc_address: str = "127.0.0.1:8104"
    ip_registry_url: str = "http://127.0.0.1:8001"
    commercialization_url: str = "http://127.0.0.1:8002"
    incubation_url: str = "http://127.0.0.1:8003"
    revenue_share_url: str = "http://127.0.0.1:8004"

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


class ServiceSettings(WebSettings, BusSettings, ServiceAddresses):
    """What every service process reads; services subclass it for their own."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        description="This service's own database; created at start-up if missing",
    )
    migrate_on_start: bool = Field(
        True,
        description="Apply the schema's migrations at start-up (under a lock: replicas migrate once); false: "
        "run `ipshare-<service> migrate` as a deploy step, and start-up refuses a database that is behind",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8100
    relay_poll_seconds: float = Field(0.2, gt=0, description="How often the relay looks for new events")
    relay_batch_size: int = Field(1000, ge=1)
    relay_topic_check_seconds: float = Field(
        5.0, gt=0, description="How often the relay checks that the broker still has its topic (refilled if lost)"
    )
    leader_retry_seconds: float = Field(
        1.0, gt=0, description="How often a standby replica tries to become the leader of the single-writer loops"
    )
    event_store_pool_size: int = Field(
        10, ge=1, description="Event store connections each process keeps open (as many again under load)"
    )
    snapshot_interval: int = Field(100, ge=0, description="Snapshot an aggregate every N events (0: never)")
    log_level: str = "INFO"
    log_json: bool = True
    audit_signing_key: str = Field(
        "",
        repr=False,
        description="Ed25519 key signing this service's audit checkpoints: PEM (PKCS#8) or base64 of the "
        "32-byte seed; empty: derived from JWT_SECRET and the service name (only in development mode)",
    )
    audit_checkpoint_seconds: float = Field(30.0, gt=0, description="How often a new checkpoint is signed")
    audit_poll_seconds: float = Field(1.0, gt=0, description="How often new events are chained (also on each save)")
