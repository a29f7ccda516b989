"""REST read latency and throughput of a real `serve` process; writes docs/benchmarks/rest.md.

Setup (not timed): a database (SQLite file, or with `--postgres` a throwaway PostgreSQL cluster on loopback), a
tenant and its token from the CLI, a month of synthetic AWS cost rows written as partitions with the importer's
own `StagedPartition` and recorded as its `load` records them (a `BillingDatasource`, a `PartitionId`, a
`BillingPeriod`), then `costory-control-plane serve` in its own process and a virtual dimension created over
gRPC (which computes its allocation). Then a load generator, in another process (asyncio, plain HTTP/1.1 with
keep-alive connections), alternates
`GET /v1/virtual-dimensions/{id}/allocation` and a dimension x day `POST /v1/costs:query`:
  - open loop: requests sent on a wall-clock schedule at `--rate` per second for `--duration` seconds, each
    request's latency measured from its scheduled time (so a server that stalls cannot hide the queue it causes);
  - closed loop: `--clients` clients each sending its next request when the previous one is answered.

    .venv/bin/python bench/rest_bench.py                      # 1M rows, SQLite
    .venv/bin/python bench/rest_bench.py --rows 50000000      # the figures in the docs
    .venv/bin/python bench/rest_bench.py --postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import machine  # noqa: E402

CLI = [sys.executable, "-m", "control_plane"]
"""`costory-control-plane` of this checkout (run with PYTHONPATH set to it, so a copy of an older version can be
measured with the same script)."""
MONTH = "2026-10"
DAYS = 31
BATCH_ROWS = 1_000_000
SERVICES = [f"Service{i:02d}" for i in range(60)]
ACCOUNTS = [f"{100000000000 + 7919 * i}" for i in range(40)]
REGIONS = [f"region-{i:02d}" for i in range(20)]
RESOURCES = 50_000
DIMENSION = {
    "name": "team",
    "rules": [
        {
            "name": "platform",
            "conditions": [{"column": "ServiceName", "operator": "IN", "values": SERVICES[:10]}],
            "value": "platform",
        },
        {
            "name": "gateway",
            "conditions": [{"column": "ServiceName", "operator": "EQUALS", "values": [SERVICES[-1]]}],
            "split_percent": {"team-a": 60.0, "team-b": 40.0},
        },
        {"name": "by-account", "conditions": [], "from_column": {"column": "SubAccountId"}},
    ],
}


def query_body(dimension_id: str) -> dict:
    """The dimension x day query (the dimension's summary answers it); 50 rows a page, as the figures used."""
    days = {"start_date": f"{MONTH}-01", "end_date": f"{MONTH}-{DAYS}", "granularity": "DAY"}
    return {"query": {**days, "group_by": [f"dimension:{dimension_id}"]}, "page_size": 50}


# --- setup ------------------------------------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"`costory-control-plane {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.stdout


def cost_batch(first: int, rows: int, datasource_id: str, partition_id: int, seed: int):
    """``rows`` COST_SCHEMA rows of the month (independent columns), numbered from ``first``."""
    import numpy as np
    import pyarrow as pa

    from control_plane.billing.schema import COST_SCHEMA, MONEY, TIMESTAMP

    rng = np.random.default_rng(seed)
    start = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp()) * 1_000_000
    hour = rng.integers(0, DAYS * 24, rows, dtype=np.int64)
    starts = pa.array(start + hour * 3_600_000_000, TIMESTAMP)
    ends = pa.array(start + (hour + 1) * 3_600_000_000, TIMESTAMP)
    # cents in [1, 10000) as decimal128(28, 12): the 128-bit integer is cents * 10**10 (little-endian words)
    raw = rng.integers(1, 10_000, rows, dtype=np.int64) * 10**10
    words = np.empty(2 * rows, dtype=np.int64)
    words[0::2], words[1::2] = raw, 0
    cost = pa.Array.from_buffers(MONEY, rows, [None, pa.py_buffer(words.tobytes())])

    def pick(values: list[str]) -> pa.Array:
        return pa.DictionaryArray.from_arrays(
            pa.array(rng.integers(0, len(values), rows, dtype=np.int32)), pa.array(values)
        ).cast(pa.string())

    resource = rng.integers(0, RESOURCES, rows)
    columns: dict[str, Any] = {
        "ChargePeriodStart": starts,
        "ChargePeriodEnd": ends,
        "BillingPeriodStart": pa.array(np.full(rows, start), TIMESTAMP),
        "BilledCost": cost,
        "EffectiveCost": cost,
        "BillingCurrency": pa.array(np.full(rows, "USD", dtype=object), pa.string()),
        "Provider": pa.array(np.full(rows, "AWS", dtype=object), pa.string()),
        "ServiceName": pick(SERVICES),
        "ChargeCategory": pa.array(np.full(rows, "Usage", dtype=object), pa.string()),
        "SubAccountId": pick(ACCOUNTS),
        "RegionId": pick(REGIONS),
        "ResourceId": pa.DictionaryArray.from_arrays(
            pa.array(resource.astype(np.int32)), pa.array([f"i-{i:08x}" for i in range(RESOURCES)])
        ).cast(pa.string()),
        "x_DatasourceId": pa.array(np.full(rows, datasource_id, dtype=object), pa.string()),
        "x_BillingPeriod": pa.array(np.full(rows, MONTH, dtype=object), pa.string()),
        "x_RowId": pa.array((partition_id << 32) + np.arange(first, first + rows, dtype=np.int64)),
    }
    arrays = [columns.get(f.name, pa.nulls(rows, f.type)) for f in COST_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=COST_SCHEMA)


