"""Metric import throughput and memory, against moto on loopback; writes docs/benchmarks/import.md.

A 1M-row metric file (date, team, region, api_call_count; 64k-row row groups) is uploaded to the
emulator. In the same run, each in a fresh process so peak RSS is its own:
  - plain read: `pyarrow.parquet.read_table` of the needed columns through pyarrow's S3 filesystem;
  - DuckDB: the same file (pyarrow's S3 filesystem, as a dataset DuckDB scans) summed and counted per
    day, team and region, a second baseline doing the aggregation too;
  - import: `import_datasource` (stream row groups, validate, aggregate per day and dimensions, load
    into SQLite with the last-file-wins rule);
and all three again on a 4M-row file with the same row-group size: if memory is bounded by row-group
size, not file size, the import's peak RSS stays close to the 1M-row one. Each worker's time starts once
its modules are imported and includes what their first use costs (pyarrow's S3 client start for the
baselines; the boto3 client for the import). The import worker first loads the server's modules, as the
server process that runs scheduled imports has them (pandas among them: without it, pyarrow's first
Python-to-Arrow conversion imports it, ~0.3 s charged to whatever converts first); its memory is measured
over a baseline that loads them too.

    make bench     # or: .venv/bin/python bench/import_bench.py
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BUCKET = "bench-metrics"
ROW_GROUP = 65_536
CREDENTIALS = {"access_key": "testing", "secret_key": "testing"}


def filesystem(endpoint: str) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        region="us-east-1", endpoint_override=endpoint.removeprefix("http://"), scheme="http", **CREDENTIALS
    )


def make_file(endpoint: str, key: str, rows: int) -> None:
    rng = np.random.default_rng(7)
    start = np.datetime64("2025-01-01")
    writer: pq.ParquetWriter | None = None
    with filesystem(endpoint).open_output_stream(f"{BUCKET}/{key}") as sink:
        for offset in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - offset)
            table = pa.table(
                {
                    "date": pa.array(start + rng.integers(0, 365, n).astype("timedelta64[D]"), pa.date32()),
                    "team": pa.array(np.char.add("team_", rng.integers(0, 20, n).astype(str))),
                    "region": pa.array(np.char.add("region_", rng.integers(0, 5, n).astype(str))),
                    "api_call_count": pa.array(rng.integers(0, 1000, n), pa.int64()),
                }
            )
            writer = writer or pq.ParquetWriter(sink, table.schema)
            writer.write_table(table, row_group_size=ROW_GROUP)
        if writer is not None:
            writer.close()


def worker(kind: str, endpoint: str, key: str, workdir: Path) -> dict:
    started = time.perf_counter()
    if kind == "baseline":  # pyarrow loaded and the file's footer read: what every baseline worker pays
        with filesystem(endpoint).open_input_file(f"{BUCKET}/{key}") as source:
            rows = pq.ParquetFile(source).metadata.num_rows
    elif kind == "baseline-server":  # the same in the process imports run in: the server's modules loaded
        import control_plane.server

        with filesystem(endpoint).open_input_file(f"{BUCKET}/{key}") as source:
            rows = pq.ParquetFile(source).metadata.num_rows
    elif kind == "plain":
        with filesystem(endpoint).open_input_file(f"{BUCKET}/{key}") as source:
            rows = pq.read_table(source, columns=["date", "team", "region", "api_call_count"]).num_rows
    elif kind == "duckdb":
        import duckdb
        import pyarrow.dataset as pads

        started = time.perf_counter()
        dataset = pads.dataset(f"{BUCKET}/{key}", filesystem=filesystem(endpoint), format="parquet")
        connection = duckdb.connect()
        connection.register("usage", dataset)
        grouped = connection.execute(
            "SELECT sum(n) FROM (SELECT date, team, region, sum(api_call_count) AS s, count(*) AS n "
            "FROM usage GROUP BY ALL)"
        )
        rows = int(grouped.fetchone()[0])  # type: ignore[index]
    else:
        # Imports run in the server process (gRPC, REST and the import scheduler), so its modules are loaded:
        # pandas among them, which pyarrow imports on its first Python-to-Arrow conversion otherwise.
        import control_plane.server  # noqa: F401
        from control_plane.db import create_engine, create_sessionmaker, migrate
        from control_plane.metrics.importer import import_datasource
        from control_plane.models import MetricDefinition, MetricsDatasource, Tenant
        from control_plane.storage import AwsCredentials, S3ObjectStore

        prefix = key.rsplit("/", 1)[0] + "/"
        url = f"sqlite:///{workdir / f'{prefix.strip(chr(47))}-{time.time_ns()}.db'}"
        migrate(url)
        sessions = create_sessionmaker(create_engine(url))
        with sessions.begin() as session:
            session.add(
                Tenant(id="ten_b", name="b", token_hash="x", service_account_email="b@x", google_subject_id="1")
            )
            session.add(
                MetricsDatasource(
                    id="mds_b",
                    tenant_id="ten_b",
                    name="bench",
                    bucket_name=BUCKET,
                    prefix=prefix,
                    role_arn="arn:aws:iam::1:role/r",
                    metrics_definition=[
                        MetricDefinition(
                            position=0,
                            metric_name="api_call_count",
                            gap_filling="ZERO",
                            aggregation="SUM",
                            value_column="api_call_count",
                            date_column="date",
                            dimensions=["team", "region"],
                        )
                    ],
                )
            )
        store = S3ObjectStore(
            BUCKET,
            prefix,
            credentials=AwsCredentials("testing", "testing"),
            region="us-east-1",
            endpoint_url=endpoint,
        )
        started = time.perf_counter()
        summary = import_datasource(
            sessions, "mds_b", store, trigger="MANUAL", owner="bench", now=lambda: datetime.now(UTC)
        )
        assert summary.files_imported == 1, summary
        rows = pq.ParquetFile(filesystem(endpoint).open_input_file(f"{BUCKET}/{key}")).metadata.num_rows
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "peak_rss_mib": peak_rss_mib()}


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that over from the parent
    across fork and exec, so every worker would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(kind: str, endpoint: str, key: str, workdir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--endpoint", endpoint, "--key", key, "--workdir", str(workdir)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker")
    parser.add_argument("--endpoint")
    parser.add_argument("--key")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks" / "import.md")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.endpoint, args.key, args.workdir)))
        return

    import boto3

    from bench import machine
    from devtools.local import start_moto

    with tempfile.TemporaryDirectory() as raw:
        workdir = Path(raw)
        moto = start_moto(workdir)
        try:
            boto3.client(
                "s3", endpoint_url=moto.endpoint, region_name="us-east-1",
                aws_access_key_id="testing", aws_secret_access_key="testing",
            ).create_bucket(Bucket=BUCKET)  # fmt: skip
            make_file(moto.endpoint, "m1/usage.parquet", 1_000_000)
            make_file(moto.endpoint, "m4/usage.parquet", 4_000_000)
            results: dict[str, list[dict]] = {}
            for kind in ("baseline", "baseline-server"):
                results[kind] = [run_worker(kind, moto.endpoint, "m1/usage.parquet", workdir)]
            for _ in range(args.runs):
                for size, key in (("1m", "m1/usage.parquet"), ("4m", "m4/usage.parquet")):
                    for kind in ("plain", "duckdb", "import"):
                        results.setdefault(f"{kind}-{size}", []).append(run_worker(kind, moto.endpoint, key, workdir))
        finally:
            moto.stop()

    def best(kind: str) -> dict:
        return min(results[kind], key=lambda r: r["seconds"])

    baselines = {"plain": best("baseline"), "duckdb": best("baseline"), "import": best("baseline-server")}

    def ratio(kind: str, size: str) -> float:
        imported, other = best(f"import-{size}"), best(f"{kind}-{size}")
        return (imported["rows"] / imported["seconds"]) / (other["rows"] / other["seconds"])

    names = {
        "plain": "plain `pq.read_table` (4 columns)",
        "duckdb": "DuckDB: read, sum and count per day, team, region",
        "import": "import (validate, aggregate, load)",
    }
    rows = [
        f"| {names[kind]} | {r['rows']:,} | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} "
        f"| {r['peak_rss_mib']:.0f} MiB | +{r['peak_rss_mib'] - baselines[kind]['peak_rss_mib']:.0f} MiB |"
        for size in ("1m", "4m")
        for kind in ("plain", "duckdb", "import")
        for r in (best(f"{kind}-{size}"),)
    ]
    growth = best("import-4m")["peak_rss_mib"] - best("import-1m")["peak_rss_mib"]
    lines = [
        "# Benchmarks: metric import",
        "",
        "Produced by `make bench` (`bench/import_bench.py`): best of "
        f"{args.runs} runs, each in a fresh process; files served by moto on loopback; 64k-row row groups.",
        "",
        f"Machine: {machine('pyarrow', 'duckdb')}.",
        "",
        "| measurement | rows | seconds | rows/s | peak RSS | over baseline |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| baseline: pyarrow loaded, footer read | | | | {baselines['plain']['peak_rss_mib']:.0f} MiB | |",
        "| baseline for the import: the server's modules loaded, footer read | | | | "
        f"{baselines['import']['peak_rss_mib']:.0f} MiB | |",
        *rows,
        "",
        f"Import throughput over the plain read's rows/s: **{ratio('plain', '1m'):.2f}x** at 1M rows, "
        f"**{ratio('plain', '4m'):.2f}x** at 4M rows (target ≥ 0.5x); over DuckDB's: {ratio('duckdb', '1m'):.2f}x "
        f"and {ratio('duckdb', '4m'):.2f}x. The 4M-row import peaks {growth:+.0f} MiB from the 1M-row one: memory "
        "follows the row-group size and the aggregated result (days × dimension values), not the file size; the "
        "plain read materialises the whole table.",
        "",
        "Imports run in the server process (gRPC, REST and the scheduler), so the import worker loads the server's "
        "modules before its clock starts, pandas among them. A bare process pays about 0.3 s more: pyarrow imports "
        "pandas on its first Python-to-Arrow conversion, which the import makes and a plain read does not.",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
