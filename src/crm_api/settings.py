"""Settings, read from the environment (prefix CRM_) or a .env file."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "crm-api-development-secret-change-me-0123456789"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///./var/crm.db",
        description="Event store and read models. sqlite:///PATH or postgresql+psycopg://…",
    )
    jwt_secret: str = Field(DEV_JWT_SECRET, description="HS256 secret for bearer JWTs.")
    jwt_public_key: str | None = Field(
        None, description="PEM public key: when set, JWTs must be RS256-signed by its pair."
    )
    jwt_audience: str | None = Field(None, description="Required `aud` claim, if set.")
    workspace_name: str = Field("live", description="Named in /health and X-Workspace.")
    workspace_training: bool = Field(
        False, description="A training workspace: every user has full rights."
    )
    max_body_bytes: int = Field(1024 * 1024, description="Largest request body.")
    max_batch_body_bytes: int = Field(10 * 1024 * 1024, description="Largest batch body.")
    idempotency_ttl_hours: int = Field(48, description="How long Idempotency-Keys are kept.")
    idempotency_lease_seconds: int = Field(
        60, description="A key in flight longer than this is taken over by a retry."
    )
    read_your_writes_timeout: float = Field(
        2.0, description="Seconds a write waits for the read models to reach its events."
    )
    projection_batch_size: int = Field(500, description="Events applied per transaction.")
    projection_poll_seconds: float = Field(
        1.0, description="Fallback poll when no wake-up arrives."
    )
    graphql_max_depth: int = Field(10, description="Deepest GraphQL query accepted.")
    graphql_max_complexity: int = Field(
        5000, description="GraphQL cost budget (fields weighted by page sizes)."
    )
    graphql_max_aliases: int = Field(30, description="Most aliases in one GraphQL document.")
    projection_lag_budget_seconds: float = Field(
        60.0,
        description="/ready fails when a projection's oldest unapplied event is older than this.",
    )
    log_level: str = Field("INFO", description="Log level of the JSON logs on stdout.")
    webhook_allow: str = Field(
        "",
        description="Hosts or CIDRs (comma-separated) webhooks may reach although they are "
        "private, loopback, link-local or reserved, e.g. `10.1.2.0/24,erp.internal`.",
    )
    webhook_delivery: bool = Field(
        True, description="Send webhook deliveries from this process's workers."
    )
    webhook_max_attempts: int = Field(
        12, ge=1, description="Attempts per webhook delivery before it is marked failed."
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a webhook receiver has to answer one delivery."
    )
    webhook_secret_grace_hours: float = Field(
        24.0, ge=0, description="How long a rotated-out webhook secret keeps signing."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
