"""Database models."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """SHA-256 hex digest of the API token; the token itself is never stored."""
    service_account_email: Mapped[str] = mapped_column(sa.String(200), unique=True)
    google_subject_id: Mapped[str] = mapped_column(sa.String(21), unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    """When the API token was revoked (`tenants revoke`); NULL while it is valid. Rotating it clears this."""

    metrics_datasources: Mapped[list[MetricsDatasource]] = relationship(
        back_populates="tenant", lazy="raise"
    )


class MetricsDatasource(Base):
    __tablename__ = "metrics_datasources"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    bucket_name: Mapped[str] = mapped_column(sa.String(255))
    prefix: Mapped[str | None] = mapped_column(sa.String(1024))
    role_arn: Mapped[str] = mapped_column(sa.String(2048))
    status: Mapped[str] = mapped_column(sa.String(32), default="PENDING")
    """`PENDING` until the first import, then `OK`, `WARNING` (files quarantined) or `ERROR`."""
    status_message: Mapped[str | None] = mapped_column(sa.Text)
    """What the status means and what to do about it."""
    last_import_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    tenant: Mapped[Tenant] = relationship(back_populates="metrics_datasources", lazy="raise")
    metrics_definition: Mapped[list[MetricDefinition]] = relationship(
        back_populates="datasource",
        order_by="MetricDefinition.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )


class MetricDefinition(Base):
    __tablename__ = "metric_definitions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    datasource_id: Mapped[str] = mapped_column(
        sa.ForeignKey("metrics_datasources.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    """Index in the datasource's list; the list is returned in this order."""
    metric_name: Mapped[str] = mapped_column(sa.String(200))
    gap_filling: Mapped[str] = mapped_column(sa.String(32))
    aggregation: Mapped[str] = mapped_column(sa.String(32))
    value_column: Mapped[str] = mapped_column(sa.String(200))
    date_column: Mapped[str] = mapped_column(sa.String(200))
    dimensions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    unit: Mapped[str | None] = mapped_column(sa.String(64))

    datasource: Mapped[MetricsDatasource] = relationship(back_populates="metrics_definition", lazy="raise")


# -- identity ---------------------------------------------------------------------------------------


class TenantGoogleKey(Base):
    """The Google service-account key a tenant's ID tokens are obtained with.

    In the embedded default the key is generated locally (its token_uri is the control plane's own
    loopback endpoint); in production it is a real Google service-account key, set per tenant or
    assigned from a configured pool. Never returned by any API and never logged."""

    __tablename__ = "tenant_google_keys"

    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    key_json: Mapped[str] = mapped_column(sa.Text)
    """The service-account key file (JSON): client_email, client_id (the sub), private_key, token_uri."""
    source: Mapped[str] = mapped_column(sa.String(16))
    """`EMBEDDED` (generated here), `CONFIGURED` (set by an operator) or `POOL` (taken from the pool)."""
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


# -- metric ingestion -------------------------------------------------------------------------------


class ImportRecord(Base):
    """One execution of an import of a datasource, metrics or billing (scheduled or on demand): the one
    history of imports. Exactly one of ``datasource_id`` / ``billing_datasource_id`` is set."""

    __tablename__ = "metric_imports"
    __table_args__ = (
        sa.CheckConstraint(
            "(datasource_id IS NULL) <> (billing_datasource_id IS NULL)", name="ck_metric_imports_one_datasource"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    datasource_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("metrics_datasources.id", ondelete="CASCADE"), index=True
    )
    """The metrics datasource imported, or None for a billing import."""
    billing_datasource_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("billing_datasources.id", ondelete="CASCADE"), index=True
    )
    """The billing datasource imported, or None for a metrics import."""
    trigger: Mapped[str] = mapped_column(sa.String(16))
    """`SCHEDULED` or `MANUAL`."""
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("import_runs.id", ondelete="SET NULL"), index=True)
    owner: Mapped[str] = mapped_column(sa.String(200))
    """Which control-plane process executed it (host:pid)."""
    status: Mapped[str] = mapped_column(sa.String(16), default="RUNNING")
    """An ``ImportStatus``: `RUNNING`, `SUCCEEDED`, `PARTIAL` (files quarantined) or `FAILED`."""
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    """Last sign of life while RUNNING; a RUNNING import silent for longer than the lease was killed."""
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    files_seen: Mapped[int] = mapped_column(default=0)
    files_imported: Mapped[int] = mapped_column(default=0)
    files_unchanged: Mapped[int] = mapped_column(default=0)
    files_quarantined: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)


