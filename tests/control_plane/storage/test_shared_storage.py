"""Two `serve` replicas on one PostgreSQL database and one bucket behave as one: a CUR month imported through
replica A is read through replica B; A killed (SIGKILL) after writing a restated month's partition and before
its commit exposes neither half a month nor a pointer to a missing object; B's import then replaces the month,
and the killed import's object is swept once older than the grace period.

Real parts only: PostgreSQL from the machine's binaries, moto's S3 holding both the customer's CUR bucket and
our data bucket, and `serve` processes started and killed by the test."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import grpc
import pyarrow.fs as pafs
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from control_plane.billing.importer import PAUSE_BEFORE_COMMIT
from control_plane.billing.store import CostStore, partition_of
from control_plane.datastore import DataStore
from control_plane.db import create_engine, create_sessionmaker
from control_plane.models import BillingPeriod, Tenant
from control_plane.tenants.service import create_tenant
from costory_proto.costory.v1 import billing_datasource_pb2 as pb
from costory_proto.costory.v1 import billing_datasource_pb2_grpc as pb_grpc
from devtools.replicas import Replica, start_replica
from devtools.sample_cur import cur_table, guide_cur, write_cur

CUR_BUCKET = "customer-billing"
DATA_BUCKET = "costory-data"
DATA_PREFIX = "replicas"
SECRET = f"shared-storage-secret-{uuid.uuid4().hex}"
"""The data store's AWS secret key: it must appear in no log and no answer."""
KEY_ID = "AKIASHAREDSTORAGE7X"
PAUSE_SECONDS = 120


