"""What the ingestion tests share besides fixtures: Parquet bytes, a datasource with metrics, a bucket
in moto, and readers of what an import wrote."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from control_plane.imports.errors import ObjectReadError
from control_plane.models import (
    BillingDatasource,
    ImportRecord,
    MetricDay,
    MetricDefinition,
    MetricFile,
    MetricsDatasource,
    MetricValue,
    Tenant,
)
from control_plane.storage import AwsCredentials, ObjectInfo, S3ObjectStore

BUCKET = "customer-metrics"
PREFIX = "exports/"
CREDENTIALS = AwsCredentials("AKIAEXAMPLE", "example-secret", "example-session-token")
REGION = "us-east-1"


def parquet_bytes(data: pa.Table | dict[str, Any], **write_options: Any) -> bytes:
    table = data if isinstance(data, pa.Table) else pa.table(data)
    sink = io.BytesIO()
    pq.write_table(table, sink, **write_options)
    return sink.getvalue()


def usage(days: list[str], teams: list[str | None], calls: list[float]) -> bytes:
    """The guide's shape: one row per (date, team) with an API call count."""
    return parquet_bytes({"date": days, "team": teams, "api_call_count": calls})


@dataclass(frozen=True)
class Metric:
    metric_name: str = "api_calls"
    date_column: str = "date"
    value_column: str = "api_call_count"
    dimensions: tuple[str, ...] = ("team",)
    aggregation: str = "SUM"
    gap_filling: str = "ZERO"


def add_datasource(sessions: sessionmaker[Session], *metrics: Metric, prefix: str | None = PREFIX) -> str:
    """A tenant and a datasource reading ``metrics`` (default: api_calls by team, SUM)."""
    suffix = uuid.uuid4().hex[:12]
    with sessions.begin() as session:
        tenant = Tenant(
            id=f"ten_{suffix}",
            name=f"tenant-{suffix}",
            token_hash=hashlib.sha256(suffix.encode()).hexdigest(),
            service_account_email=f"costory-{suffix}@example.iam.gserviceaccount.com",
            google_subject_id=str(10**20 + int(suffix, 16) % 10**20),
        )
        datasource = MetricsDatasource(
            id=f"mds_{suffix}",
            tenant_id=tenant.id,
            name="usage",
            bucket_name=BUCKET,
            prefix=prefix,
            role_arn="arn:aws:iam::123456789012:role/costory-metrics",
        )
        datasource.metrics_definition = [
            MetricDefinition(
                position=position,
                metric_name=m.metric_name,
                gap_filling=m.gap_filling,
                aggregation=m.aggregation,
                value_column=m.value_column,
                date_column=m.date_column,
                dimensions=list(m.dimensions),
            )
            for position, m in enumerate(metrics or (Metric(),))
        ]
        session.add_all([tenant, datasource])
        return datasource.id


class Bucket:
    """The customer's bucket in moto."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS.access_key_id,
            aws_secret_access_key=CREDENTIALS.secret_access_key,
        )
        self.client.create_bucket(Bucket=BUCKET)
        self._last: datetime | None = None

    def put(self, name: str, body: bytes, *, prefix: str = PREFIX, later: bool = False) -> str:
        """Upload ``prefix + name``; returns its ETag. ``later``: make sure S3 LastModified is strictly
        after every earlier ``later`` upload's (moto lists whole seconds, so wait for the next one)."""
        key = prefix + name
        while True:
            etag = self.client.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')
            if not later:
                return etag
            listed = self.last_modified(key)
            if self._last is None or listed > self._last:
                self._last = listed
                return etag
            time.sleep(0.2)

    def last_modified(self, key: str) -> datetime:
        for item in self.client.list_objects_v2(Bucket=BUCKET, Prefix=key)["Contents"]:
            if item["Key"] == key:
                return item["LastModified"].astimezone(UTC)
        raise KeyError(key)

    def store(self, prefix: str | None = PREFIX) -> S3ObjectStore:
        return S3ObjectStore(BUCKET, prefix, credentials=CREDENTIALS, region=REGION, endpoint_url=self.endpoint)


class ListedAs:
    """A store that lists what ``inner`` lists, with chosen LastModified per key: stands in for S3
    delivering an older object late, which uploads in order cannot produce."""

    def __init__(self, inner, last_modified: dict[str, datetime]):
        self.inner = inner
        self.overrides = last_modified

    def list_parquet(self) -> list[ObjectInfo]:
        listed = [
            replace(o, last_modified=self.overrides.get(o.key, o.last_modified)) for o in self.inner.list_parquet()
        ]
        return sorted(listed, key=lambda o: (o.last_modified, o.key))

    def open(self, key: str, etag: str | None = None):
        return self.inner.open(key, etag)

    def stat(self, key: str) -> ObjectInfo | None:
        return self.inner.stat(key)