class MetricFile(Base):
    """A Parquet object seen under a datasource's prefix, identified by key and ETag."""

    __tablename__ = "metric_files"
    __table_args__ = (sa.UniqueConstraint("datasource_id", "key", "etag", name="uq_metric_files_object"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    datasource_id: Mapped[str] = mapped_column(
        sa.ForeignKey("metrics_datasources.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(sa.String(1024))
    etag: Mapped[str] = mapped_column(sa.String(200))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    last_modified: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(sa.String(16))
    """`LOADED` or `QUARANTINED`."""
    reason: Mapped[str | None] = mapped_column(sa.Text)
    """Why the file was quarantined: what is wrong and what to change."""
    rows: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    import_id: Mapped[int | None] = mapped_column(sa.ForeignKey("metric_imports.id", ondelete="SET NULL"))
    imported_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class MetricDay(Base):
    """Which file owns a (datasource, metric, day): the last received (S3 LastModified, then key)."""

    __tablename__ = "metric_days"

    datasource_id: Mapped[str] = mapped_column(
        sa.ForeignKey("metrics_datasources.id", ondelete="CASCADE"), primary_key=True
    )
    metric_name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    file_last_modified: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    file_key: Mapped[str] = mapped_column(sa.String(1024))


class MetricValue(Base):
    """A metric's value for one day and one combination of dimension values (already aggregated)."""

    __tablename__ = "metric_values"
    __table_args__ = (sa.Index("ix_metric_values_lookup", "datasource_id", "metric_name", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    datasource_id: Mapped[str] = mapped_column(sa.ForeignKey("metrics_datasources.id", ondelete="CASCADE"))
    metric_name: Mapped[str] = mapped_column(sa.String(200))
    day: Mapped[date] = mapped_column(sa.Date)
    dimensions: Mapped[dict[str, str | None]] = mapped_column(sa.JSON)
    """Dimension name -> value (null when the file had a null there)."""
    value: Mapped[float] = mapped_column(sa.Float)
    row_count: Mapped[int] = mapped_column(sa.BigInteger)
    """Source rows aggregated into this value."""


# -- scheduling -------------------------------------------------------------------------------------


class ImportRun(Base):
    """A scheduled daily import of a datasource; unique per (datasource, slot) so it happens once.

    The datasource is either a metrics datasource (``datasource_id``) or a billing datasource
    (``billing_datasource_id``): exactly one of the two is set, and deleting the datasource deletes its
    runs.

    A process claims a run by taking its lease; a run whose lease expired (its process died) is claimed
    again by another."""

    __tablename__ = "import_runs"
    __table_args__ = (
        sa.UniqueConstraint("datasource_id", "scheduled_for", name="uq_import_runs_slot"),
        sa.UniqueConstraint("billing_datasource_id", "scheduled_for", name="uq_import_runs_billing_slot"),
        sa.CheckConstraint(
            "(datasource_id IS NULL) <> (billing_datasource_id IS NULL)", name="ck_import_runs_one_datasource"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    datasource_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("metrics_datasources.id", ondelete="CASCADE"), index=True
    )
    """The metrics datasource imported, or None for a billing run."""
    billing_datasource_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("billing_datasources.id", ondelete="CASCADE"), index=True
    )
    """The billing datasource imported, or None for a metrics run."""
    scheduled_for: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    """The daily slot (06:00 UTC) this run is for."""
    status: Mapped[str] = mapped_column(sa.String(16), default="PENDING", index=True)
    """`PENDING`, `RUNNING`, `SUCCEEDED` or `FAILED` (retries exhausted or a terminal error)."""
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(sa.String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class BillingDatasource(Base):
    """A bill: an AWS CUR 2.0 Data Export in the tenant's bucket, read through a federated role (kind AWS), or
    another source (``control_plane.billing.kinds``) whose settings are in ``config`` and credential, sealed,
    in ``secret``."""

    __tablename__ = "billing_datasources"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    bucket_name: Mapped[str] = mapped_column(sa.String(255))
    prefix: Mapped[str] = mapped_column(sa.String(1024))
    role_arn: Mapped[str] = mapped_column(sa.String(2048))
    eks_split: Mapped[bool | None] = mapped_column(sa.Boolean)
    eks_split_data_enabled: Mapped[bool | None] = mapped_column(sa.Boolean)
    start_date: Mapped[str | None] = mapped_column(sa.String(10))
    end_date: Mapped[str | None] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(32), default="PENDING")
    status_message: Mapped[str | None] = mapped_column(sa.Text)
    last_import_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(32), default="AWS", server_default="AWS")
    config: Mapped[dict | None] = mapped_column(sa.JSON)
    """The source's own settings (e.g. `bq_uri`); never a secret."""
    secret: Mapped[str | None] = mapped_column(sa.Text)
    """The credential (`admin_api_key`, `api_key`, `sas_url`) sealed by ``control_plane.secrets``."""


class BillingPeriod(Base):
    """One billing month held for a datasource: its Parquet partition and the export files it came from.
    A new export of the month gets a new row (a new id), so its cost rows get new x_RowIds."""

    __tablename__ = "billing_periods"
    # sqlite_autoincrement: SQLite would otherwise hand a deleted highest id to the next row, and a restated
    # month must never get the x_RowIds of the partition it replaced.
    __table_args__ = (
        sa.UniqueConstraint("datasource_id", "billing_period", name="uq_billing_periods_month"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    datasource_id: Mapped[str] = mapped_column(
        sa.ForeignKey("billing_datasources.id", ondelete="CASCADE"), index=True
    )
    billing_period: Mapped[str] = mapped_column(sa.String(7))
    partition_id: Mapped[int | None] = mapped_column(sa.Integer)
    """The ``PartitionId`` prefixing this partition's x_RowIds (older rows: their own id)."""
    fingerprint: Mapped[str] = mapped_column(sa.Text)
    """The export files the partition was built from, as sorted `key@etag` lines."""
    rows: Mapped[int] = mapped_column(sa.BigInteger)
    billed_cost: Mapped[str] = mapped_column(sa.String(48))
    imported_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class PartitionId(Base):
    """Hands out partition ids (the high 32 bits of x_RowId), never reused, before a partition is written."""

    __tablename__ = "partition_ids"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    created_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class BillingFile(Base):
    """An export file seen under the prefix; quarantined files keep their month from being replaced."""

    __tablename__ = "billing_files"
    __table_args__ = (sa.UniqueConstraint("datasource_id", "key", name="uq_billing_files_key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    datasource_id: Mapped[str] = mapped_column(
        sa.ForeignKey("billing_datasources.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(sa.String(1024))
    etag: Mapped[str] = mapped_column(sa.String(128))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_modified: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    billing_period: Mapped[str | None] = mapped_column(sa.String(7))
    status: Mapped[str] = mapped_column(sa.String(16))
    """A ``FileStatus``: `LOADED` or `QUARANTINED`."""
    reason: Mapped[str | None] = mapped_column(sa.Text)
    seen_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Dimension(Base):
    """A virtual dimension: its ordered rules (the proto's JSON, order kept) and its allocation's state."""

    __tablename__ = "virtual_dimensions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name", name="uq_virtual_dimensions_tenant_name"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    leftover_value: Mapped[str] = mapped_column(sa.String(200))
    rules: Mapped[list] = mapped_column(sa.JSON)
    """The `rules` list as given (proto JSON mapping, field names as in the proto)."""
    status: Mapped[str] = mapped_column(sa.String(32), default="PENDING")
    """A ``dimensions.DimensionStatus``: `PENDING`, then `COMPUTED`, `NO_COST_DATA` or `ERROR`."""
    status_message: Mapped[str | None] = mapped_column(sa.Text)
    computed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    allocation_file: Mapped[str | None] = mapped_column(sa.String(200))
    """The results served, relative to the tenant's allocations folder (see ``dimensions.results``); set in
    the transaction that saved what they were computed from."""
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