def s3_client(moto):
    return boto3.client(
        "s3", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


@pytest.fixture
def deployment(postgres_url, moto, tmp_path) -> Iterator[dict]:
    """The shared parts (database, buckets, a tenant, its role) and how to start a replica on them."""
    s3 = s3_client(moto)
    s3.create_bucket(Bucket=CUR_BUCKET)
    s3.create_bucket(Bucket=DATA_BUCKET)
    engine = create_engine(postgres_url)
    sessions = create_sessionmaker(engine)
    with sessions.begin() as session:
        tenant, token = create_tenant(session, "Replicated tenant")
        tenant_id, subject = tenant.id, tenant.google_subject_id
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "accounts.google.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"accounts.google.com:sub": subject}},
            }
        ],
    }
    iam = boto3.client(
        "iam", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    role_arn = iam.create_role(RoleName="costory-billing", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    environment = {
        "COSTORY_DATABASE_URL": postgres_url,
        "COSTORY_DATA_URL": f"s3://{DATA_BUCKET}/{DATA_PREFIX}",
        "COSTORY_DATA_ENDPOINT_URL": moto.endpoint,
        "COSTORY_AWS_ENDPOINT_URL": moto.endpoint,
        "COSTORY_TRUST_VALIDATION": "skip",
        "COSTORY_SCHEDULER_ENABLED": "false",
        "COSTORY_SECRET_KEY": Fernet.generate_key().decode(),
        "COSTORY_LOG_LEVEL": "DEBUG",
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    replicas: list[Replica] = []

    def start(name: str, **extra: str) -> Replica:
        replica = start_replica(name, tmp_path / name, {**environment, **extra})
        replicas.append(replica)
        return replica

    try:
        yield {
            "start": start,
            "sessions": sessions,
            "s3": s3,
            "tenant_id": tenant_id,
            "token": token,
            "role_arn": role_arn,
            "replicas": replicas,
        }
    finally:
        for replica in replicas:
            replica.stop()
        engine.dispose()


def rest(replica: Replica, token: str, path: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict]:
    request = urllib.request.Request(
        replica.rest_url + path,
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def november_total(replica: Replica, token: str) -> list[tuple[str, str]]:
    """The tenant's November by month, as replica B's cost query answers it: (period, cost)."""
    status, answer = rest(
        replica,
        token,
        "/v1/costs:query",
        {
            "query": {
                "start_date": "2026-11-01",
                "end_date": "2026-11-30",
                "granularity": "MONTH",
                "group_by": ["ChargeCategory"],
            }
        },
    )
    assert status == 200, answer
    return sorted((row["group"].get("ChargeCategory", ""), row["cost"]) for row in answer.get("rows", []))


def data_objects(s3, tenant_id: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix=f"{DATA_PREFIX}/costs/{tenant_id}/")
    keys = (o["Key"].removeprefix(f"{DATA_PREFIX}/") for o in listed.get("Contents", []))
    return sorted(key for key in keys if not key.endswith("/"))  # pyarrow keeps `folder/` markers


def committed(sessions) -> dict[str, int]:
    with sessions() as session:
        return {p.billing_period: partition_of(p) for p in session.scalars(sa.select(BillingPeriod))}


def test_two_replicas_one_database_one_bucket(deployment, moto):
    sessions, s3, tenant_id, token = (deployment[k] for k in ("sessions", "s3", "tenant_id", "token"))
    a = deployment["start"]("a", **{PAUSE_BEFORE_COMMIT: ""})
    b = deployment["start"]("b")

    # 1. The datasource is created through A (gRPC), the month imported through A (REST).
    channel = grpc.insecure_channel(f"127.0.0.1:{a.grpc_port}")
    created = pb_grpc.BillingDatasourceServiceStub(channel).CreateBillingDatasourceAws(
        pb.CreateBillingDatasourceAwsRequest(
            billing_datasource_aws=pb.BillingDatasourceAws(
                name="AWS bill", bucket_name=CUR_BUCKET, prefix="cur/", role_arn=deployment["role_arn"]
            )
        ),
        metadata=(("authorization", f"Bearer {token}"),),
    )
    channel.close()
    write_cur(s3, CUR_BUCKET, "cur/", "costory", "2026-11", guide_cur("2026-11"))
    status, imported = rest(a, token, f"/v1/billing-datasources/{created.id}/import")
    assert (status, imported["status"], imported.get("months_replaced")) == (200, "SUCCEEDED", ["2026-11"]), imported
    first = committed(sessions)["2026-11"]
    assert data_objects(s3, tenant_id) == [f"costs/{tenant_id}/{created.id}/2026-11.{first}.parquet"]
    for replica in (a, b):  # nothing in either replica's own directory: the bucket holds the data
        assert not list(replica.workdir.rglob("*.parquet"))

    # 2. B reads what A imported: the guide's month, $1,091.00 of usage and $80.00 of tax.
    expected = [("Tax", "80.00"), ("Usage", "1091.00")]
    assert november_total(b, token) == expected

    # 3. AWS restates November; A imports it and is killed after writing the new partition, before its commit.
    a.stop()
    a = deployment["start"]("a2", **{PAUSE_BEFORE_COMMIT: str(PAUSE_SECONDS)})
    restated = cur_table(
        [{"usage_day": "2026-11-05", "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": 6.125}] * 2
    )
    write_cur(s3, CUR_BUCKET, "cur/", "costory", "2026-11", restated)
    answers: list[tuple[int, dict] | BaseException] = []

    def import_on_a() -> None:
        try:
            answers.append(rest(a, token, f"/v1/billing-datasources/{created.id}/import", timeout=PAUSE_SECONDS + 30))
        except BaseException as error:  # the connection dies with the process
            answers.append(error)

    caller = threading.Thread(target=import_on_a, daemon=True)
    caller.start()
    deadline = time.monotonic() + 60
    while len(data_objects(s3, tenant_id)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    objects = data_objects(s3, tenant_id)
    assert len(objects) == 2, (objects, a.log())
    a.kill()
    caller.join(30)
    orphan = next(key for key in objects if not key.endswith(f".{first}.parquet"))

    # B still answers the old month exactly, from the partition the committed row names.
    assert committed(sessions) == {"2026-11": first}
    assert november_total(b, token) == expected

    # 4. An import on B completes and replaces the month; the orphan is young, so it stays for now.
    status, replaced = rest(b, token, f"/v1/billing-datasources/{created.id}/import")
    assert (status, replaced["status"], replaced.get("months_replaced")) == (200, "SUCCEEDED", ["2026-11"]), replaced
    second = committed(sessions)["2026-11"]
    assert second not in (first, int(orphan.rsplit(".", 2)[1]))
    current = f"costs/{tenant_id}/{created.id}/2026-11.{second}.parquet"
    assert data_objects(s3, tenant_id) == sorted([orphan, current])
    assert november_total(b, token) == [("Usage", "12.25")]

    # 5. Past the grace period the sweep removes the killed import's object, and only it.
    store = DataStore(
        pafs.S3FileSystem(
            region="us-east-1",
            endpoint_override=moto.endpoint.removeprefix("http://"),
            scheme="http",
            access_key="t",
            secret_key="t",
        ),
        f"{DATA_BUCKET}/{DATA_PREFIX}",
        f"s3://{DATA_BUCKET}/{DATA_PREFIX}",
    )
    costs = CostStore(store, grace=timedelta(minutes=5))
    assert costs.sweep(tenant_id, created.id, committed(sessions)) == 0
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert costs.sweep(tenant_id, created.id, committed(sessions), now=later) == 1
    assert data_objects(s3, tenant_id) == [current]
    assert november_total(b, token) == [("Usage", "12.25")]

    # No replica logged or answered the data store's secret.
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 1
    for replica in deployment["replicas"]:
        assert SECRET not in replica.log()
    assert SECRET not in json.dumps([imported, replaced, [a if isinstance(a, tuple) else str(a) for a in answers]])