def values(sessions: sessionmaker[Session], datasource_id: str, metric: str = "api_calls") -> list[tuple]:
    """(day ISO, dimensions as sorted items, value, row_count) of every value, sorted."""
    with sessions() as session:
        rows = session.execute(
            sa.select(MetricValue.day, MetricValue.dimensions, MetricValue.value, MetricValue.row_count).where(
                MetricValue.datasource_id == datasource_id, MetricValue.metric_name == metric
            )
        ).all()
    return sorted(
        ((d.isoformat(), tuple(sorted(dims.items())), v, n) for d, dims, v, n in rows),
        key=lambda r: (r[0], [(k, v is None, v or "") for k, v in r[1]]),
    )


def owners(sessions: sessionmaker[Session], datasource_id: str, metric: str = "api_calls") -> dict[str, str]:
    """Day ISO → key of the file owning it."""
    with sessions() as session:
        rows = session.execute(
            sa.select(MetricDay.day, MetricDay.file_key).where(
                MetricDay.datasource_id == datasource_id, MetricDay.metric_name == metric
            )
        ).all()
    return {d.isoformat(): key for d, key in rows}


def files(sessions: sessionmaker[Session], datasource_id: str) -> list[tuple[str, str, str | None, int]]:
    """(key, status, reason, rows) of every recorded file, in recording order."""
    with sessions() as session:
        return [
            tuple(r)
            for r in session.execute(
                sa.select(MetricFile.key, MetricFile.status, MetricFile.reason, MetricFile.rows)
                .where(MetricFile.datasource_id == datasource_id)
                .order_by(MetricFile.id)
            )
        ]


def imports(sessions: sessionmaker[Session], datasource_id: str) -> list[ImportRecord]:
    with sessions() as session:
        rows = session.scalars(
            sa.select(ImportRecord).where(ImportRecord.datasource_id == datasource_id).order_by(ImportRecord.id)
        ).all()
        session.expunge_all()
        return list(rows)


def datasource(sessions: sessionmaker[Session], datasource_id: str) -> MetricsDatasource:
    with sessions() as session:
        row = session.get(MetricsDatasource, datasource_id)
        session.expunge(row)
        return row


def d(text: str) -> date:
    return date.fromisoformat(text)


class CountingFile(io.RawIOBase):
    """A seekable file over bytes that counts the bytes handed out."""

    def __init__(self, body: bytes):
        self._body = io.BytesIO(body)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, position: int, whence: int = 0) -> int:
        return self._body.seek(position, whence)

    def tell(self) -> int:
        return self._body.tell()

    def read(self, size: int = -1) -> bytes:
        chunk = self._body.read(size)
        self.bytes_read += len(chunk)
        return chunk


class FailingFile(CountingFile):
    """Serves the footer, then fails like a dropped connection."""

    def read(self, size: int = -1) -> bytes:
        if self._body.tell() < len(self._body.getvalue()) - 100_000:
            raise ObjectReadError("s3://bucket/key", OSError("AWS Error NETWORK_CONNECTION during GetObject operation"))
        return super().read(size)


BILLING_BUCKET = "customer-billing"
BILLING_PREFIX = "cur/"


def add_billing_datasource(sessions: sessionmaker[Session], *, prefix: str = BILLING_PREFIX) -> tuple[str, str]:
    """A tenant and an AWS billing datasource on ``BILLING_BUCKET``/``prefix``; returns (tenant id, datasource id)."""
    suffix = uuid.uuid4().hex[:12]
    with sessions.begin() as session:
        session.add(
            Tenant(
                id=f"ten_{suffix}",
                name=f"tenant-{suffix}",
                token_hash=hashlib.sha256(suffix.encode()).hexdigest(),
                service_account_email=f"costory-{suffix}@example.iam.gserviceaccount.com",
                google_subject_id=str(10**20 + int(suffix, 16) % 10**20),
            )
        )
        session.flush()
        session.add(
            BillingDatasource(
                id=f"bds_{suffix}",
                tenant_id=f"ten_{suffix}",
                name="bill",
                bucket_name=BILLING_BUCKET,
                prefix=prefix,
                role_arn="arn:aws:iam::123456789012:role/costory-billing",
            )
        )
    return f"ten_{suffix}", f"bds_{suffix}"


class FaultyClient:
    """The S3 client a store reads with, with faults injected into GetObject: ``before_get(key, call_number)``
    runs before each ranged GET and may raise or change the bucket; every GET's key is recorded."""

    def __init__(self, inner, before_get):
        self._inner = inner
        self._before_get = before_get
        self.gets: list[str] = []

    def get_object(self, **kwargs):
        self.gets.append(kwargs["Key"])
        self._before_get(kwargs["Key"], len(self.gets))
        return self._inner.get_object(**kwargs)

    def head_object(self, **kwargs):
        self.gets.append(kwargs["Key"])
        return self._inner.head_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def with_faults(store: S3ObjectStore, before_get) -> FaultyClient:
    """Make ``store`` read through a ``FaultyClient``; returns it."""
    client = FaultyClient(store._client(), before_get)
    store._boto = client
    return client


def throttled(operation: str = "GetObject"):
    from botocore.exceptions import ClientError

    return ClientError(
        {
            "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
            "ResponseMetadata": {"HTTPStatusCode": 503},
        },
        operation,
    )
