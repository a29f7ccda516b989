"""The control plane's configuration: the one place that reads the environment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from control_plane.db import normalize_url

EMAIL_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
"""What an email address must look like here (the same shape as a team member's `email`)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COSTORY_")

    database_url: str = "sqlite:///costory.db"
    """SQLAlchemy URL of the database (env `COSTORY_DATABASE_URL`).

    Defaults to a SQLite file `costory.db` in the working directory. For PostgreSQL use
    `postgresql+psycopg://user:password@host/db`; `postgresql://` and `postgres://` are accepted and
    rewritten to the psycopg driver."""

    grpc_address: str = "127.0.0.1:50051"
    """`host:port` the gRPC server listens on (env `COSTORY_GRPC_ADDRESS`); port 0 picks a free port."""

    http_address: str = "127.0.0.1:8080"
    """`host:port` of the REST API (FastAPI, OpenAPI at `/openapi.json`) served next to gRPC
    (env `COSTORY_HTTP_ADDRESS`)."""

    aws_region: str = "us-east-1"
    """Region for STS, IAM and S3 clients (env `COSTORY_AWS_REGION`)."""

    aws_endpoint_url: str | None = None
    """Send STS, IAM and S3 calls to this endpoint instead of AWS, e.g. a moto server
    `http://127.0.0.1:5000` (env `COSTORY_AWS_ENDPOINT_URL`). An emulator hands out credentials for any
    token, so with an endpoint set the control plane also reads the role's trust policy (IAM GetRole)
    and checks it itself; against real AWS, STS enforces the policy."""

    sts_enforces_trust: bool | None = None
    """Whether STS evaluates the role's trust policy itself (env `COSTORY_STS_ENFORCES_TRUST`). Unset:
    yes against AWS, no when `aws_endpoint_url` is set (an emulator), in which case the control plane
    reads the policy with IAM GetRole and evaluates it."""

    trust_validation: Literal["enforce", "skip"] = "enforce"
    """`enforce` (default): a datasource is saved only once its role trusts the tenant's Google identity
    and its bucket is readable. `skip` saves without checking — for offline development only
    (env `COSTORY_TRUST_VALIDATION`)."""

    sts_retry_attempts: int = 5
    """AccessDenied from STS right after a role is created (IAM propagation) is retried this many times
    in all (env `COSTORY_STS_RETRY_ATTEMPTS`); with the default backoff that waits up to 15 s."""

    sts_retry_base_seconds: float = 1.0
    """First backoff delay between those retries; it doubles each time (env `COSTORY_STS_RETRY_BASE_SECONDS`)."""

    google_token_uri: str | None = None
    """OAuth 2.0 token endpoint used to obtain Google ID tokens (env `COSTORY_GOOGLE_TOKEN_URI`). Unset:
    keys generated here use the control plane's own loopback endpoint, and configured Google keys use
    the `token_uri` in their key file (Google's)."""

    google_key_pool_dir: Path | None = None
    """Directory of real Google service-account key files (JSON); each new tenant is assigned an unused
    one (env `COSTORY_GOOGLE_KEY_POOL_DIR`). Unset: each tenant gets an identity generated here."""

    id_token_audience: str = "sts.amazonaws.com"
    """Audience of the Google ID tokens presented to STS (env `COSTORY_ID_TOKEN_AUDIENCE`)."""

    scheduler_enabled: bool = True
    """Run the daily import scheduler inside `serve` (env `COSTORY_SCHEDULER_ENABLED`)."""

    schedule_hour_utc: int = 6
    """Hour of the day (UTC) at which each datasource's daily import is due (env `COSTORY_SCHEDULE_HOUR_UTC`)."""

    scheduler_poll_seconds: float = 30.0
    """How often the scheduler looks for due runs (env `COSTORY_SCHEDULER_POLL_SECONDS`)."""

    lease_seconds: float = 600.0
    """How long a claimed run stays owned by a process without renewal; after that another process takes
    it over (env `COSTORY_LEASE_SECONDS`)."""

    import_retry_attempts: int = 5
    """Transient import failures are retried this many times in all, with exponential backoff
    (env `COSTORY_IMPORT_RETRY_ATTEMPTS`)."""

    import_retry_base_seconds: float = 60.0
    """First backoff delay for a failed scheduled run; doubles each attempt
    (env `COSTORY_IMPORT_RETRY_BASE_SECONDS`)."""

    data_dir: Path = Path("costory-data")
    """Directory for columnar data: normalized cost partitions (Parquet) and allocation results
    (env `COSTORY_DATA_DIR`). Relative paths are resolved against the working directory."""

    data_url: str | None = None
    """Keep the columnar data in S3-compatible object storage instead: `s3://bucket/prefix` (env
    `COSTORY_DATA_URL`). Every `serve` replica on one database must name the same URL; credentials come from
    the default AWS chain (`AWS_ACCESS_KEY_ID`…, a profile, an instance role). Unset: `data_dir`."""

    engine: Literal["local", "ray"] = "local"
    """Where allocations are computed (env `COSTORY_ENGINE`): `local`, in the process that saves or recomputes
    the dimension, one cost partition after another in bounded batches; `ray`, the same kernel per cost
    partition as tasks on a Ray cluster (`ray_address`), for bills that outgrow one machine. Both give the same
    results to the cent."""

    ray_address: str | None = None
    """The Ray cluster for `engine = "ray"` (env `COSTORY_RAY_ADDRESS`): `ray://head:10001` (Ray Client), or
    `head:6379` / `auto` from a node of the cluster. Every worker must reach the data store (`data_url`)."""

    data_endpoint_url: str | None = None
    """The S3-compatible endpoint of `data_url` when it is not AWS, e.g. `http://127.0.0.1:9000` for MinIO or
    a moto server (env `COSTORY_DATA_ENDPOINT_URL`)."""

    # -- the API edge: request limits and concurrency (control_plane/limits.py, control_plane/admission.py) --

    max_request_bytes: int = 1 << 20
    """Largest request body the REST API accepts and largest message gRPC receives, in bytes (env
    `COSTORY_MAX_REQUEST_BYTES`). Bigger requests get 413 (gRPC RESOURCE_EXHAUSTED) before any parsing or
    authentication."""

    max_list_items: int = 1000
    """Most items any list in a request may hold: `group_by`, `filters`, a filter's `values`, `cost_filter`,
    rules, a repeated query parameter… (env `COSTORY_MAX_LIST_ITEMS`). Longer lists get 400 naming the field."""

    max_requests_in_flight: int = 8
    """Requests (REST and gRPC together) one process works on at once (env `COSTORY_MAX_REQUESTS_IN_FLIGHT`);
    more get 503 with `Retry-After` at once. The database pool holds this many connections (plus as many
    again in overflow for imports and the scheduler), and the REST API runs this many worker threads."""

    max_requests_in_flight_per_token: int = 4
    """Share of those one API token may use at once (env `COSTORY_MAX_REQUESTS_IN_FLIGHT_PER_TOKEN`); more get
    429 with `Retry-After`, so one tenant's heavy requests leave room for the others'."""

    db_pool_timeout_seconds: float = 5.0
    """How long a request waits for a free database connection before it is answered 503 with `Retry-After`
    (env `COSTORY_DB_POOL_TIMEOUT_SECONDS`)."""

    admission_wait_seconds: float = 0.5
    """How long a request that finds every slot taken (its token's share, or the process's) waits for one before
    it is refused with 429 / 503 (env `COSTORY_ADMISSION_WAIT_SECONDS`). A freed slot goes to the longest-waiting
    request whose token is under its share. 0: refuse at once."""

    token_cache_seconds: float = 2.0
    """How long a process remembers that an API token belongs to a tenant, so a burst of requests costs one
    database lookup (env `COSTORY_TOKEN_CACHE_SECONDS`). A token revoked or rotated keeps working for at most this
    long in a running `serve`. 0: look the token up on every request."""

    token: SecretStr | None = None
    """The tenant API token `costory-control-plane mcp` acts as (env `COSTORY_TOKEN`). Read from the environment
    only: a command-line argument would be visible to every user of the machine in the process list."""

    rest_processes: int = Field(default=1, ge=1)
    """Processes serving the REST API on its one address (env `COSTORY_REST_PROCESSES`). Python runs one thread
    at a time per process, so reads scale with processes up to the machine's cores: on 2 cores, 2 serve about
    twice the small reads per second of 1. Each process has its own `max_requests_in_flight`, database pool and
    token cache; gRPC and the scheduler run in the first one only."""

    session_cookie_secure: bool = False
    """Mark the dashboard's session cookie `Secure`, so browsers send it over HTTPS only (env
    `COSTORY_SESSION_COOKIE_SECURE`). Turn it on whenever the control plane is reached over HTTPS (behind a TLS
    proxy); plain-HTTP loopback use needs it off."""

    session_hours: float = Field(default=12.0, gt=0)
    """How long a dashboard sign-in lasts before the token must be given again (env `COSTORY_SESSION_HOURS`). The
    token itself is checked on every request, so revoking it ends every session at once."""

    @field_validator("database_url")
    @classmethod
    def _normalize_database_url(cls, value: str) -> str:
        return normalize_url(value)

    @field_validator("data_url")
    @classmethod
    def _s3_data_url(cls, value: str | None) -> str | None:
        parsed = urlparse(value or "")
        if value and (parsed.scheme != "s3" or not parsed.netloc):
            raise ValueError("must look like s3://bucket/prefix (S3 or an S3-compatible store), or be unset")
        return value or None

    # -- operations: logging and the CLI's database waits (control_plane/logs.py, control_plane/cli.py) --

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None
    """Level of the control plane's logs, libraries' included (env `COSTORY_LOG_LEVEL`). Unset: `INFO` for
    `serve`, `WARNING` for the other commands. Secrets (AWS keys and session tokens, ID tokens, private keys,
    API tokens, `Authorization` headers, `sig=` signatures, URL passwords) are redacted at every level."""

    database_lock_timeout_seconds: float = 15.0
    """How long a `tenants` or `migrate` command waits for a database lock held by another process (a running
    `serve`, an import, a migration) before it fails naming the database (env
    `COSTORY_DATABASE_LOCK_TIMEOUT_SECONDS`). SQLite's busy timeout; PostgreSQL's `lock_timeout`."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    # -- billing sources other than AWS (control_plane/billing/sources/, control_plane/billing/feeds.py) --

    secret_key: str | None = None
    """Key that encrypts datasource secrets at rest (`admin_api_key`, `api_key`, `sas_url`): a Fernet key, 32
    url-safe base64-encoded bytes, e.g. from `costory-control-plane secrets new-key` (env `COSTORY_SECRET_KEY`).
    Unset: a key is generated once into `<data_dir>/secret.key` (mode 0600); several replicas must share one
    key, so set it explicitly in production."""

    anthropic_api_url: str = "https://api.anthropic.com"
    """Base URL of the Anthropic Admin API (env `COSTORY_ANTHROPIC_API_URL`)."""

    openai_api_url: str = "https://api.openai.com"
    """Base URL of the OpenAI API (env `COSTORY_OPENAI_API_URL`)."""

    cursor_api_url: str = "https://api.cursor.com"
    """Base URL of the Cursor Admin API (env `COSTORY_CURSOR_API_URL`)."""

    elastic_api_url: str = "https://api.elastic-cloud.com"
    """Base URL of the Elastic Cloud API (env `COSTORY_ELASTIC_API_URL`)."""

    bigquery_api_url: str | None = None
    """Send BigQuery calls to this endpoint instead of Google's, e.g. a `bqemulator` on loopback
    (env `COSTORY_BIGQUERY_API_URL`)."""

    elastic_ecu_usd: str = "1.0"
    """US dollars per Elastic Consumption Unit (ECU), for Elastic Cloud costs: 1 ECU is priced at $1.00 unless
    your contract says otherwise (env `COSTORY_ELASTIC_ECU_USD`). The ECU amount is kept in
    `PricingCurrencyEffectiveCost`."""

    api_refresh_days: int = 7
    """Billing APIs that cannot say what changed (Anthropic, OpenAI, Cursor, Elastic) are re-read for this many
    trailing days at every import; older days are kept as imported (env `COSTORY_API_REFRESH_DAYS`)."""

    api_backfill_days: int = 90
    """How far back the first import of such a source reads when it has no `start_date`
    (env `COSTORY_API_BACKFILL_DAYS`)."""

    # -- notifications: email over SMTP (control_plane/notify/email.py) --

    smtp_host: str | None = None
    """The SMTP server that sends notification email (env `COSTORY_SMTP_HOST`). Unset: email notifications fail
    with a message saying to set it (Slack ones are unaffected)."""

    smtp_port: int = Field(default=587, ge=1, le=65535)
    """Its port (env `COSTORY_SMTP_PORT`): 587 (submission with STARTTLS) unless set."""

    smtp_username: str | None = None
    """User to authenticate as (env `COSTORY_SMTP_USERNAME`); unset: no authentication."""

    smtp_password: SecretStr | None = Field(default=None, validate_default=True)
    """Password of `smtp_username`, from the environment only (env `COSTORY_SMTP_PASSWORD`); never logged nor
    shown in an error."""

    smtp_from: str | None = Field(default=None, validate_default=True)
    """The sender address of notification email, e.g. `costory@example.com` (env `COSTORY_SMTP_FROM`); required
    with `smtp_host`."""

    smtp_starttls: bool = True
    """Upgrade the connection with STARTTLS before authenticating and sending (env `COSTORY_SMTP_STARTTLS`); turn
    off only for a relay on loopback or a private network."""

    @field_validator("smtp_from")
    @classmethod
    def _sender(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and not EMAIL_ADDRESS.fullmatch(value):
            raise ValueError("must be an email address such as `costory@example.com`")
        if not value and info.data.get("smtp_host"):
            raise ValueError("must be set with COSTORY_SMTP_HOST: the sender of notification email")
        return value or None

    @field_validator("smtp_password")
    @classmethod
    def _password_with_username(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None and info.data.get("smtp_username"):
            raise ValueError("must be set with COSTORY_SMTP_USERNAME")
        return value