def tenant_named(database_url: str, name: str) -> str:
    import sqlalchemy as sa

    from control_plane.db import create_engine
    from control_plane.models import Tenant

    engine = create_engine(database_url)
    with engine.connect() as connection:
        tenant_id = connection.scalar(sa.select(Tenant.id).where(Tenant.name == name))
    engine.dispose()
    return str(tenant_id)


def write_costs(database_url: str, data_dir: Path, tenant_id: str, rows: int) -> str:
    """A billing datasource holding ``rows`` cost rows of the month, written in batches under a new partition id
    and recorded as an import records a month (``CostStore.record_month`` does the same for one table)."""
    from control_plane.billing.schema import COST_SCHEMA
    from control_plane.billing.store import ROW_GROUP_SIZE, CostStore
    from control_plane.db import create_engine, create_sessionmaker
    from control_plane.models import BillingDatasource, BillingPeriod

    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    datasource_id = f"bds_{uuid.uuid4().hex}"
    store = CostStore(data_dir)
    if not hasattr(store, "new_partition_id"):  # the store before partition keys (for figures of that version)
        return _write_costs_by_month(sessions, store, tenant_id, datasource_id, rows)
    with sessions.begin() as session:
        session.add(
            BillingDatasource(
                id=datasource_id,
                tenant_id=tenant_id,
                name="bench",
                bucket_name="bench",
                prefix="cur/",
                role_arn="arn:aws:iam::123456789012:role/bench",
                status="SUCCEEDED",
            )
        )
        partition_id = store.new_partition_id(session)
        key = store.key(tenant_id, datasource_id, MONTH, partition_id)
        billed = 0
        with store.store.parquet_writer(key, COST_SCHEMA) as writer:
            for first in range(0, rows, BATCH_ROWS):
                batch = cost_batch(first, min(BATCH_ROWS, rows - first), datasource_id, partition_id, seed=first)
                billed += pc_sum(batch)
                writer.write_table(batch, row_group_size=ROW_GROUP_SIZE)
        session.add(
            BillingPeriod(
                datasource_id=datasource_id,
                billing_period=MONTH,
                partition_id=partition_id,
                fingerprint=f"bench@{rows}",
                rows=rows,
                billed_cost=f"{billed:f}",
            )
        )
    engine.dispose()
    return datasource_id


