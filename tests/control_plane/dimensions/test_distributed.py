"""The distributed engine on a real Ray cluster (2 CPUs, loopback, started and stopped here) gives the same
allocation, part for part and cent for cent, as the local engine.

The tenant's cost partitions, drawn by hand (bds_aws and bds_ai; the dimension's rules: `compute` exact match,
`by-team` regex, `storage` split 50/30/20, `gateway` by the day's api_calls per team):

    partition        day    ServiceName  ResourceId     cost    ->  value(s)
    bds_aws 2026-10  10-30  Amazon EC2   i-1          100.00        Compute 100.00
                     10-30  AWS Lambda   team-web-fn   12.34        web 12.34
                     10-30  Amazon S3    bucket        10.01        data 5.01 (5.005: the spare cent), web 3.00, ml 2.00
                     10-30  API Gateway  gw            30.00        calls web 2, ml 1: web 20.00, ml 10.00
    bds_aws 2026-11  11-02  Amazon EC2   i-2            0.99        Compute 0.99
                     11-02  CloudWatch   team-ml-x      7.50        ml 7.50
                     11-02  Amazon S3    bucket         0.10        data 0.05, web 0.03, ml 0.02
                     11-02  API Gateway  gw            10.00        calls 1 each: 3.33 x 3, the spare cent to data
                     11-02  AWS Support  (none)         5.00        Unallocated 5.00
    bds_ai 2026-11   11-03  Claude       team-data-k    2.22        data 2.22
                     11-03  Claude       svc-key        1.11        Unallocated 1.11
                     11-03  API Gateway  gw             4.00        no calls that day: Unallocated 4.00 (a warning)

    Compute 100.99 | web 38.70 | ml 22.85 | data 10.62 | Unallocated 10.11 | total 183.27 = the rows' cents

Two bulk partitions (bds_bulk 2026-08 and 2026-09) add 49,850 generated rows each, row i costing (i mod 997)
cents: 50 × (0 + 1 + … + 996) = 50 × 496,506 = 24,825,300 cents = 248,253.00 each.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from control_plane.allocation import (
    Allocation,
    AllocationError,
    Equals,
    MappingStrategy,
    Matches,
    Rule,
    ValueMapping,
    VirtualDimension,
)
from control_plane.billing.schema import source_table, with_row_identity
from control_plane.billing.store import CostStore
from control_plane.datastore import DataStore
from control_plane.dimensions import compute
from control_plane.dimensions.compute import Engine, PartJob, run_here
from control_plane.dimensions.definition import MetricSource
from control_plane.dimensions.distributed import PartitionFailed, ray_runner
from control_plane.errors import FailedPrecondition
from control_plane.metrics.query import AuthorizedDatasourceId
from control_plane.models import BillingDatasource, MetricDefinition, MetricsDatasource, MetricValue
from control_plane.tenants.service import create_tenant

pytestmark = pytest.mark.xdist_group("ray")  # one cluster per worker: with `--dist loadgroup`, one in all

START_SECONDS = 120
BULK_ROWS = 997 * 50

DIMENSION = VirtualDimension(
    "team",
    (
        Rule("compute", Equals("ServiceName", "Amazon EC2"), Allocation.fixed("Compute")),
        Rule(
            "by-team",
            Matches("ResourceId", "^team-"),
            Allocation.from_column("ResourceId", ValueMapping(MappingStrategy.REGEX, regex=r"^team-(\w+)-")),
        ),
        Rule(
            "storage", Equals("ServiceName", "Amazon S3"), Allocation.split_percent({"data": 50, "web": 30, "ml": 20})
        ),
        Rule("gateway", Equals("ServiceName", "API Gateway"), Allocation.metric()),
    ),
)
CALLS = {"gateway": MetricSource(AuthorizedDatasourceId("mds_usage"), "api_calls", "team")}
HAND_TOTALS = {
    "Compute": Decimal("100.99"),
    "Unallocated": Decimal("10.11"),
    "data": Decimal("10.62"),
    "ml": Decimal("22.85"),
    "web": Decimal("38.70"),
}
NO_CALLS = "rule gateway: 1 days without usage went to Unallocated"


# -- the cluster -------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory) -> Iterator[str]:
    """A one-node Ray cluster with 2 CPUs on loopback, in a process group of its own, for this module; the
    address of its head (the test process joins as a driver, as a control plane on the cluster's network does;
    `ray://` goes through the same `ray.init`)."""
    import ray
    from ray._private import ray_constants

    # Ray replaces a loopback node address by the machine's outward one unless it believes it runs on a laptop:
    # the cluster (its environment) and this driver (the constant Ray read from it) are told so, and stay on
    # loopback.
    loopback = pytest.MonkeyPatch()
    loopback.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    # Both ends without Ray's token authentication, whatever token a user's ~/.ray holds (loopback only).
    loopback.setenv("RAY_AUTH_MODE", "disabled")
    folder = tmp_path_factory.mktemp("ray")
    port = _free_port()
    command = [
        str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--num-cpus", "2",
        "--node-ip-address", "127.0.0.1", "--port", str(port), "--ray-client-server-port", str(_free_port()),
        "--include-dashboard", "false", "--disable-usage-stats", "--object-store-memory", str(200 << 20),
        "--temp-dir", str(folder),
    ]  # fmt: skip
    environment = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
    log = (folder / "ray-start.log").open("wb")
    head = subprocess.Popen(
        command,
        cwd=folder,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_ended_with_this_process,
    )
    try:
        _wait_for(head, folder / "ray-start.log", port)
        yield f"127.0.0.1:{port}"
    finally:
        ray.shutdown()
        _stop(head)
        log.close()
        loopback.undo()


def _ended_with_this_process() -> None:
    """In the child: a SIGTERM when the test process dies without its teardown (killed by a timeout), so the
    head stops its cluster instead of outliving the run (Linux; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_for(head: subprocess.Popen, log: Path, port: int) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if head.poll() is not None:
            pytest.fail(f"ray start exited with {head.returncode}:\n{log.read_text()[-3000:]}", pytrace=False)
        if b"Ray runtime started" in log.read_bytes():
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
        time.sleep(0.2)
    pytest.fail(f"Ray did not start within {START_SECONDS} s:\n{log.read_text()[-3000:]}", pytrace=False)


def _stop(head: subprocess.Popen) -> None:
    """The head and every process it started (its process group): asked, then killed past a few seconds (a
    head drains for up to 30 s after a SIGTERM; nothing here needs draining once the driver has left)."""
    group = head.pid
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(group, signal.SIGTERM)
        head.wait(timeout=3)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    head.wait(timeout=10)


# -- the tenant --------------------------------------------------------------------------------------------


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _hand_rows(partition_id: int, datasource: str, month: str, *rows: tuple[str, str, str | None, str]) -> pa.Table:
    """COST_SCHEMA rows from (day, ServiceName, ResourceId, cost) tuples."""
    days = [_day(r[0]) for r in rows]
    columns = {
        "ChargePeriodStart": days,
        "ChargePeriodEnd": days,
        "BillingPeriodStart": [_day(f"{month}-01")] * len(rows),
        "ServiceName": [r[1] for r in rows],
        "ResourceId": [r[2] for r in rows],
        "BilledCost": [Decimal(r[3]) for r in rows],
        "EffectiveCost": [Decimal(r[3]) for r in rows],
        "BillingCurrency": ["USD"] * len(rows),
        "Provider": ["AWS" if datasource == "bds_aws" else "Anthropic"] * len(rows),
    }
    table = source_table(columns, len(rows))
    return with_row_identity(table, datasource_id=datasource, billing_period=month, partition_id=partition_id)


def _bulk_rows(partition_id: int, month: str) -> pa.Table:
    """BULK_ROWS rows over the month's first 28 days, row i costing (i mod 997) cents."""
    i = np.arange(BULK_ROWS)
    services = np.array(["Amazon EC2", "Amazon S3", "AWS Lambda"], dtype=object)[i % 3]
    resources = np.array(["team-a-1", "team-b-2", "team-c-3", "shared", "team-d-4"], dtype=object)[i % 5]
    first = np.datetime64(f"{month}-01T00:00:00", "us")
    days = pa.array(first + (i % 28).astype("timedelta64[D]"), pa.timestamp("us", tz="UTC"))
    cents = pa.array(i % 997, pa.int64()).cast(pa.decimal128(19, 0))
    cost = pc.multiply(cents, pa.scalar(Decimal("0.01"), pa.decimal128(3, 2)))
    columns = {
        "ChargePeriodStart": days,
        "ChargePeriodEnd": days,
        "ServiceName": pa.array(services, pa.string()),
        "ResourceId": pa.array(resources, pa.string()),
        "BilledCost": cost,
        "EffectiveCost": cost,
        "BillingCurrency": pa.array(np.full(BULK_ROWS, "USD", dtype=object), pa.string()),
    }
    table = source_table(columns, BULK_ROWS)
    return with_row_identity(table, datasource_id="bds_bulk", billing_period=month, partition_id=partition_id)


@pytest.fixture
def tenant(sessions, settings) -> tuple[str, DataStore]:
    """A tenant with the five partitions drawn above and the api_calls metric; its id and data store."""
    store = DataStore.local(settings.data_dir)
    costs = CostStore(store)
    with sessions.begin() as session:
        tenant_row, _token = create_tenant(session, "Tenant A")
        tenant_id = tenant_row.id
        for datasource in ("bds_aws", "bds_ai", "bds_bulk"):
            session.add(
                BillingDatasource(
                    id=datasource, tenant_id=tenant_id, name=datasource, bucket_name="b", prefix="", role_arn="arn:r"
                )
            )
        session.add(
            MetricsDatasource(
                id="mds_usage", tenant_id=tenant_id, name="usage", bucket_name="b", prefix="", role_arn="arn:r"
            )
        )
        session.add(
            MetricDefinition(
                datasource_id="mds_usage", position=0, metric_name="api_calls", gap_filling="ZERO",
                aggregation="SUM", value_column="calls", date_column="date", dimensions=["team"],
            )
        )  # fmt: skip
        session.flush()  # the datasources before their values
        for day, team, calls in (
            (date(2026, 10, 30), "web", 2.0),
            (date(2026, 10, 30), "ml", 1.0),
            (date(2026, 11, 2), "web", 1.0),
            (date(2026, 11, 2), "ml", 1.0),
            (date(2026, 11, 2), "data", 1.0),
        ):
            session.add(
                MetricValue(
                    datasource_id="mds_usage", metric_name="api_calls", day=day, dimensions={"team": team},
                    value=calls, row_count=1,
                )
            )  # fmt: skip
        session.flush()
        october = _hand_rows(
            1, "bds_aws", "2026-10",
            ("2026-10-30", "Amazon EC2", "i-1", "100.00"),
            ("2026-10-30", "AWS Lambda", "team-web-fn", "12.34"),
            ("2026-10-30", "Amazon S3", "bucket", "10.01"),
            ("2026-10-30", "API Gateway", "gw", "30.00"),
        )  # fmt: skip
        november = _hand_rows(
            2, "bds_aws", "2026-11",
            ("2026-11-02", "Amazon EC2", "i-2", "0.99"),
            ("2026-11-02", "CloudWatch", "team-ml-x", "7.50"),
            ("2026-11-02", "Amazon S3", "bucket", "0.10"),
            ("2026-11-02", "API Gateway", "gw", "10.00"),
            ("2026-11-02", "AWS Support", None, "5.00"),
        )  # fmt: skip
        claude = _hand_rows(
            3, "bds_ai", "2026-11",
            ("2026-11-03", "Claude", "team-data-k", "2.22"),
            ("2026-11-03", "Claude", "svc-key", "1.11"),
            ("2026-11-03", "API Gateway", "gw", "4.00"),
        )  # fmt: skip
        costs.record_month(session, tenant_id, "bds_aws", "2026-10", october)
        costs.record_month(session, tenant_id, "bds_aws", "2026-11", november)
        costs.record_month(session, tenant_id, "bds_ai", "2026-11", claude)
        costs.record_month(session, tenant_id, "bds_bulk", "2026-08", _bulk_rows(4, "2026-08"))
        costs.record_month(session, tenant_id, "bds_bulk", "2026-09", _bulk_rows(5, "2026-09"))
    return tenant_id, store


def _parts(store: DataStore, computed: compute.Computed) -> list[pa.Table]:
    keys = compute.ResultKeys(computed.folder).parts(store)
    return [store.read_table(key) for key in keys]


# -- the tests ---------------------------------------------------------------------------------------------


class TestTheRayEngineEqualsTheLocalOne:
    def test_every_part_and_the_summary(self, ray_address, tenant, sessions):
        tenant_id, store = tenant
        local, distributed = Engine(store, run_here), Engine(store, ray_runner(ray_address, in_flight=2))

        with sessions.begin() as session:
            here = compute.run_allocation(
                session, local, tenant_id, DIMENSION, CALLS, into=compute.new_result_folder("dim_local")
            )
            there = compute.run_allocation(
                session, distributed, tenant_id, DIMENSION, CALLS, into=compute.new_result_folder("dim_ray")
            )

        assert here is not None and there is not None
        assert here.folder != there.folder
        here_parts, there_parts = _parts(store, here), _parts(store, there)
        assert len(here_parts) == len(there_parts) == 5  # one per cost partition, in the same order
        for mine, theirs in zip(here_parts, there_parts, strict=True):
            assert theirs.equals(mine)  # row_id, value, amount, rule, day: identical
        assert there.summary.equals(here.summary)
        assert (there.warnings, there.cost_rows) == (here.warnings, here.cost_rows) == ([NO_CALLS], 12 + 2 * BULK_ROWS)
        assert there.totals().total == here.totals().total == Decimal("183.27") + 2 * Decimal("248253.00")
        amounts = pa.concat_tables(there_parts).column("amount")
        assert pc.sum(amounts).as_py() == Decimal("496689.27")

    def test_hand_worked_totals_within_a_window(self, ray_address, tenant, sessions):
        tenant_id, store = tenant
        window = (date(2026, 10, 1), date(2026, 12, 1))  # the hand-drawn partitions' rows only

        with sessions.begin() as session:
            here = compute.run_allocation(session, Engine(store, run_here), tenant_id, DIMENSION, CALLS, window)
            there = compute.run_allocation(
                session, Engine(store, ray_runner(ray_address)), tenant_id, DIMENSION, CALLS, window
            )

        assert here is not None and there is not None
        assert there.summary.equals(here.summary)
        totals = there.totals()
        assert (totals.by_value, totals.total, totals.cost_rows) == (HAND_TOTALS, Decimal("183.27"), 12)
        assert there.folder is None and there.warnings == [NO_CALLS]


class TestFailures:
    def test_no_address_is_refused_at_first_use_saying_what_to_set(self, tenant):
        _tenant_id, store = tenant
        runner = ray_runner(None)  # building it connects to nothing

        with pytest.raises(FailedPrecondition) as error:
            runner(_kernel(store), [PartJob("costs/any.parquet", None)])

        assert str(error.value) == (
            "COSTORY_ENGINE is ray but no cluster is named: set COSTORY_RAY_ADDRESS to the Ray cluster "
            "(ray://head:10001, or auto on one of its nodes), or set COSTORY_ENGINE=local."
        )

    def test_a_partition_that_cannot_be_read_is_named(self, ray_address, tenant, sessions):
        tenant_id, store = tenant
        with sessions.begin() as session:
            keys = CostStore(store).partition_keys(session, tenant_id)
        missing = f"costs/{tenant_id}/bds_aws/2026-12.999.parquet"
        jobs = [PartJob(key, None) for key in (keys[0], missing, keys[1])]

        with pytest.raises(PartitionFailed) as error:
            ray_runner(ray_address, in_flight=1)(_kernel(store), jobs)

        message = str(error.value)
        assert message.startswith(f"cost partition {missing} could not be computed: FileNotFoundError: ")
        assert error.value.cost_key == missing
        assert "Traceback" not in message and "RayTaskError" not in message

    def test_an_allocation_error_is_the_local_engines_and_leaves_no_results(self, ray_address, tenant, sessions):
        # the gateway rule without its usage table: the kernel refuses every partition
        tenant_id, store = tenant
        errors = []
        for runner in (run_here, ray_runner(ray_address)):
            with sessions.begin() as session, pytest.raises(AllocationError) as error:
                compute.run_allocation(
                    session, Engine(store, runner), tenant_id, DIMENSION, {}, into=compute.new_result_folder("dim")
                )
            errors.append((type(error.value), str(error.value)))

        assert errors[0] == errors[1]
        assert "gateway" in errors[1][1]
        assert store.list(compute.tenant_folder(tenant_id)) == []  # the failed folders went, every part with them


def _kernel(store: DataStore) -> compute.Kernel:
    """The kernel of the dimension's rules that need no usage."""
    without_usage = VirtualDimension("team", DIMENSION.rules[:3])
    return functools.partial(compute.allocate_part, store, without_usage, {}, None)
