"""Settings, read from the environment (prefix CRM_) or a .env file."""

from __future__ import annotations

from functools import lru_cache

from limits import parse_many
from pydantic import Field, field_validator
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
    workspace_name: str = Field(
        "live",
        description="Named in /health, X-Workspace and X-CRM-Workspace (a training "
        "workspace made by `crm-api workspace fork` is named by its marker instead).",
    )
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
    rate_limit: str = Field(
        "600/minute",
        description="Requests each client may send (REST and GraphQL; /health, /ready and "
        "/metrics exempt), in a moving window, e.g. `600/minute` or `600/minute;50/second` "
        "(all apply). A client is the authenticated user or API key, else the client IP. "
        "Past it: 429 `rate_limited` with Retry-After. Empty or `off`: no limit.",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where the rate-limit windows are counted: `memory://` (per process) or "
        "`redis://HOST:PORT` (shared by every API process; install the `redis` extra).",
    )
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
    smtp_host: str | None = Field(
        None,
        description="SMTP server for customer notifications of service requests. Unset: they "
        "are recorded (event feed, webhooks, outbox table) but not sent by email.",
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP server port.")
    smtp_from: str = Field(
        "service@localhost", description="Sender address of customer notification emails."
    )
    smtp_timeout_seconds: float = Field(10.0, gt=0, description="SMTP connect/send timeout.")
    cipher_key: str | None = Field(
        None,
        description="Encrypts every stored event and snapshot (AES-GCM, the eventsourcing "
        "library's cipher): base64 of 16, 24 or 32 bytes, e.g. from `crm-api new-key`. Unset: "
        "payloads are stored in clear (personal fields of contacts are sealed either way).",
    )
    export_daily_cap: int = Field(
        20, ge=1, description="Exports (accounts or contacts downloads) per user per UTC day."
    )
    cors_origins: str = Field(
        "",
        description="Front-end origins (comma-separated, e.g. `https://crm.example.com`) allowed "
        "to call the API from a browser. Empty: no cross-origin access.",
    )
    hsts: bool = Field(
        False,
        description="Send Strict-Transport-Security on every response (TLS ends at a proxy); "
        "it is always sent on requests that arrive over https.",
    )
    dormancy_days: int = Field(
        90, ge=1, description="Days without an order after which an account is dormant (alert)."
    )
    dormancy_days_by_grade: str = Field(
        "",
        description="Dormancy days per manual grade, e.g. `A=60,B=90,C=120,D=180`; grades not "
        "named (and accounts without a grade) use CRM_DORMANCY_DAYS.",
    )
    watcher_tick_seconds: float = Field(
        60.0, gt=0, description="How often the watchers look for due alerts (dormancy, SLA)."
    )
    grade_window_days: int = Field(
        365, ge=1, description="Automatic grading: the trailing window of orders (RFM), in days."
    )
    grade_recency_days: str = Field(
        "30,90,180", description="Automatic grading: recency thresholds in days (ascending)."
    )
    grade_frequency: str = Field(
        "12,6,3", description="Automatic grading: order-count thresholds (descending)."
    )
    grade_monetary: str = Field(
        "100000,25000,5000", description="Automatic grading: revenue thresholds (descending)."
    )
    blob_dir: str = Field(
        "./var/blobs",
        description="Where attachments, call recordings and inbound email parts are stored "
        "(content-addressed by sha256).",
    )
    max_attachment_bytes: int = Field(
        25 * 1024 * 1024, ge=1, description="Largest attachment or call recording (one file)."
    )
    max_inbound_email_bytes: int = Field(
        40 * 1024 * 1024,
        ge=1,
        description="Largest raw inbound email (attachments base64-encoded inside it).",
    )
    attachment_types: str = Field(
        "application/pdf,image/png,image/jpeg,image/gif,image/webp,text/plain,text/csv,"
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
        "application/msword,application/vnd.ms-excel,"
        "audio/mpeg,audio/wav,audio/x-wav,audio/ogg,audio/mp4,audio/webm",
        description="Content types (comma-separated) accepted for attachments; call "
        "recordings must be one of the audio/… types among them.",
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        if value.strip() and value.strip().lower() != "off":
            parse_many(value)  # a ValueError names the string it could not read
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