def _write_costs_by_month(sessions: Any, store: Any, tenant_id: str, datasource_id: str, rows: int) -> str:
    from control_plane.billing.importer import StagedPartition
    from control_plane.models import BillingDatasource, BillingPeriod, PartitionId

    with sessions.begin() as session:
        session.add(
            BillingDatasource(
                id=datasource_id,
                tenant_id=tenant_id,
                name="bench",
                bucket_name="bench",
                prefix="cur/",
                role_arn="arn:aws:iam::123456789012:role/bench",
                status="SUCCEEDED",
            )
        )
        partition = PartitionId()
        session.add(partition)
        session.flush()
        partition_id = partition.id
    staged = StagedPartition(
        store.staging_path(tenant_id, datasource_id, MONTH, partition_id),
        store.month_path(tenant_id, datasource_id, MONTH),
        MONTH,
        partition_id,
        fingerprint=f"bench@{rows}",
    )
    for first in range(0, rows, BATCH_ROWS):
        staged.write(cost_batch(first, min(BATCH_ROWS, rows - first), datasource_id, partition_id, seed=first))
    staged.close()
    with sessions.begin() as session:
        session.add(
            BillingPeriod(
                datasource_id=datasource_id,
                billing_period=MONTH,
                partition_id=partition_id,
                fingerprint=staged.fingerprint,
                rows=staged.rows,
                billed_cost=f"{staged.billed:f}",
            )
        )
    staged.publish()
    sessions.kw["bind"].dispose()
    return datasource_id


def pc_sum(table: Any) -> Any:
    import pyarrow.compute as pc

    return pc.sum(table.column("BilledCost")).as_py()


def free_port() -> int:
    import socket

    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(env: dict[str, str], http_port: int, log: Path) -> subprocess.Popen[bytes]:
    import httpx

    process = subprocess.Popen([*CLI, "serve"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"serve exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{http_port}/openapi.json", timeout=1).raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("serve did not answer within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(30)


def create_dimension(grpc_port: int, token: str) -> tuple[str, float]:
    import grpc
    from google.protobuf.json_format import ParseDict

    from costory_proto.costory.v1 import virtual_dimension_pb2 as pb
    from costory_proto.costory.v1 import virtual_dimension_pb2_grpc

    request = ParseDict({"virtual_dimension": DIMENSION}, pb.CreateVirtualDimensionRequest())
    started = time.perf_counter()
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = virtual_dimension_pb2_grpc.VirtualDimensionServiceStub(channel)
        created = stub.CreateVirtualDimension(request, metadata=[("authorization", f"Bearer {token}")], timeout=3600)
    if created.status != "COMPUTED":
        raise SystemExit(f"the dimension was not computed: {created.status} {created.status_message}")
    return created.id, time.perf_counter() - started


# --- load ---------------------------------------------------------------------------------------------------------


class Client:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams: a load generator must cost far less per request
    than the server it measures (httpx costs ~4 ms of CPU per request, more than the server's reads here)."""

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self.headers = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        """Send one request on an idle connection (or a new one); the response's status once its body is read. A
        kept-alive connection the server closed meanwhile is replaced once, as HTTP clients do."""
        if self.idle:
            reader, writer = self.idle.pop()
            status = await self._exchange(reader, writer, method, path, body)
            if status is not None:
                return status
        reader, writer = await asyncio.open_connection(self.host, self.port)
        status = await self._exchange(reader, writer, method, path, body)
        if status is None:
            raise ConnectionResetError("the server closed the connection without answering")
        return status

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str, body: bytes
    ) -> int | None:
        head = f"{method} {path} HTTP/1.1\r\n{self.headers}"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            writer.write(head.encode() + b"\r\n" + body)
            status_line = await reader.readline()
            if not status_line:
                writer.close()
                return None
            length, keep = 0, True
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    keep = False
            await reader.readexactly(length)
            status = int(status_line.split()[1])
        except ConnectionResetError:
            writer.close()
            return None
        except BaseException:
            writer.close()
            raise
        if keep:
            self.idle.append((reader, writer))
        else:
            writer.close()
        return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


class Load:
    """The two reads, alternated, against one server; every outcome recorded."""

    def __init__(self, base: str, token: str, dimension_id: str, reads: str = "allocation"):
        host, _, port = base.removeprefix("http://").partition(":")
        self.client = Client(host, int(port), token)
        self.allocation = f"/v1/virtual-dimensions/{dimension_id}/allocation"
        self.dimension = f"/v1/virtual-dimensions/{dimension_id}"
        self.query = json.dumps(query_body(dimension_id)).encode()
        self.reads = reads
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()

    async def one(self, index: int, since: float) -> None:
        """Request number ``index``; its latency counts from ``since`` (its scheduled time in the open loop)."""
        try:
            if self.reads == "edge":  # what serving costs around a route: two small reads of the database
                status = await self.client.request("GET", self.dimension if index % 2 else "/v1/virtual-dimensions")
            elif index % 2:
                status = await self.client.request("POST", "/v1/costs:query", self.query)
            else:
                status = await self.client.request("GET", self.allocation)
            outcome = str(status)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as error:
            outcome = type(error).__name__
        self.latencies.append(time.perf_counter() - since)
        self.statuses[outcome] += 1

    async def open_loop(self, rate: float, duration: float) -> float:
        count = int(rate * duration)
        tasks = []
        start = time.perf_counter() + 0.1
        for index in range(count):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(index, scheduled)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - start

    async def closed_loop(self, clients: int, duration: float) -> float:
        start = time.perf_counter()
        deadline = start + duration

        async def client(number: int) -> None:
            index = number
            while time.perf_counter() < deadline:
                await self.one(index, time.perf_counter())
                index += clients

        await asyncio.gather(*(client(n) for n in range(clients)))
        return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


async def run_load(args: argparse.Namespace) -> dict[str, Any]:
    load = Load(args.url, args.token, args.dimension_id, args.reads)
    for index in range(20):  # warm connections and caches
        await load.one(index, time.perf_counter())
    load.latencies.clear()
    load.statuses.clear()
    if args.mode == "open":
        elapsed = await load.open_loop(args.rate, args.duration)
    else:
        elapsed = await load.closed_loop(args.clients, args.duration)
    load.client.close()
    done = len(load.latencies)
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "client_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "mode": args.mode,
        "requests": done,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(done / elapsed, 1),
        "statuses": dict(load.statuses),
        "errors": done - load.statuses["200"],
        "p50_ms": round(1000 * percentile(load.latencies, 0.50), 1),
        "p99_ms": round(1000 * percentile(load.latencies, 0.99), 1),
        "max_ms": round(1000 * max(load.latencies), 1),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of process ``pid`` and its children (the REST processes `serve` starts)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def load_process(
    url: str, token: str, dimension_id: str, mode: str, args: argparse.Namespace, server: int
) -> dict[str, Any]:
    """The load generator in a process of its own (its CPU is not the server's interpreter); the result says
    how much CPU the server used meanwhile."""
    command = [
        sys.executable,
        __file__,
        "load",
        "--url",
        url,
        "--dimension-id",
        dimension_id,
        "--mode",
        mode,
        "--rate",
        str(args.rate),
        "--duration",
        str(args.duration),
        "--clients",
        str(args.clients),
        "--reads",
        args.reads,
    ]
    before = cpu_seconds(server)
    done = subprocess.run(
        command, input=token, capture_output=True, text=True, check=False, timeout=args.duration + 300
    )
    if done.returncode:
        raise SystemExit(f"the load generator failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["server_cpu_seconds"] = round(cpu_seconds(server) - before, 1)
    return result


# --- report -------------------------------------------------------------------------------------------------------


def verdicts(open_loop: dict[str, Any], closed: dict[str, Any]) -> list[str]:
    open_met = open_loop["p99_ms"] <= 50 and not open_loop["errors"]
    return [
        f"open loop: p99 {open_loop['p99_ms']} ms, {open_loop['errors']} errors "
        f"(target ≤ 50 ms, no errors): **{'met' if open_met else 'not met'}**",
        f"closed loop: {closed['requests_per_second']} requests/s, {closed['errors']} errors "
        f"(target ≥ 200 requests/s, no errors): "
        f"**{'met' if closed['requests_per_second'] >= 200 and not closed['errors'] else 'not met'}**",
    ]


FIGURES_START, FIGURES_END = "<!-- figures: written by bench/rest_bench.py -->", "<!-- /figures -->"


def figures(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"Machine: {machine('fastapi', 'uvicorn', 'uvloop', 'httptools', 'sqlalchemy', 'pyarrow', 'duckdb')}.",
        "",
        "| code | reads | cost rows | database | REST processes | load | requests/s | p50 ms | p99 ms | max ms "
        "| statuses | server CPU ms/request | machine load average |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        s = run["setup"]
        for name, phase in (("open", run["open"]), ("closed", run["closed"])):
            load = (
                f"open loop, {phase['requests']} requests at {phase['requests'] / phase['seconds']:.0f}/s"
                if name == "open"
                else f"closed loop, {s['clients']} clients, {phase['seconds']:.0f} s"
            )
            cpu = 1000 * phase.get("server_cpu_seconds", 0) / max(1, phase["requests"])
            lines.append(
                f"| {s.get('label', '')} | {s.get('reads', 'allocation')} | {s['rows']:,} | {s['database']} "
                f"| {s.get('rest_processes', 1)} | {load} "
                f"| {phase['requests_per_second']} | {phase['p50_ms']} | {phase['p99_ms']} | {phase['max_ms']} "
                f"| {' '.join(f'{k}: {v}' for k, v in sorted(phase['statuses'].items()))} | {cpu:.1f} "
                f"| {s.get('load_average', '')} |"
            )
    lines += ["", "Targets (issue 10), per run:", ""]
    for run in runs:
        s = run["setup"]
        if s.get("reads", "allocation") != "allocation":
            continue
        lines.append(
            f"- {s.get('label', '')}, {s['rows']:,} rows, {s['database']}, {s.get('rest_processes', 1)} "
            f"process(es): " + "; ".join(verdicts(run["open"], run["closed"]))
        )
    return lines


def write_report(path: Path, runs: list[dict[str, Any]]) -> None:
    """The figures between the markers of ``path``; the text around them (what they mean) is kept."""
    block = "\n".join([FIGURES_START, *figures(runs), FIGURES_END])
    text = path.read_text() if path.exists() else f"# REST reads under load\n\n{FIGURES_START}\n{FIGURES_END}\n"
    before, _, rest = text.partition(FIGURES_START)
    _, _, after = rest.partition(FIGURES_END)
    path.write_text(before + block + after)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rest-bench-")))
        if args.postgres:
            from tests.pg_cluster import start_postgres

            cluster = start_postgres(base / "pg")
            stack.callback(cluster.stop)
            database_url, database = cluster.create_database("bench"), "PostgreSQL"
        else:
            database_url, database = f"sqlite:///{base / 'costory.db'}", "SQLite"
        grpc_port, http_port = free_port(), free_port()
        env = {
            **os.environ,
            "COSTORY_DATABASE_URL": database_url,
            "COSTORY_DATA_DIR": str(base / "data"),
            "COSTORY_GRPC_ADDRESS": f"127.0.0.1:{grpc_port}",
            "COSTORY_HTTP_ADDRESS": f"127.0.0.1:{http_port}",
            "COSTORY_SCHEDULER_ENABLED": "false",
            "COSTORY_TRUST_VALIDATION": "skip",
            "COSTORY_LOG_LEVEL": "WARNING",
            "COSTORY_REST_PROCESSES": str(args.rest_processes),
            "PYTHONPATH": str(REPO),
        }
        cli("migrate", env=env)
        token = cli("tenants", "create", "Bench", env=env).strip()
        tenant_id = tenant_named(database_url, "Bench")
        started = time.perf_counter()
        write_costs(database_url, base / "data", tenant_id, args.rows)
        write_seconds = round(time.perf_counter() - started, 1)
        log = base / "serve.log"
        server = start_serve(env, http_port, log)
        stack.callback(stop, server)
        try:
            dimension_id, compute_seconds = create_dimension(grpc_port, token)
        except Exception:
            print(log.read_text()[-4000:], file=sys.stderr)
            raise
        url = f"http://127.0.0.1:{http_port}"
        if args.profile:
            profile = Path(args.profile).resolve()
            spy = subprocess.Popen(
                [args.py_spy, "record", "-o", str(profile), "-f", "speedscope", "-p", str(server.pid), "-t"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        load_average = round(os.getloadavg()[0], 1)  # other work on the machine when the load starts
        open_loop = load_process(url, token, dimension_id, "open", args, server.pid)
        closed = load_process(url, token, dimension_id, "closed", args, server.pid)
        if args.profile:
            spy.send_signal(2)
            spy.wait(60)
        setup = {
            "label": args.label,
            "reads": args.reads,
            "rows": args.rows,
            "rest_processes": args.rest_processes,
            "database": database,
            "clients": args.clients,
            "write_seconds": write_seconds,
            "compute_seconds": round(compute_seconds, 1),
            "load_average": load_average,
        }
        result = {"setup": setup, "open": open_loop, "closed": closed}
        print(json.dumps(result, indent=2))
        if "Traceback" in log.read_text():
            print(log.read_text()[-4000:], file=sys.stderr)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "command",
        nargs="?",
        default="bench",
        choices=["bench", "load", "report"],
        help="bench (default): set up, measure, report; report: rewrite --out from the runs in --append",
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="cost rows of the month (default 1M)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--reads",
        choices=["allocation", "edge"],
        default="allocation",
        help="allocation: the allocation state and a dimension x day query (the figures); edge: a dimension and "
        "the list of dimensions, two small database reads, to measure what serving costs around a route",
    )
    parser.add_argument("--rest-processes", type=int, default=1, help="COSTORY_REST_PROCESSES of the server")
    parser.add_argument("--rate", type=float, default=200.0, help="open loop: requests per second offered")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each load phase")
    parser.add_argument("--clients", type=int, default=50, help="closed loop: concurrent clients")
    parser.add_argument("--label", default="", help="what code was measured, for the report (e.g. `main at abc1234`)")
    parser.add_argument("--out", type=Path, help="write the report here (e.g. docs/benchmarks/rest.md)")
    parser.add_argument("--append", type=Path, help="a JSON file of earlier runs to report with this one")
    parser.add_argument("--profile", help="record the server with py-spy into this speedscope file")
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy executable")
    parser.add_argument("--url")
    parser.add_argument("--dimension-id")
    parser.add_argument("--mode", choices=["open", "closed"])
    args = parser.parse_args()
    if args.command == "load":
        args.token = sys.stdin.read().strip()
        print(json.dumps(asyncio.run(run_load(args))))
        return
    if args.command == "report":
        write_report(args.out, json.loads(args.append.read_text()))
        return
    result = bench(args)
    runs = [result]
    if args.append:
        earlier = json.loads(args.append.read_text()) if args.append.exists() else []
        runs = [*earlier, result]
        args.append.write_text(json.dumps(runs, indent=2))
    if args.out:
        write_report(args.out, runs)


if __name__ == "__main__":
    main()
